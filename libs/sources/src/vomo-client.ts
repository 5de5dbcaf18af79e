import {
  sourceSender,
  type SourceHttpClient,
  type SourceResponse,
  type SourceSend,
} from './http-client';
import { compareSourceIds, parseSourceTime } from './mapping';
import { SourceContractError } from './source-errors';
import type { VomoPage, VomoUserFilters, VomoUserResource } from './vomo-wire';

/** One customer's (VOMO organization's) token. */
export interface VomoCredentials {
  customerId: string;
  token: string;
}

export interface VomoClientOptions {
  /** e.g. `https://api.vomo.org/v1`. */
  baseUrl: string;
  http: SourceHttpClient;
}

/** Where an updated-since iteration stands: after this user, in (updated_at, id) order. */
export interface VomoCursor {
  at: Date;
  id: string;
}

export interface VomoCursorPage {
  /** New or changed users, ordered by (updated_at, id). */
  items: VomoUserResource[];
  /** Everything up to and including this point has been yielded: checkpoint it. */
  cursor: VomoCursor;
}

/** `GET /users/{id}`: the UserResource plus details. */
export interface VomoUserDetail extends VomoUserResource {
  participations?: unknown[];
  profile_field_values?: unknown[];
}

/** `POST /users` body: an upsert matched on email, case-insensitively (source-apis.md 4). */
export interface VomoUserUpsert {
  first_name: string;
  last_name: string;
  email: string;
  /** YYYY-MM-DD */
  birthday: string;
  gender: 'M' | 'F' | 'N';
  phone?: string;
  password?: string;
  org?: string;
  invite_code?: string;
  role?: 'VOLUNTEER' | 'ORGANIZER' | 'ADMIN';
}

export interface VomoUpsertResult {
  /** 201 created, 200 updated. */
  created: boolean;
  user: VomoUserDetail;
}

interface Key {
  atMs: number;
  id: string;
}

const compareKeys = (a: Key, b: Key): number =>
  a.atMs !== b.atMs ? a.atMs - b.atMs : compareSourceIds(a.id, b.id);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function keyOf(user: VomoUserResource): Key | null {
  const at = parseSourceTime(user.updated_at);
  const id = typeof user.id === 'number' || typeof user.id === 'string' ? String(user.id) : '';
  return at && id !== '' ? { atMs: at.getTime(), id } : null;
}

/** VOMO's filters take whole seconds: 2026-11-19T10:00:04Z. */
const isoSeconds = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

type Keyed = { user: VomoUserResource; key: Key | null };

function sortByKey(entries: Keyed[]): Keyed[] {
  return [...entries].sort((a, b) =>
    a.key && b.key ? compareKeys(a.key, b.key) : a.key ? 1 : b.key ? -1 : 0,
  );
}

function maxKey(entries: Keyed[], floor: Key | null): Key | null {
  return entries.reduce<Key | null>(
    (max, { key }) => (key && (!max || compareKeys(key, max) > 0) ? key : max),
    floor,
  );
}

/**
 * The VOMO users API, per-customer credentials on every call, requests through SourceHttpClient
 * (rate budget, retries, error classes).
 */
export class VomoClient {
  private readonly baseUrl: string;
  private readonly send: SourceSend;

  constructor(options: VomoClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.send = sourceSender(options.http, 'vomo', this.baseUrl);
  }

  /** `GET /users` with filters (ANDed); the page size is VOMO's. */
  async listUsers(
    creds: VomoCredentials,
    filters: VomoUserFilters = {},
    signal?: AbortSignal,
  ): Promise<VomoPage<VomoUserResource>> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(filters)) {
      if (value !== undefined && value !== null) {
        params.set(name, String(value));
      }
    }
    const query = params.toString();
    return this.fetchPage(creds, query === '' ? '/users' : `/users?${query}`, signal);
  }

  /**
   * Users changed after `after`, in (updated_at, id) order, resumable from any yielded cursor.
   *
   * VOMO's `updated_after` is strict with whole seconds, and its page size is fixed, so each
   * pass queries `updated_after = at - 1 s` (an inclusive overlap), drops users at or before the
   * cursor, and yields the rest sorted; after yielding it restarts from page 1 with the new
   * cursor (offset pages shift while users change; page 1 of a fresh query does not skip).
   * A page with nothing new is passed over via `links.next`. Users of the page's last second
   * are held back while more pages follow, since that second may continue on the next page;
   * when only that second is new, its users are collected across the following pages and
   * yielded together, so ties wider than a page are neither skipped nor looped over.
   *
   * Relies on VOMO listing users in ascending `updated_at` order (ties in any order); a page
   * out of that order throws SourceContractError rather than silently losing users.
   */
  async *streamUpdatedSince(
    creds: VomoCredentials,
    options: { after: VomoCursor | null; signal?: AbortSignal },
  ): AsyncGenerator<VomoCursorPage> {
    const { signal } = options;
    let bound: Key | null = options.after && {
      atMs: options.after.at.getTime(),
      id: options.after.id,
    };
    const filtersFor = (cursor: Key | null): Record<string, string> =>
      cursor ? { updated_after: isoSeconds(cursor.atMs - 1000) } : {};
    let filters = filtersFor(bound);
    let path = this.usersPath(filters, null);
    const visited = new Set<string>();

    for (;;) {
      visited.add(path);
      const page = await this.fetchPage(creds, path, signal);
      const next = page.links.next;
      // The order matters only when more pages follow: the last page is sorted here anyway.
      const keyed = next ? this.keyedInOrder(page, null) : this.keyed(page);
      const floor = bound;
      const fresh = keyed.filter(({ key }) => !key || !floor || compareKeys(key, floor) > 0);

      if (!next) {
        const yielded = sortByKey(fresh);
        const newest = maxKey(yielded, bound);
        if (yielded.length > 0 && newest) {
          yield {
            items: yielded.map(({ user }) => user),
            cursor: { at: new Date(newest.atMs), id: newest.id },
          };
        }
        return;
      }

      const lastKey = maxKey(keyed, null);
      if (!lastKey) {
        throw new SourceContractError('GET /users returned a page without any id and updated_at');
      }
      const complete = fresh.filter(({ key }) => !key || key.atMs < lastKey.atMs);
      let batch: Keyed[] = complete.some(({ key }) => key) ? complete : [];

      if (batch.length === 0) {
        const tie = fresh.filter(({ key }) => key?.atMs === lastKey.atMs);
        if (tie.length === 0) {
          // Nothing new on this page (the overlap, or users already yielded): walk on.
          path = this.nextPath(next, filters, visited);
          continue;
        }
        batch = [
          ...tie,
          ...(await this.collectSecond(creds, next, filters, lastKey.atMs, floor, signal)),
        ];
      }

      const sorted = sortByKey(batch);
      const newest = maxKey(sorted, null);
      if (!newest) {
        throw new SourceContractError('GET /users returned users without id and updated_at');
      }
      yield {
        items: sorted.map(({ user }) => user),
        cursor: { at: new Date(newest.atMs), id: newest.id },
      };
      bound = newest;
      filters = filtersFor(bound);
      path = this.usersPath(filters, null);
      visited.clear();
    }
  }

  /** `GET /users/{id}`; null on 404. */
  async getUser(
    creds: VomoCredentials,
    id: string | number,
    signal?: AbortSignal,
  ): Promise<VomoUserDetail | null> {
    const response = await this.send(
      creds,
      'GET',
      `/users/${encodeURIComponent(String(id))}`,
      '/users/{id}',
      { acceptStatuses: [404], signal },
    );
    if (response.status === 404) {
      return null;
    }
    return this.userFrom(response, 'GET /users/{id}');
  }

  /** `POST /users`: creates (201) or updates (200) the user with this email. */
  async upsertUser(creds: VomoCredentials, input: VomoUserUpsert): Promise<VomoUpsertResult> {
    // An upsert keyed on email: sending it twice is harmless, so it may be retried.
    const response = await this.send(creds, 'POST', '/users', '/users', {
      body: input,
      idempotent: true,
    });
    return { created: response.status === 201, user: this.userFrom(response, 'POST /users') };
  }

  /** A cheap authenticated call; resolves when the token works, else SourceAuthError. */
  async verifyToken(creds: VomoCredentials): Promise<void> {
    await this.fetchPage(creds, '/users?page=1');
  }

  /** The users of `after`'s page second on the pages from `next` on (ties wider than a page). */
  private async collectSecond(
    creds: VomoCredentials,
    next: string,
    filters: Record<string, string>,
    atMs: number,
    floor: Key | null,
    signal: AbortSignal | undefined,
  ): Promise<Keyed[]> {
    const collected: Keyed[] = [];
    const visited = new Set<string>();
    for (let link: string | null = next; link;) {
      const path = this.nextPath(link, filters, visited);
      visited.add(path);
      const page = await this.fetchPage(creds, path, signal);
      const keyed = this.keyedInOrder(page, atMs);
      collected.push(
        ...keyed.filter(({ key }) => key?.atMs === atMs && (!floor || compareKeys(key, floor) > 0)),
      );
      if (keyed.some(({ key }) => key && key.atMs > atMs)) {
        break;
      }
      link = page.links.next;
    }
    return collected;
  }

  /** The page's users with their keys, checked to be in ascending updated_at from `fromMs`. */
  private keyed(page: VomoPage<VomoUserResource>): Keyed[] {
    return page.data.map((user) => ({ user, key: keyOf(user) }));
  }

  private keyedInOrder(page: VomoPage<VomoUserResource>, fromMs: number | null): Keyed[] {
    const keyed = this.keyed(page);
    let previous = fromMs ?? -Infinity;
    for (const { key } of keyed) {
      if (key) {
        if (key.atMs < previous) {
          throw new SourceContractError(
            'GET /users did not list users in ascending updated_at order; updated_after paging needs it',
          );
        }
        previous = key.atMs;
      }
    }
    return keyed;
  }

  private usersPath(filters: Record<string, string>, page: URLSearchParams | null): string {
    const params = new URLSearchParams(page ?? undefined);
    for (const [name, value] of Object.entries(filters)) {
      params.set(name, value);
    }
    const query = params.toString();
    return query === '' ? '/users' : `/users?${query}`;
  }

  /**
   * Follows `links.next` by its query (page number), on our own base URL and with our filters
   * forced: the bearer token never goes to another host, and a next link that drops the
   * filters cannot turn an incremental read into a full one.
   */
  private nextPath(link: string, filters: Record<string, string>, visited: Set<string>): string {
    let parsed: URL;
    try {
      parsed = new URL(link, `${this.baseUrl}/`);
    } catch (error) {
      throw new SourceContractError('GET /users returned an unreadable links.next', {
        cause: error,
      });
    }
    const path = this.usersPath(filters, parsed.searchParams);
    if (visited.has(path)) {
      throw new SourceContractError('GET /users links.next points back to a page already read');
    }
    return path;
  }

  private async fetchPage(
    creds: VomoCredentials,
    path: string,
    signal?: AbortSignal,
  ): Promise<VomoPage<VomoUserResource>> {
    const response = await this.send(creds, 'GET', path, '/users', { signal });
    const body = response.body;
    if (!isObject(body) || !Array.isArray(body.data)) {
      throw new SourceContractError('GET /users did not answer with { data, links, meta }');
    }
    const links = isObject(body.links) ? body.links : {};
    const link = (value: unknown): string | null =>
      typeof value === 'string' && value !== '' && value !== 'null' ? value : null;
    return {
      data: body.data as VomoUserResource[],
      links: {
        first: link(links.first),
        last: link(links.last),
        prev: link(links.prev),
        next: link(links.next),
      },
      meta: (isObject(body.meta) ? body.meta : {}) as VomoPage<VomoUserResource>['meta'],
    };
  }

  private userFrom(response: SourceResponse, what: string): VomoUserDetail {
    const body = response.body;
    const user = isObject(body) && isObject(body.data) ? body.data : body;
    if (!isObject(user)) {
      throw new SourceContractError(`${what} did not answer with a user`);
    }
    return user as unknown as VomoUserDetail;
  }
}

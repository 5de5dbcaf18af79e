import {
  sourceSender,
  type SourceHttpClient,
  type SourceResponse,
  type SourceSend,
} from './http-client';
import { compareSourceIds, parseRecordId, parseSourceTime } from './mapping';
import {
  RAISE_MAX_TAKE,
  RAISE_MODIFIED_FIELD,
  RAISE_OPERATORS,
  RAISE_PARAMETERS,
  RAISE_PATH_SEGMENT,
  type RaiseCampaignModel,
  type RaiseCondition,
  type RaiseDonorModel,
  type RaiseGroup,
  type RaiseModelByResource,
  type RaisePage,
  type RaiseQueryBody,
  type RaiseResource,
  type RaiseWebhookLogEntryModel,
  type RaiseWebhookModel,
  type RaiseWebhookRequest,
} from './raise-wire';
import { SourceContractError } from './source-errors';

/** One customer's Raise token. */
export interface RaiseCredentials {
  customerId: string;
  token: string;
}

export interface RaiseClientOptions {
  /** e.g. `https://prod-api.raisedonors.com` (paths start with /api). */
  baseUrl: string;
  http: SourceHttpClient;
}

/** Where a modified-time iteration stands: after this record, in (modified time, id) order. */
export interface RaiseKeysetCursor {
  at: Date;
  id: string;
}

export interface RaiseOffsetPage<T> extends RaisePage<T> {
  /** The `skip` this page was read with. */
  skip: number;
}

export interface RaiseIdPage<T> extends RaisePage<T> {
  /** ID of the last item: the `afterId` to resume from. */
  lastId: string;
}

export interface RaiseKeysetPage<T> {
  /** New or changed records, ordered by (modified time, id). */
  items: T[];
  /** Everything up to and including this point has been yielded: checkpoint it. */
  cursor: RaiseKeysetCursor;
}

/** A delivery-log entry as the rest of the system uses it (IDs checked with the one ID rule). */
export interface RaiseWebhookLogEntry {
  id: string;
  webhookId: string | null;
  eventType: number;
  eventTypeDisplay: string | null;
  /** The record's ID. */
  contextId: string;
  success: boolean;
  httpStatusCode: number | null;
  /** When the attempt was made. */
  createdAt: Date;
}

/** One page of the delivery log, newest attempt first. */
export interface RaiseWebhookLogPage {
  entries: RaiseWebhookLogEntry[];
  /** Items of the page that could not be read (skipped, never guessed at). */
  malformed: number;
  /** The first few reasons, for a log line (no payload text). */
  malformedReasons: string[];
  /** Items on the page as Raise sent them, readable or not. */
  received: number;
  total: number;
  skip: number;
}

export interface RaiseWebhookLogOptions {
  /** One subscription's log (`GET /api/Webhook/{id}/log/list`); all of the org's when absent. */
  webhookId?: string | number;
  /** Entries per request, at most RAISE_MAX_TAKE. Default 100. */
  pageSize?: number;
  signal?: AbortSignal;
}

/** PATCH /api/Donor/{id}: only the fields given change (source-apis.md 1.6). */
export interface RaiseDonorPatch {
  title?: string;
  firstName?: string;
  middleName?: string;
  lastName?: string;
  suffix?: string;
  email?: string;
  phone?: string;
  notes?: string;
  isOrganization?: boolean;
  organizationName?: string;
  crmKeys?: Record<string, string>;
}

export interface RaiseStreamOptions {
  /** Items per request, at most RAISE_MAX_TAKE. Default 100. */
  pageSize?: number;
  includeDetails?: boolean;
  signal?: AbortSignal;
}

export interface RaiseIdStreamOptions extends RaiseStreamOptions {
  /** Start after this ID; null for the beginning. */
  afterId: string | number | null;
  /** Stop at this ID (inclusive). */
  toId?: string | number;
  /** ANDed with the ID range. */
  extraConditions?: RaiseCondition[];
}

export interface RaiseModifiedStreamOptions extends RaiseStreamOptions {
  /** Resume after this (modified time, id); null for everything. */
  after: RaiseKeysetCursor | null;
  /** ANDed with the keyset conditions. */
  extraConditions?: RaiseCondition[];
}

/** A position in (modified time, id) order; `value` is what the query sends for the time. */
interface Key {
  atMs: number;
  value: string;
  id: string;
}

const compareKeys = (a: Key, b: Key): number =>
  a.atMs !== b.atMs ? a.atMs - b.atMs : compareSourceIds(a.id, b.id);

const DEFAULT_PAGE_SIZE = 100;

const clampTake = (pageSize: number | undefined): number =>
  Math.max(1, Math.min(RAISE_MAX_TAKE, Math.floor(pageSize ?? DEFAULT_PAGE_SIZE)));

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function idOf(item: unknown): string | null {
  const id = isObject(item) ? item.id : undefined;
  if (typeof id === 'number' && Number.isSafeInteger(id)) {
    return String(id);
  }
  return typeof id === 'string' && id !== '' ? id : null;
}

/**
 * For cursor iterations (skip 0, the filter moves): the page is the last one when it is empty or
 * holds everything `total` counts for the query. A short page with `total` saying more (a server
 * clamping `take` below ours) is not taken as the end; each next query still makes progress.
 */
const isLastPage = (page: RaisePage<unknown>): boolean =>
  page.items.length === 0 || page.items.length >= page.total;

/**
 * The Raise API for one deployment, per-customer credentials on every call. Requests go through
 * SourceHttpClient (rate budget, retries, error classes). Iterators never use deep `skip`
 * (the docs advise ID-cursor iteration) except `streamPages`, which is plain skip/take.
 */
export class RaiseClient {
  private readonly baseUrl: string;
  private readonly send: SourceSend;

  constructor(options: RaiseClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.send = sourceSender(options.http, 'raise', this.baseUrl);
  }

  /** `POST /api/<Segment>/query`: one page. `take` is clamped to RAISE_MAX_TAKE. */
  async query<R extends RaiseResource>(
    creds: RaiseCredentials,
    resource: R,
    body: RaiseQueryBody,
    signal?: AbortSignal,
  ): Promise<RaisePage<RaiseModelByResource[R]>> {
    const route = `/api/${RAISE_PATH_SEGMENT[resource]}/query`;
    const take = body.take === undefined ? undefined : clampTake(body.take);
    const response = await this.send(creds, 'POST', route, route, {
      body: { ...body, take },
      idempotent: true,
      signal,
    });
    const page = response.body;
    if (!isObject(page) || !Array.isArray(page.items) || typeof page.total !== 'number') {
      throw new SourceContractError(`POST ${route} did not answer with { items, total }`);
    }
    return { items: page.items as RaiseModelByResource[R][], total: page.total };
  }

  /** Plain skip/take paging; stops when `skip >= total` or a page comes back short. */
  async *streamPages<R extends RaiseResource>(
    creds: RaiseCredentials,
    resource: R,
    body: RaiseQueryBody,
    options: RaiseStreamOptions = {},
  ): AsyncGenerator<RaiseOffsetPage<RaiseModelByResource[R]>> {
    const take = clampTake(options.pageSize ?? body.take);
    let skip = body.skip ?? 0;
    for (;;) {
      const query = {
        ...body,
        skip,
        take,
        includeDetails: options.includeDetails ?? body.includeDetails,
      };
      const page = await this.query(creds, resource, query, options.signal);
      if (page.items.length > 0) {
        yield { ...page, skip };
      }
      skip += page.items.length;
      if (page.items.length === 0 || page.items.length < take || skip >= page.total) {
        return;
      }
    }
  }

  /**
   * ID-cursor iteration: `id GreaterThan afterId` [AND `id LessThanOrEqual toId`], sorted by id,
   * always `skip: 0`; the next page starts after the last ID seen.
   */
  async *streamById<R extends RaiseResource>(
    creds: RaiseCredentials,
    resource: R,
    options: RaiseIdStreamOptions,
  ): AsyncGenerator<RaiseIdPage<RaiseModelByResource[R]>> {
    const take = clampTake(options.pageSize);
    let lastId = options.afterId === null ? null : String(options.afterId);
    for (;;) {
      const conditions: RaiseCondition[] = [];
      if (lastId !== null) {
        conditions.push(idCondition(RAISE_OPERATORS.greaterThan, lastId));
      }
      if (options.toId !== undefined) {
        conditions.push(idCondition(RAISE_OPERATORS.lessThanOrEqual, String(options.toId)));
      }
      conditions.push(...(options.extraConditions ?? []));
      const page = await this.query(
        creds,
        resource,
        {
          skip: 0,
          take,
          sortBy: RAISE_PARAMETERS.id,
          descending: false,
          includeDetails: options.includeDetails,
          groups: conditions.length > 0 ? [{ conditions }] : [],
        },
        options.signal,
      );
      const ids = this.ascendingIds(page.items, lastId, resource);
      const pageLastId = ids[ids.length - 1];
      if (pageLastId !== undefined) {
        lastId = pageLastId;
        yield { ...page, lastId: pageLastId };
      }
      if (isLastPage(page)) {
        return;
      }
    }
  }

  /**
   * Keyset iteration in (modified time, id) order, never a deep skip. Each query is
   * `[modifieddate GreaterThan at] OR [modifieddate Equals at AND id GreaterThan id]`, sorted by
   * modified time, `skip: 0`.
   *
   * Raise sorts by one field, so the order among records sharing a timestamp is not guaranteed.
   * Hence, on a page with more to come, the records at the page's last timestamp are held back
   * (they may continue on the next page) and read again by the next query; a page made only of
   * one timestamp is drained with `[modifieddate Equals t AND id GreaterThan …]` sorted by id.
   * Records sharing a timestamp across page boundaries are neither lost nor looped over.
   */
  async *streamModifiedSince<R extends RaiseResource>(
    creds: RaiseCredentials,
    resource: R,
    options: RaiseModifiedStreamOptions,
  ): AsyncGenerator<RaiseKeysetPage<RaiseModelByResource[R]>> {
    const take = clampTake(options.pageSize);
    const extra = options.extraConditions ?? [];
    let cursor: Key | null = options.after && {
      atMs: options.after.at.getTime(),
      value: options.after.at.toISOString(),
      id: options.after.id,
    };
    for (;;) {
      const groups: RaiseGroup[] = cursor
        ? [
            {
              conditions: [modifiedCondition(RAISE_OPERATORS.greaterThan, cursor.value), ...extra],
            },
            {
              conditions: [
                modifiedCondition(RAISE_OPERATORS.equals, cursor.value),
                idCondition(RAISE_OPERATORS.greaterThan, cursor.id),
                ...extra,
              ],
            },
          ]
        : extra.length > 0
          ? [{ conditions: extra }]
          : [];
      const page = await this.query(
        creds,
        resource,
        {
          skip: 0,
          take,
          sortBy: RAISE_PARAMETERS.modified,
          descending: false,
          includeDetails: options.includeDetails,
          groups,
        },
        options.signal,
      );
      const keyed = page.items.map((item) => ({ item, key: this.keyOf(resource, item) }));
      const keys = keyed.flatMap(({ key }) => (key ? [key] : []));
      for (let i = 1; i < keys.length; i += 1) {
        if ((keys[i]?.atMs ?? 0) < (keys[i - 1]?.atMs ?? 0)) {
          throw new SourceContractError(
            `POST /api/${RAISE_PATH_SEGMENT[resource]}/query did not sort by modified time`,
          );
        }
      }
      const after = cursor;
      const fresh = keyed.filter(({ key }) => !key || !after || compareKeys(key, after) > 0);
      const lastKey = keys[keys.length - 1];

      if (isLastPage(page)) {
        const yielded = sortByKey(fresh);
        const newest = maxKey(yielded, cursor);
        if (yielded.length > 0 && newest) {
          yield { items: yielded.map(({ item }) => item), cursor: toCursor(newest) };
        }
        return;
      }
      if (!lastKey) {
        throw new SourceContractError(
          `POST /api/${RAISE_PATH_SEGMENT[resource]}/query returned a page without any id and modified time`,
        );
      }

      if (keys.every((key) => key.atMs === lastKey.atMs)) {
        // A full page of one timestamp: read that timestamp's records in id order.
        const start = cursor && cursor.atMs === lastKey.atMs ? cursor.id : null;
        let drainedId = start;
        const drain = this.drainTimestamp(creds, resource, lastKey, start, take, options);
        for await (const drained of drain) {
          drainedId = drained.cursor.id;
          yield drained;
        }
        if (drainedId === null || drainedId === start) {
          throw new SourceContractError(
            `POST /api/${RAISE_PATH_SEGMENT[resource]}/query returned no record for a time it listed`,
          );
        }
        cursor = { ...lastKey, id: drainedId };
        continue;
      }

      // Hold back the last timestamp: more records of it may be on the next page.
      const complete = sortByKey(fresh.filter(({ key }) => !key || key.atMs < lastKey.atMs));
      const newest = maxKey(complete, null);
      if (!newest || (cursor && compareKeys(newest, cursor) <= 0)) {
        throw new SourceContractError(
          `POST /api/${RAISE_PATH_SEGMENT[resource]}/query ignored the modified-time filter`,
        );
      }
      yield { items: complete.map(({ item }) => item), cursor: toCursor(newest) };
      cursor = newest;
    }
  }

  /**
   * `GET /api/<Segment>/{id}`; null when Raise answers 404. `includeDetails` embeds the donor of
   * a gift or recurring gift, as polled records carry it.
   */
  async get<R extends RaiseResource>(
    creds: RaiseCredentials,
    resource: R,
    id: string | number,
    signal?: AbortSignal,
    options: { includeDetails?: boolean } = {},
  ): Promise<RaiseModelByResource[R] | null> {
    const segment = RAISE_PATH_SEGMENT[resource];
    const response = await this.send(
      creds,
      'GET',
      `/api/${segment}/${encodeURIComponent(String(id))}${options.includeDetails ? '?IncludeDetails=true' : ''}`,
      `/api/${segment}/{id}`,
      { acceptStatuses: [404], signal },
    );
    if (response.status === 404) {
      return null;
    }
    return this.model<RaiseModelByResource[R]>(response, `GET /api/${segment}/{id}`);
  }

  /** `PATCH /api/Donor/{id}`: only the given fields change; returns the updated donor. */
  async patchDonor(
    creds: RaiseCredentials,
    id: string | number,
    patch: RaiseDonorPatch,
  ): Promise<RaiseDonorModel> {
    const response = await this.send(
      creds,
      'PATCH',
      `/api/Donor/${encodeURIComponent(String(id))}`,
      '/api/Donor/{id}',
      { body: patch },
    );
    return this.model<RaiseDonorModel>(response, 'PATCH /api/Donor/{id}');
  }

  /**
   * `PUT /api/Campaign/{id}/toggle-sync` (not in the public docs; see source-apis.md 1.8).
   * A toggle is not idempotent, so it is never resent after a timeout or 5xx: read the campaign
   * back before trying again. Returns the campaign when the response carries it.
   */
  async toggleCampaignSync(
    creds: RaiseCredentials,
    id: string | number,
  ): Promise<RaiseCampaignModel | null> {
    const response = await this.send(
      creds,
      'PUT',
      `/api/Campaign/${encodeURIComponent(String(id))}/toggle-sync`,
      '/api/Campaign/{id}/toggle-sync',
      { idempotent: false },
    );
    return isObject(response.body) && idOf(response.body) !== null
      ? (response.body as RaiseCampaignModel)
      : null;
  }

  /** `POST /api/Webhook` (not resent after a timeout: list before creating again). */
  async createWebhook(
    creds: RaiseCredentials,
    request: RaiseWebhookRequest,
  ): Promise<RaiseWebhookModel> {
    const response = await this.send(creds, 'POST', '/api/Webhook', '/api/Webhook', {
      body: request,
      idempotent: false,
    });
    return this.model<RaiseWebhookModel>(response, 'POST /api/Webhook');
  }

  /** Every webhook subscription of the customer (`GET /api/Webhook/list`, all pages). */
  async listWebhooks(creds: RaiseCredentials): Promise<RaiseWebhookModel[]> {
    const take = 100;
    const webhooks: RaiseWebhookModel[] = [];
    for (let skip = 0; ;) {
      const response = await this.send(
        creds,
        'GET',
        `/api/Webhook/list?Skip=${skip}&Take=${take}`,
        '/api/Webhook/list',
      );
      const page = response.body;
      if (!isObject(page) || !Array.isArray(page.items) || typeof page.total !== 'number') {
        throw new SourceContractError('GET /api/Webhook/list did not answer with { items, total }');
      }
      webhooks.push(...(page.items as RaiseWebhookModel[]));
      skip += page.items.length;
      if (page.items.length === 0 || page.items.length < take || skip >= page.total) {
        return webhooks;
      }
    }
  }

  /**
   * One page of the webhook delivery log: `GET /api/Webhook/log/list?Skip=&Take=` (or one
   * subscription's, `GET /api/Webhook/{id}/log/list`). Raise lists attempts newest first. Items
   * are read defensively: unknown fields are ignored, an item without a readable id, contextId,
   * eventType, success flag or attempt time is skipped and counted in `malformed`.
   */
  async webhookLogPage(
    creds: RaiseCredentials,
    skip: number,
    options: RaiseWebhookLogOptions = {},
  ): Promise<RaiseWebhookLogPage> {
    const take = clampTake(options.pageSize);
    const route =
      options.webhookId === undefined ? '/api/Webhook/log/list' : '/api/Webhook/{id}/log/list';
    const base =
      options.webhookId === undefined
        ? '/api/Webhook/log/list'
        : `/api/Webhook/${encodeURIComponent(String(options.webhookId))}/log/list`;
    const response = await this.send(creds, 'GET', `${base}?Skip=${skip}&Take=${take}`, route, {
      signal: options.signal,
    });
    const page = response.body;
    if (!isObject(page) || !Array.isArray(page.items) || typeof page.total !== 'number') {
      throw new SourceContractError(`GET ${route} did not answer with { items, total }`);
    }
    const entries: RaiseWebhookLogEntry[] = [];
    const malformedReasons: string[] = [];
    let malformed = 0;
    for (const item of page.items as unknown[]) {
      const parsed = parseWebhookLogEntry(item);
      if (typeof parsed === 'string') {
        malformed += 1;
        if (malformedReasons.length < 5) {
          malformedReasons.push(parsed);
        }
      } else {
        entries.push(parsed);
      }
    }
    return {
      entries,
      malformed,
      malformedReasons,
      received: page.items.length,
      total: page.total,
      skip,
    };
  }

  /**
   * The delivery log page by page, newest first, until it is exhausted or the caller stops
   * (break out of the loop once the entries reach what an earlier read already saw). Attempts
   * logged while this reads push older entries down, so an entry may come twice across pages
   * (the caller de-duplicates by id); none is skipped.
   */
  async *streamWebhookLog(
    creds: RaiseCredentials,
    options: RaiseWebhookLogOptions = {},
  ): AsyncGenerator<RaiseWebhookLogPage> {
    const take = clampTake(options.pageSize);
    for (let skip = 0; ;) {
      const page = await this.webhookLogPage(creds, skip, { ...options, pageSize: take });
      if (page.received > 0) {
        yield page;
      }
      skip += page.received;
      if (page.received === 0 || page.received < take || skip >= page.total) {
        return;
      }
    }
  }

  /** `DELETE /api/Webhook/{id}`; false when it did not exist (404). */
  async deleteWebhook(creds: RaiseCredentials, id: string | number): Promise<boolean> {
    const response = await this.send(
      creds,
      'DELETE',
      `/api/Webhook/${encodeURIComponent(String(id))}`,
      '/api/Webhook/{id}',
      { acceptStatuses: [404] },
    );
    return response.status !== 404;
  }

  /**
   * A cheap authenticated call (`POST /api/Gift/query`, take 1). Resolves when the token works;
   * throws SourceAuthError when Raise refuses it (or SourceUnavailableError when Raise is down).
   */
  async verifyToken(creds: RaiseCredentials): Promise<void> {
    await this.query(creds, 'gift', { skip: 0, take: 1 });
  }

  private model<T>(response: SourceResponse, what: string): T {
    if (!isObject(response.body)) {
      throw new SourceContractError(`${what} did not answer with an object`);
    }
    return response.body as T;
  }

  private keyOf(resource: RaiseResource, item: unknown): Key | null {
    const id = idOf(item);
    const raw = isObject(item) ? item[RAISE_MODIFIED_FIELD[resource]] : undefined;
    const at = parseSourceTime(raw);
    if (id === null || at === null) {
      return null;
    }
    return { atMs: at.getTime(), value: typeof raw === 'string' ? raw : at.toISOString(), id };
  }

  /** IDs of an id-sorted page, checked to be ascending and after `afterId`. */
  private ascendingIds(
    items: unknown[],
    afterId: string | null,
    resource: RaiseResource,
  ): string[] {
    const ids: string[] = [];
    let previous = afterId;
    for (const item of items) {
      const id = idOf(item);
      if (id === null || (previous !== null && compareSourceIds(id, previous) <= 0)) {
        throw new SourceContractError(
          `POST /api/${RAISE_PATH_SEGMENT[resource]}/query did not return ascending IDs after ${afterId ?? 'the start'}`,
        );
      }
      ids.push(id);
      previous = id;
    }
    return ids;
  }

  /** All records at exactly `at.value` with id after `afterId`, in id order. */
  private async *drainTimestamp<R extends RaiseResource>(
    creds: RaiseCredentials,
    resource: R,
    at: Key,
    afterId: string | null,
    take: number,
    options: RaiseModifiedStreamOptions,
  ): AsyncGenerator<RaiseKeysetPage<RaiseModelByResource[R]>> {
    let lastId = afterId;
    for (;;) {
      const conditions = [modifiedCondition(RAISE_OPERATORS.equals, at.value)];
      if (lastId !== null) {
        conditions.push(idCondition(RAISE_OPERATORS.greaterThan, lastId));
      }
      conditions.push(...(options.extraConditions ?? []));
      const page = await this.query(
        creds,
        resource,
        {
          skip: 0,
          take,
          sortBy: RAISE_PARAMETERS.id,
          descending: false,
          includeDetails: options.includeDetails,
          groups: [{ conditions }],
        },
        options.signal,
      );
      if (page.items.some((item) => this.keyOf(resource, item)?.atMs !== at.atMs)) {
        throw new SourceContractError(
          `POST /api/${RAISE_PATH_SEGMENT[resource]}/query: modifieddate Equals matched other times`,
        );
      }
      const ids = this.ascendingIds(page.items, lastId, resource);
      const pageLastId = ids[ids.length - 1];
      if (pageLastId !== undefined) {
        lastId = pageLastId;
        yield { items: page.items, cursor: { at: new Date(at.atMs), id: pageLastId } };
      }
      if (isLastPage(page)) {
        return;
      }
    }
  }
}

function idCondition(operator: RaiseCondition['operator'], value: string): RaiseCondition {
  return { parameter: RAISE_PARAMETERS.id, operator, value };
}

function modifiedCondition(operator: RaiseCondition['operator'], value: string): RaiseCondition {
  return { parameter: RAISE_PARAMETERS.modified, operator, value };
}

const toCursor = (key: Key): RaiseKeysetCursor => ({ at: new Date(key.atMs), id: key.id });

/** Records without a readable key first (mapping will reject them), then (modified time, id). */
function sortByKey<T extends { key: Key | null }>(entries: T[]): T[] {
  return [...entries].sort((a, b) =>
    a.key && b.key ? compareKeys(a.key, b.key) : a.key ? 1 : b.key ? -1 : 0,
  );
}

function maxKey(entries: Array<{ key: Key | null }>, floor: Key | null): Key | null {
  return entries.reduce<Key | null>(
    (max, { key }) => (key && (!max || compareKeys(key, max) > 0) ? key : max),
    floor,
  );
}

/** A log item as an entry, or why it cannot be one. */
export function parseWebhookLogEntry(item: unknown): RaiseWebhookLogEntry | string {
  if (!isObject(item)) {
    return 'entry is not an object';
  }
  const raw = item as Partial<RaiseWebhookLogEntryModel>;
  let id: string;
  let contextId: string;
  try {
    id = parseRecordId(raw.id, 'id');
    contextId = parseRecordId(raw.contextId, 'contextId');
  } catch (error) {
    return (error as Error).message;
  }
  if (typeof raw.eventType !== 'number' || !Number.isInteger(raw.eventType)) {
    return 'eventType is not an integer';
  }
  if (typeof raw.success !== 'boolean') {
    return 'success is not a boolean';
  }
  const createdAt = parseSourceTime(raw.createdDate);
  if (createdAt === null) {
    return 'createdDate is not a time';
  }
  let webhookId: string | null = null;
  if (raw.webhookId !== undefined && raw.webhookId !== null) {
    try {
      webhookId = parseRecordId(raw.webhookId, 'webhookId');
    } catch (error) {
      return (error as Error).message;
    }
  }
  const status = raw.httpStatusCode;
  return {
    id,
    webhookId,
    eventType: raw.eventType,
    eventTypeDisplay: typeof raw.eventTypeDisplay === 'string' ? raw.eventTypeDisplay : null,
    contextId,
    success: raw.success,
    httpStatusCode: typeof status === 'number' && Number.isInteger(status) ? status : null,
    createdAt,
  };
}

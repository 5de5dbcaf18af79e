import { SourceHttpClient } from './http-client';
import { RateBudgets } from './rate-budget';
import { SourceAuthError, SourceContractError } from './source-errors';
import { startLocalServer, type LocalServer, type Reply } from '@raise-sync/testing/fixtures';
import { VomoClient, type VomoCredentials, type VomoCursor } from './vomo-client';
import type { VomoPage, VomoUserResource } from './vomo-wire';

const creds: VomoCredentials = { customerId: 'c1', token: 'vomo-token-c1' };

/** Laravel-style timestamps: whole seconds, microsecond zeros. */
const at = (second: number): string =>
  new Date(Date.UTC(2026, 10, 19, 10, 0, second)).toISOString().replace('.000Z', '.000000Z');

const user = (id: number, updatedSecond: number): VomoUserResource => ({
  type: 'user',
  id: String(id),
  first_name: `First${id}`,
  last_name: `Last${id}`,
  full_name: `First${id} Last${id}`,
  email: `user${id}@example.org`,
  phone: null,
  user_status: 'VERIFIED',
  membership_status: 'ACCEPTED',
  membership_role: 'VOLUNTEER',
  created_at: at(0),
  updated_at: at(updatedSecond),
});

interface ListOptions {
  perPage: number;
  /** How users sharing a second are ordered (VOMO promises nothing). */
  tieOrder: 'ascending id' | 'descending id';
  /** Base of links.next; Laravel behind a proxy may name another scheme or host. */
  linkBase: string;
  /** Whether links.next repeats the filters (Laravel's withQueryString) or only the page. */
  linkKeepsFilters: boolean;
  /** List in id order instead of updated_at order. */
  orderById?: boolean;
}

/** `GET /users` as VOMO does it: strict `updated_after` at second precision, fixed page size. */
function listUsers(
  users: VomoUserResource[],
  path: string,
  o: ListOptions,
): VomoPage<VomoUserResource> {
  const url = new URL(path, 'http://vomo.local');
  const after = url.searchParams.get('updated_after');
  const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);
  const tie = o.tieOrder === 'ascending id' ? 1 : -1;
  const hits = users
    .filter((u) => after === null || seconds(u.updated_at) > seconds(after))
    .sort((a, b) =>
      o.orderById
        ? Number(a.id) - Number(b.id)
        : seconds(a.updated_at) - seconds(b.updated_at) || tie * (Number(a.id) - Number(b.id)),
    );
  const page = Number(url.searchParams.get('page') ?? '1');
  const lastPage = Math.max(1, Math.ceil(hits.length / o.perPage));
  const linkTo = (n: number) => {
    const params = new URLSearchParams(o.linkKeepsFilters ? url.searchParams : undefined);
    params.set('page', String(n));
    return `${o.linkBase}/users?${params.toString()}`;
  };
  return {
    data: hits.slice((page - 1) * o.perPage, page * o.perPage),
    links: {
      first: linkTo(1),
      last: linkTo(lastPage),
      prev: page > 1 ? linkTo(page - 1) : null,
      next: page < lastPage ? linkTo(page + 1) : null,
    },
    meta: {
      current_page: page,
      from: null,
      to: null,
      path: `${o.linkBase}/users`,
      per_page: o.perPage,
      total: hits.length,
      last_page: lastPage,
    },
  };
}

describe(VomoClient.name, () => {
  let server: LocalServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function setUp(handler: (path: string, body: unknown, method: string) => Reply) {
    server = await startLocalServer(({ path, body, method }) => handler(path, body, method));
    const http = new SourceHttpClient({
      budgets: new RateBudgets({ rates: { vomo: { requestsPerSecond: 1000, burst: 1000 } } }),
      backoffBaseMs: 1,
    });
    return { server, client: new VomoClient({ baseUrl: `${server.url}/v1`, http }) };
  }

  async function collect(client: VomoClient, after: VomoCursor | null) {
    const ids: string[] = [];
    const cursors: VomoCursor[] = [];
    for await (const page of client.streamUpdatedSince(creds, { after })) {
      ids.push(...page.items.map((u) => String(u.id)));
      cursors.push(page.cursor);
    }
    return { ids, cursors };
  }

  // Second 5 is shared by seven users: more than two pages of three.
  const users = [
    user(3, 1),
    user(1, 2),
    user(14, 5),
    user(2, 5),
    user(9, 5),
    user(11, 5),
    user(7, 5),
    user(20, 5),
    user(4, 5),
    user(6, 7),
    user(5, 9),
  ];
  const inOrder = ['3', '1', '2', '4', '7', '9', '11', '14', '20', '6', '5'];

  it.each(['ascending id', 'descending id'] as const)(
    'yields every user once in (updated_at, id) order when a second spans pages (ties in %s)',
    async (tieOrder) => {
      const { server, client } = await setUp((path) => ({
        body: listUsers(users, path.replace('/v1', ''), {
          perPage: 3,
          tieOrder,
          linkBase: 'http://vomo.local/v1',
          linkKeepsFilters: true,
        }),
      }));
      const { ids, cursors } = await collect(client, null);

      expect(ids).toEqual(inOrder);
      expect(cursors[cursors.length - 1]).toEqual({ at: new Date(at(9)), id: '5' });
      expect(server.requests.length).toBeLessThan(20);
    },
  );

  it('resumes inside a tie with a one-second overlap and skips what was already yielded', async () => {
    const { server, client } = await setUp((path) => ({
      body: listUsers(users, path.replace('/v1', ''), {
        perPage: 3,
        tieOrder: 'descending id',
        linkBase: 'http://vomo.local/v1',
        linkKeepsFilters: true,
      }),
    }));
    const { ids } = await collect(client, { at: new Date(at(5)), id: '9' });

    expect(ids).toEqual(['11', '14', '20', '6', '5']);
    expect(server.requests[0]?.path).toBe('/v1/users?updated_after=2026-11-19T10%3A00%3A04Z');
    expect(server.requests[0]?.headers.authorization).toBe('Bearer vomo-token-c1');
  });

  it('yields nothing when nothing changed after the cursor', async () => {
    const { client } = await setUp((path) => ({
      body: listUsers(users, path.replace('/v1', ''), {
        perPage: 3,
        tieOrder: 'ascending id',
        linkBase: 'http://vomo.local/v1',
        linkKeepsFilters: true,
      }),
    }));
    await expect(collect(client, { at: new Date(at(9)), id: '5' })).resolves.toEqual({
      ids: [],
      cursors: [],
    });
  });

  it('follows links.next on its own host and keeps the filters the link dropped', async () => {
    const { server, client } = await setUp((path) => ({
      body: listUsers(users, path.replace('/v1', ''), {
        perPage: 3,
        tieOrder: 'ascending id',
        linkBase: 'http://elsewhere.invalid/v1',
        linkKeepsFilters: false,
      }),
    }));
    const { ids } = await collect(client, { at: new Date(at(2)), id: '1' });

    expect(ids).toEqual(['2', '4', '7', '9', '11', '14', '20', '6', '5']);
    const paged = server.requests.filter((r) => r.path.includes('page='));
    expect(paged.length).toBeGreaterThan(0);
    expect(paged.every((r) => r.path.includes('updated_after='))).toBe(true);
  });

  it('refuses a listing that is not in updated_at order rather than losing users', async () => {
    const { client } = await setUp((path) => ({
      body: listUsers(users, path.replace('/v1', ''), {
        perPage: 3,
        tieOrder: 'ascending id',
        linkBase: 'http://vomo.local/v1',
        linkKeepsFilters: true,
        orderById: true,
      }),
    }));
    await expect(collect(client, null)).rejects.toBeInstanceOf(SourceContractError);
  });

  it('sorts a single page itself, whatever order VOMO lists it in', async () => {
    const { client } = await setUp((path) => ({
      body: listUsers(users, path.replace('/v1', ''), {
        perPage: 15,
        tieOrder: 'descending id',
        linkBase: 'http://vomo.local/v1',
        linkKeepsFilters: true,
        orderById: true,
      }),
    }));
    const { ids, cursors } = await collect(client, null);
    expect(ids).toEqual(inOrder);
    expect(cursors).toEqual([{ at: new Date(at(9)), id: '5' }]);
  });

  it('lists users with filters as query parameters', async () => {
    const { server, client } = await setUp(() => ({
      body: { data: [user(1, 1)], links: { next: null }, meta: { per_page: 15, total: 1 } },
    }));
    const page = await client.listUsers(creds, { email_like: 'ada@', page: 2 });

    expect(page.data.map((u) => u.id)).toEqual(['1']);
    expect(page.links.next).toBeNull();
    expect(server.requests[0]?.path).toBe('/v1/users?email_like=ada%40&page=2');
  });

  it('upserts a user: 201 is created, 200 is updated', async () => {
    let exists = false;
    const { server, client } = await setUp((_path, body) => {
      const status = exists ? 200 : 201;
      exists = true;
      return {
        status,
        body: {
          code: String(status),
          message: 'ok',
          data: { ...user(8205, 3), ...(body as object) },
        },
      };
    });
    const input = {
      first_name: 'Grace',
      last_name: 'Hopper',
      email: 'grace@example.org',
      birthday: '1906-12-09',
      gender: 'F' as const,
    };

    const first = await client.upsertUser(creds, input);
    const second = await client.upsertUser(creds, input);

    expect(first.created).toBe(true);
    expect(first.user).toMatchObject({ id: '8205', first_name: 'Grace' });
    expect(second.created).toBe(false);
    expect(server.requests[0]).toMatchObject({ method: 'POST', path: '/v1/users', body: input });
  });

  it('gets a user (unwrapping data), null on 404', async () => {
    const { client } = await setUp((path) =>
      path === '/v1/users/8205'
        ? { body: { data: { ...user(8205, 3), participations: [] } } }
        : { status: 404, body: { message: 'Not found.' } },
    );
    await expect(client.getUser(creds, 8205)).resolves.toMatchObject({
      id: '8205',
      participations: [],
    });
    await expect(client.getUser(creds, 1)).resolves.toBeNull();
  });

  it('verifies a token, and reports a refused one as SourceAuthError', async () => {
    const { server, client } = await setUp(() => ({
      status: 401,
      body: { message: 'Unauthenticated.' },
    }));
    await expect(client.verifyToken(creds)).rejects.toBeInstanceOf(SourceAuthError);
    expect(server.requests).toHaveLength(1);
  });
});

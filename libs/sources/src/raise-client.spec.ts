import { SourceHttpClient } from './http-client';
import { RaiseClient, type RaiseCredentials, type RaiseKeysetCursor } from './raise-client';
import type { RaiseCondition, RaiseGiftModel, RaiseQueryBody } from './raise-wire';
import { RateBudgets } from './rate-budget';
import { SourceAuthError, SourceContractError } from './source-errors';
import { startLocalServer, type LocalServer, type Reply } from '@raise-sync/testing/fixtures';

const creds: RaiseCredentials = { customerId: 'c1', token: 'raise-token-c1' };

/** Raise-style times: no zone designator (read as UTC). */
const T = (second: number): string => `2026-11-20T09:00:${String(second).padStart(2, '0')}.5`;
const ms = (value: string): number =>
  Date.parse(/(Z|[+-]\d\d:\d\d)$/.test(value) ? value : `${value}Z`);

const gift = (id: number, modifiedDate: string): RaiseGiftModel => ({
  id,
  donorId: null,
  recurringGiftId: null,
  amount: 10,
  currency: 'USD',
  date: null,
  status: 1,
  statusText: 'Success',
  isTestMode: false,
  isAnonymous: false,
  paymentType: null,
  transactionId: null,
  campaignName: null,
  createdDate: modifiedDate,
  modifiedDate,
});

function matches(item: RaiseGiftModel, condition: RaiseCondition): boolean {
  const parameter = condition.parameter.toLowerCase();
  const actual = parameter === 'id' ? item.id : ms(item.modifiedDate);
  const expected = parameter === 'id' ? Number(condition.value) : ms(condition.value ?? '');
  switch (condition.operator) {
    case 'Equals':
      return actual === expected;
    case 'GreaterThan':
      return actual > expected;
    case 'GreaterThanOrEqual':
      return actual >= expected;
    case 'LessThan':
      return actual < expected;
    case 'LessThanOrEqual':
      return actual <= expected;
    case 'Between':
    case 'In':
      throw new Error(`operator ${condition.operator} not simulated`);
  }
}

/**
 * Just enough of Raise's query semantics: conditions ANDed within a group, groups ORed, one sort
 * field. Ties on modifieddate come back in `tieOrder`, since Raise does not promise any.
 */
function raiseQuery(
  data: RaiseGiftModel[],
  body: RaiseQueryBody,
  tieOrder: 'ascending id' | 'descending id',
): { items: RaiseGiftModel[]; total: number } {
  const groups = body.groups ?? [];
  const hits = data.filter(
    (item) =>
      groups.length === 0 || groups.some((g) => g.conditions.every((c) => matches(item, c))),
  );
  const tie = tieOrder === 'ascending id' ? 1 : -1;
  hits.sort((a, b) =>
    body.sortBy === 'id'
      ? a.id - b.id
      : ms(a.modifiedDate) - ms(b.modifiedDate) || tie * (a.id - b.id),
  );
  const skip = body.skip ?? 0;
  return { items: hits.slice(skip, skip + (body.take ?? 100)), total: hits.length };
}

describe(RaiseClient.name, () => {
  let server: LocalServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function setUp(handler: (path: string, body: unknown, method: string) => Reply) {
    server = await startLocalServer(({ path, body, method }) => handler(path, body, method));
    const http = new SourceHttpClient({
      budgets: new RateBudgets({ rates: { raise: { requestsPerSecond: 1000, burst: 1000 } } }),
      backoffBaseMs: 1,
    });
    return { server, client: new RaiseClient({ baseUrl: `${server.url}/`, http }) };
  }

  const queryBodies = (s: LocalServer): RaiseQueryBody[] =>
    s.requests.filter((r) => r.path === '/api/Gift/query').map((r) => r.body as RaiseQueryBody);

  describe('streamModifiedSince', () => {
    // Out of id order on purpose; ties at T(1) and T(2) and a tie wider than a page at T(3).
    const data = [
      gift(9, T(0)),
      gift(30, T(1)),
      gift(4, T(1)),
      gift(17, T(1)),
      gift(2, T(2)),
      gift(8, T(2)),
      gift(12, T(3)),
      gift(5, T(3)),
      gift(40, T(3)),
      gift(21, T(3)),
      gift(1, T(4)),
    ];
    const expectedOrder = [9, 4, 17, 30, 2, 8, 5, 12, 21, 40, 1];

    it.each(['ascending id', 'descending id'] as const)(
      'yields every record once in (modified, id) order across page boundaries (ties in %s)',
      async (tieOrder) => {
        const { server, client } = await setUp((_path, body) => ({
          body: raiseQuery(data, body as RaiseQueryBody, tieOrder),
        }));
        const seen: number[] = [];
        const cursors: RaiseKeysetCursor[] = [];
        for await (const page of client.streamModifiedSince(creds, 'gift', {
          after: null,
          pageSize: 3,
        })) {
          seen.push(...page.items.map((g) => g.id));
          cursors.push(page.cursor);
        }

        expect(seen).toEqual(expectedOrder);
        expect(cursors[cursors.length - 1]).toEqual({ at: new Date(`${T(4)}Z`), id: '1' });
        const times = cursors.map((c) => [c.at.getTime(), c.id] as const);
        expect([...times].sort((a, b) => a[0] - b[0] || Number(a[1]) - Number(b[1]))).toEqual(
          times,
        );
        const bodies = queryBodies(server);
        expect(bodies.every((b) => b.skip === 0 && b.take === 3)).toBe(true);
        expect(bodies.length).toBeLessThanOrEqual(10);
      },
    );

    it('resumes after a cursor inside a tie with the documented keyset query', async () => {
      const { server, client } = await setUp((_path, body) => ({
        body: raiseQuery(data, body as RaiseQueryBody, 'descending id'),
      }));
      const after = { at: new Date(`${T(1)}Z`), id: '17' };
      const seen: number[] = [];
      for await (const page of client.streamModifiedSince(creds, 'gift', { after, pageSize: 3 })) {
        seen.push(...page.items.map((g) => g.id));
      }

      expect(seen).toEqual([30, 2, 8, 5, 12, 21, 40, 1]);
      expect(queryBodies(server)[0]).toEqual({
        skip: 0,
        take: 3,
        sortBy: 'modifieddate',
        descending: false,
        groups: [
          {
            conditions: [
              { parameter: 'modifieddate', operator: 'GreaterThan', value: after.at.toISOString() },
            ],
          },
          {
            conditions: [
              { parameter: 'modifieddate', operator: 'Equals', value: after.at.toISOString() },
              { parameter: 'id', operator: 'GreaterThan', value: '17' },
            ],
          },
        ],
      });
    });

    it('yields nothing and stops when nothing changed after the cursor', async () => {
      const { server, client } = await setUp((_path, body) => ({
        body: raiseQuery(data, body as RaiseQueryBody, 'ascending id'),
      }));
      const pages = [];
      for await (const page of client.streamModifiedSince(creds, 'gift', {
        after: { at: new Date(`${T(4)}Z`), id: '1' },
        pageSize: 3,
      })) {
        pages.push(page);
      }
      expect(pages).toEqual([]);
      expect(server.requests).toHaveLength(1);
    });

    it('refuses a server that ignores the sort order instead of losing records', async () => {
      const { client } = await setUp(() => ({
        body: { items: [gift(1, T(5)), gift(2, T(1)), gift(3, T(2))], total: 9 },
      }));
      const iterate = async () => {
        for await (const _page of client.streamModifiedSince(creds, 'gift', {
          after: null,
          pageSize: 3,
        })) {
          // drain
        }
      };
      await expect(iterate()).rejects.toBeInstanceOf(SourceContractError);
    });
  });

  describe('streamById', () => {
    const data = [1, 2, 3, 4, 5, 6, 7, 8].map((id) => gift(id, T(id)));

    it('issues exactly the expected ID-cursor page requests', async () => {
      const { server, client } = await setUp((_path, body) => ({
        body: raiseQuery(data, body as RaiseQueryBody, 'ascending id'),
      }));
      const pages: Array<{ ids: number[]; lastId: string }> = [];
      for await (const page of client.streamById(creds, 'gift', {
        afterId: 0,
        toId: 7,
        pageSize: 3,
        includeDetails: true,
      })) {
        pages.push({ ids: page.items.map((g) => g.id), lastId: page.lastId });
      }

      expect(pages).toEqual([
        { ids: [1, 2, 3], lastId: '3' },
        { ids: [4, 5, 6], lastId: '6' },
        { ids: [7], lastId: '7' },
      ]);
      const range = (after: string): RaiseQueryBody => ({
        skip: 0,
        take: 3,
        sortBy: 'id',
        descending: false,
        includeDetails: true,
        groups: [
          {
            conditions: [
              { parameter: 'id', operator: 'GreaterThan', value: after },
              { parameter: 'id', operator: 'LessThanOrEqual', value: '7' },
            ],
          },
        ],
      });
      expect(queryBodies(server)).toEqual([range('0'), range('3'), range('6')]);
    });

    it('starts from the beginning without an ID condition and stops when total is reached', async () => {
      const { server, client } = await setUp((_path, body) => ({
        body: raiseQuery(data.slice(0, 6), body as RaiseQueryBody, 'ascending id'),
      }));
      const ids: number[] = [];
      for await (const page of client.streamById(creds, 'gift', { afterId: null, pageSize: 3 })) {
        ids.push(...page.items.map((g) => g.id));
      }
      expect(ids).toEqual([1, 2, 3, 4, 5, 6]);
      expect(queryBodies(server).map((b) => b.groups)).toEqual([
        [],
        [{ conditions: [{ parameter: 'id', operator: 'GreaterThan', value: '3' }] }],
      ]);
    });
  });

  it('does not take a short page for the end while total says more (a server clamping take)', async () => {
    const data = [1, 2, 3, 4, 5].map((id) => gift(id, T(id)));
    const { client } = await setUp((_path, body) => ({
      body: raiseQuery(data, { ...(body as RaiseQueryBody), take: 2 }, 'ascending id'),
    }));
    const ids: number[] = [];
    for await (const page of client.streamById(creds, 'gift', { afterId: null, pageSize: 3 })) {
      ids.push(...page.items.map((g) => g.id));
    }
    const changed: number[] = [];
    for await (const page of client.streamModifiedSince(creds, 'gift', {
      after: null,
      pageSize: 3,
    })) {
      changed.push(...page.items.map((g) => g.id));
    }
    expect(ids).toEqual([1, 2, 3, 4, 5]);
    expect(changed).toEqual([1, 2, 3, 4, 5]);
  });

  it('streamPages pages with skip/take until total', async () => {
    const data = [1, 2, 3, 4, 5].map((id) => gift(id, T(id)));
    const { server, client } = await setUp((_path, body) => ({
      body: raiseQuery(data, body as RaiseQueryBody, 'ascending id'),
    }));
    const skips: number[] = [];
    const ids: number[] = [];
    for await (const page of client.streamPages(creds, 'gift', { sortBy: 'id' }, { pageSize: 2 })) {
      skips.push(page.skip);
      ids.push(...page.items.map((g) => g.id));
    }
    expect(ids).toEqual([1, 2, 3, 4, 5]);
    expect(skips).toEqual([0, 2, 4]);
    expect(queryBodies(server).map((b) => [b.skip, b.take])).toEqual([
      [0, 2],
      [2, 2],
      [4, 2],
    ]);
  });

  it('clamps take to the Raise maximum', async () => {
    const { server, client } = await setUp(() => ({ body: { items: [], total: 0 } }));
    await client.query(creds, 'donor', { take: 5000 });
    expect(server.requests[0]).toMatchObject({ path: '/api/Donor/query', body: { take: 1000 } });
  });

  it('gets a record by id, and null on 404', async () => {
    const { server, client } = await setUp((path) =>
      path === '/api/RecurringGift/5501'
        ? { body: { id: 5501, amount: 20 } }
        : { status: 404, body: { title: 'Not Found' } },
    );
    await expect(client.get(creds, 'recurring_gift', 5501)).resolves.toEqual({
      id: 5501,
      amount: 20,
    });
    await expect(client.get(creds, 'campaign', 77)).resolves.toBeNull();
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/RecurringGift/5501',
      'GET /api/Campaign/77',
    ]);
  });

  it('patches a donor, toggles campaign sync and manages webhooks on the documented paths', async () => {
    const webhooks = [{ id: 1 }, { id: 2 }, { id: 3 }];
    const { server, client } = await setUp((path, body, method) => {
      if (method === 'PATCH') {
        return { body: { id: 48213, ...(body as object) } };
      }
      if (method === 'PUT') {
        return { body: { id: 77, canSync: true } };
      }
      if (method === 'POST' && path === '/api/Webhook') {
        return { status: 201, body: { id: 9, ...(body as object), securityToken: undefined } };
      }
      if (method === 'DELETE') {
        return path === '/api/Webhook/9' ? { status: 204 } : { status: 404 };
      }
      const skip = Number(/Skip=(\d+)/.exec(path)?.[1] ?? 0);
      return { body: { items: webhooks.slice(skip, skip + 100), total: webhooks.length } };
    });

    await expect(client.patchDonor(creds, 48213, { firstName: 'Ada' })).resolves.toEqual({
      id: 48213,
      firstName: 'Ada',
    });
    await expect(client.toggleCampaignSync(creds, 77)).resolves.toEqual({ id: 77, canSync: true });
    const created = await client.createWebhook(creds, {
      name: 'raise-sync',
      notificationUrl: 'https://sync.example.org/webhooks/raise/c1',
      eventTypesList: [10, 11, 12],
      format: 1,
      status: 1,
      securityToken: 'shared-secret',
    });
    expect(created.id).toBe(9);
    await expect(client.listWebhooks(creds)).resolves.toEqual(webhooks);
    await expect(client.deleteWebhook(creds, 9)).resolves.toBe(true);
    await expect(client.deleteWebhook(creds, 10)).resolves.toBe(false);

    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'PATCH /api/Donor/48213',
      'PUT /api/Campaign/77/toggle-sync',
      'POST /api/Webhook',
      'GET /api/Webhook/list?Skip=0&Take=100',
      'DELETE /api/Webhook/9',
      'DELETE /api/Webhook/10',
    ]);
    expect(server.requests[0]?.body).toEqual({ firstName: 'Ada' });
    expect(server.requests[2]?.body).toMatchObject({ securityToken: 'shared-secret' });
  });

  it('verifies a token with one cheap query, and reports a refused one as SourceAuthError', async () => {
    const { server, client } = await setUp((_path, _body) => ({ body: { items: [], total: 0 } }));
    await expect(client.verifyToken(creds)).resolves.toBeUndefined();
    expect(server.requests[0]).toMatchObject({
      method: 'POST',
      path: '/api/Gift/query',
      body: { skip: 0, take: 1 },
      headers: { authorization: 'Bearer raise-token-c1' },
    });
    await server.close();

    const refused = await setUp(() => ({ status: 401, body: { title: 'Unauthorized' } }));
    const error = await refused.client.verifyToken(creds).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceAuthError);
    expect((error as Error).message).not.toContain(creds.token);
    expect(refused.server.requests).toHaveLength(1);
  });

  describe('webhook delivery log', () => {
    const entry = (id: number, extra: Record<string, unknown> = {}) => ({
      id,
      webhookId: 7,
      eventType: 12,
      eventTypeDisplay: 'Gift Deleted',
      contextId: 1000 + id,
      success: false,
      httpStatusCode: 503,
      serverResponse: 'busy',
      createdDate: `2026-11-20T09:00:${String(id).padStart(2, '0')}Z`,
      someFieldRaiseAddsLater: { nested: true },
      ...extra,
    });

    it('pages the log newest first with Skip/Take and reads every field it knows', async () => {
      const log = [5, 4, 3, 2, 1].map((id) => entry(id));
      const { server, client } = await setUp((path) => {
        const skip = Number(/Skip=(\d+)/.exec(path)?.[1] ?? 0);
        const take = Number(/Take=(\d+)/.exec(path)?.[1] ?? 100);
        return { body: { items: log.slice(skip, skip + take), total: log.length } };
      });
      const pages = [];
      for await (const page of client.streamWebhookLog(creds, { pageSize: 2 })) {
        pages.push(page);
      }
      expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        'GET /api/Webhook/log/list?Skip=0&Take=2',
        'GET /api/Webhook/log/list?Skip=2&Take=2',
        'GET /api/Webhook/log/list?Skip=4&Take=2',
      ]);
      expect(pages.flatMap((p) => p.entries.map((e) => e.id))).toEqual(['5', '4', '3', '2', '1']);
      expect(pages[0]?.entries[0]).toEqual({
        id: '5',
        webhookId: '7',
        eventType: 12,
        eventTypeDisplay: 'Gift Deleted',
        contextId: '1005',
        success: false,
        httpStatusCode: 503,
        createdAt: new Date('2026-11-20T09:00:05Z'),
      });
    });

    it("reads one subscription's log on its own path", async () => {
      const { server, client } = await setUp(() => ({ body: { items: [entry(1)], total: 1 } }));
      const page = await client.webhookLogPage(creds, 0, { webhookId: 7, pageSize: 50 });
      expect(page.entries).toHaveLength(1);
      expect(server.requests[0]?.path).toBe('/api/Webhook/7/log/list?Skip=0&Take=50');
    });

    it('skips and counts malformed entries instead of guessing', async () => {
      const items = [
        entry(1),
        entry(2, { contextId: 'abc' }),
        entry(3, { id: -3 }),
        entry(4, { success: 'no' }),
        entry(5, { createdDate: 'yesterday' }),
        entry(6, { eventType: '12' }),
        'not an object',
        entry(8, { httpStatusCode: null, eventTypeDisplay: undefined, webhookId: undefined }),
      ];
      const { client } = await setUp(() => ({ body: { items, total: items.length } }));
      const page = await client.webhookLogPage(creds, 0);
      expect(page.entries.map((e) => e.id)).toEqual(['1', '8']);
      expect(page.entries[1]).toMatchObject({
        httpStatusCode: null,
        eventTypeDisplay: null,
        webhookId: null,
      });
      expect(page.malformed).toBe(6);
      expect(page.received).toBe(8);
      expect(page.malformedReasons).toHaveLength(5);
      expect(page.malformedReasons[0]).toContain('contextId');
    });

    it('refuses an answer that is not a page', async () => {
      const { client } = await setUp(() => ({ body: [entry(1)] }));
      await expect(client.webhookLogPage(creds, 0)).rejects.toBeInstanceOf(SourceContractError);
    });
  });
});

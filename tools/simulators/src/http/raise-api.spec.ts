import type {
  RaiseCampaignModel,
  RaiseDonorModel,
  RaiseGiftModel,
  RaisePage,
  RaiseWebhookModel,
} from '@raise-sync/sources';
import { call } from '../../test/helpers';
import { startSimulator } from '../simulator';
import type { Simulator } from '../types';

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: Record<string, string[]>;
}

describe('Raise API over HTTP', () => {
  let sim: Simulator;
  const token = 'acme-raise';
  let api: string;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 3 });
    sim.control.createOrg({
      id: 'acme',
      raiseToken: token,
      vomoToken: 'acme-vomo',
      donors: 100,
      gifts: 600,
      recurringGifts: 10,
      campaigns: 6,
      users: 20,
    });
    api = `${sim.raiseUrl}/api`;
  });

  afterAll(() => sim.stop());

  afterEach(() => {
    sim.control.resetFaults();
  });

  it('answers 401 ProblemDetails without a token or with a wrong one', async () => {
    for (const bad of [undefined, 'nope']) {
      const response = await call<Problem>(`${api}/Gift/query`, { token: bad, body: {} });
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.body).toMatchObject({ status: 401, title: 'Unauthorized' });
    }
  });

  it('answers 401 to every call under the unauthorized fault', async () => {
    sim.control.setFaults('acme', { unauthorized: true });
    expect((await call(`${api}/Gift/${1_000_001}`, { token })).status).toBe(401);
  });

  it('queries with filters, paging and embedded donors', async () => {
    const { status, body } = await call<RaisePage<RaiseGiftModel>>(`${api}/Gift/query`, {
      token,
      body: {
        take: 5,
        sortBy: 'amount',
        descending: true,
        includeDetails: true,
        groups: [{ conditions: [{ parameter: 'IsTestMode', operator: 'Equals', value: 'false' }] }],
      },
    });
    expect(status).toBe(200);
    expect(body.items).toHaveLength(5);
    expect(body.total).toBe(
      sim.control.records('acme', 'gift').filter((g) => !g.isTestMode).length,
    );
    const amounts = body.items.map((g) => g.amount);
    expect(amounts).toEqual([...amounts].sort((a, b) => b - a));
    for (const gift of body.items) {
      expect(gift.donor?.id).toBe(gift.donorId);
    }
  });

  it('rejects an unknown parameter with 400 naming it', async () => {
    const { status, body } = await call<Problem>(`${api}/Donor/query`, {
      token,
      body: {
        groups: [{ conditions: [{ parameter: 'shoeSize', operator: 'Equals', value: '9' }] }],
      },
    });
    expect(status).toBe(400);
    expect(body.detail).toContain('shoeSize');
    expect(Object.keys(body.errors ?? {})).toEqual(['groups[0].conditions[0].parameter']);
  });

  it('gets one record or a 404 ProblemDetails', async () => {
    const [campaign] = sim.control.records('acme', 'campaign');
    const found = await call<RaiseCampaignModel>(`${api}/campaign/${campaign!.id}`, { token });
    expect(found.status).toBe(200);
    expect(found.body).toEqual(campaign);
    const missing = await call<Problem>(`${api}/Gift/42`, { token });
    expect(missing.status).toBe(404);
    expect(missing.body.status).toBe(404);
  });

  it('reads PascalCase list parameters and ignores lower-case ones', async () => {
    const pascal = await call<RaisePage<RaiseGiftModel>>(
      `${api}/Gift/list?Skip=2&Take=3&SortBy=id&Descending=true`,
      { token },
    );
    const all = sim.control.records('acme', 'gift');
    expect(pascal.body.items.map((g) => g.id)).toEqual(
      all
        .slice(-5, -2)
        .reverse()
        .map((g) => g.id),
    );
    const lower = await call<RaisePage<RaiseGiftModel>>(`${api}/Gift/list?take=3&skip=2`, {
      token,
    });
    expect(lower.body.items).toHaveLength(100);
    expect(lower.body.items[0]!.id).toBe(all[0]!.id);
  });

  it('patches a donor: only non-null fields change, crmKeys become crmKey, webhook-worthy bump', async () => {
    const [before] = sim.control.records('acme', 'donor');
    const { status, body } = await call<RaiseDonorModel>(`${api}/Donor/${before!.id}`, {
      token,
      method: 'PATCH',
      body: { firstName: 'Renamed', lastName: null, crmKeys: { CRMPlus: 'C-991' } },
    });
    expect(status).toBe(200);
    expect(body.firstName).toBe('Renamed');
    expect(body.lastName).toBe(before!.lastName);
    expect(body.crmKey).toBe('C-991');
    expect(Date.parse(body.modifiedDate)).toBeGreaterThan(Date.parse(before!.modifiedDate));
    const tooLong = await call<Problem>(`${api}/Donor/${before!.id}`, {
      token,
      method: 'PATCH',
      body: { firstName: 'x'.repeat(76) },
    });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.errors).toHaveProperty('firstName');
  });

  it('flips canSync with toggle-sync', async () => {
    const [campaign] = sim.control.records('acme', 'campaign');
    const { body } = await call<RaiseCampaignModel>(`${api}/Campaign/${campaign!.id}/toggle-sync`, {
      token,
      method: 'PUT',
    });
    expect(body.canSync).toBe(!campaign!.canSync);
    expect(Date.parse(body.modifiedDateTime)).toBeGreaterThan(
      Date.parse(campaign!.modifiedDateTime),
    );
  });

  it('answers 429 with Retry-After and ProblemDetails under the rate-limit fault', async () => {
    sim.control.resetStats();
    sim.control.setFaults('acme', { rateLimit: { requestsPerSecond: 0.5, burst: 2 } });
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof call<Problem>>> | undefined;
    for (let i = 0; i < 4; i++) {
      const response = await call<Problem>(`${api}/Gift/query`, { token, body: { take: 1 } });
      statuses.push(response.status);
      if (response.status === 429) {
        limited = response;
      }
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited!.body).toMatchObject({ status: 429, title: 'Too Many Requests' });
    const stats = sim.control.stats('acme');
    expect(stats.rateLimited).toBe(2);
    expect(stats.requests.byRoute['POST /api/Gift/query']).toBe(4);
    expect(stats.requests.byStatus).toEqual({ '200': 2, '429': 2 });
    // VOMO has its own bucket.
    expect((await call(`${sim.vomoUrl}/users`, { token: 'acme-vomo' })).status).toBe(200);
  });

  it('injects 5xx errors and latency', async () => {
    sim.control.setFaults('*', { errorRate: 1 });
    const failed = await call<Problem>(`${api}/Gift/list`, { token });
    expect([500, 503]).toContain(failed.status);
    sim.control.setFaults('*', { latencyMs: 120 });
    const started = Date.now();
    expect((await call(`${api}/Gift/list?Take=1`, { token })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });

  it('records served pages in stats', async () => {
    sim.control.resetStats();
    await call(`${api}/Gift/query`, { token, body: { skip: 10, take: 20 } });
    const page = sim.control.stats('acme').pages.gift![0]!;
    const gifts = sim.control.records('acme', 'gift');
    expect(page).toMatchObject({
      endpoint: 'query',
      skip: 10,
      take: 20,
      count: 20,
      total: gifts.length,
      firstId: gifts[10]!.id,
      lastId: gifts[29]!.id,
    });
  });

  it('manages webhook subscriptions with create, list, get, update and delete', async () => {
    const created = await call<RaiseWebhookModel>(`${api}/Webhook`, {
      token,
      body: {
        name: 'test',
        notificationUrl: 'http://127.0.0.1:9/hook',
        eventTypesList: [10, 11],
        format: 1,
        status: 1,
        securityToken: 's3cret',
      },
    });
    expect(created.status).toBe(200);
    expect(created.body).not.toHaveProperty('securityToken');
    const id = created.body.id;
    const listed = await call<RaisePage<RaiseWebhookModel>>(`${api}/Webhook/list`, { token });
    expect(listed.body.items.map((w) => w.id)).toContain(id);
    const updated = await call<RaiseWebhookModel>(`${api}/Webhook/${id}`, {
      token,
      method: 'PUT',
      body: { status: 2 },
    });
    expect(updated.body).toMatchObject({ id, status: 2, eventTypesList: [10, 11] });
    expect(sim.control.webhookSubscriptions('acme')[0]!.securityToken).toBe('s3cret');
    const bad = await call<Problem>(`${api}/Webhook`, {
      token,
      body: { notificationUrl: 'not a url', eventTypesList: [99] },
    });
    expect(Object.keys(bad.body.errors ?? {}).sort()).toEqual([
      'eventTypesList',
      'notificationUrl',
    ]);
    expect((await call(`${api}/Webhook/${id}`, { token, method: 'DELETE' })).status).toBe(204);
    expect((await call(`${api}/Webhook/${id}`, { token })).status).toBe(404);
  });

  it('hides deleted records and keeps modified times strictly increasing', async () => {
    const gifts = sim.control.records('acme', 'gift');
    const a = sim.control.updateRecord('acme', 'gift', gifts[0]!.id);
    const b = sim.control.updateRecord('acme', 'gift', gifts[1]!.id);
    expect(Date.parse(b.modifiedDate)).toBeGreaterThan(Date.parse(a.modifiedDate));
    sim.control.deleteRecord('acme', 'gift', gifts[2]!.id);
    expect(sim.control.deletedIds('acme', 'gift')).toContain(gifts[2]!.id);
    const { body } = await call<RaisePage<RaiseGiftModel>>(`${api}/Gift/query`, {
      token,
      body: {
        groups: [
          { conditions: [{ parameter: 'id', operator: 'In', values: [String(gifts[2]!.id)] }] },
        ],
      },
    });
    expect(body).toEqual({ items: [], total: 0 });
    expect((await call(`${api}/Gift/${gifts[2]!.id}`, { token })).status).toBe(404);
  });
});

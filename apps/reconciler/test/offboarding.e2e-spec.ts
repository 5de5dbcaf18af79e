import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { expectEventually, useTestStack } from '@raise-sync/testing';
import {
  requestRun,
  startBackfiller,
  startIngest,
  startReconciler,
  startSubmitter,
  type AppUnderTest,
} from './support';

jest.setTimeout(240_000);

interface CustomerBody {
  id: string;
  status: string;
  webhookSubscription?: string;
}

interface PurgeBody {
  customerId: string;
  purgeAfter: string;
  purgeWarehouse: boolean;
  purgedAt: string | null;
  rowsDeleted: Record<string, number>;
}

/**
 * Offboarding on the built apps against the simulators: the webhooks go at Raise and CRM+, the
 * customer's backfill and its running reconciliation are cancelled, its console token answers 401, its secrets are erased and,
 * after the grace period (cut short here) or at once, no table names it any more but the purge
 * record. Another customer syncs throughout and keeps all of its rows.
 */
describe('offboarding: one call stops everything, and the purge leaves nothing behind', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-off`;
  let sim: Simulator;
  let submitter: AppUnderTest;
  let ingest: AppUnderTest;
  let backfiller: AppUnderTest;
  let reconciler: AppUnderTest;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 53 });
    submitter = await startSubmitter(stack, prefix, sim);
    await Promise.all([
      startIngest(stack, prefix, sim, { POLL_TICK_MS: '200', PURGE_TICK_MS: '500' }).then(
        (a) => (ingest = a),
      ),
      // Small pages at 5 Raise requests a second (the customer's budget, shared through
      // PostgreSQL): the big org's backfill (80 pages of gifts alone) still runs when it is
      // offboarded, on a loaded machine or a fast one.
      startBackfiller(stack, prefix, sim, {
        BACKFILL_PAGE_SIZE: '50',
        SOURCE_RATE_LIMITS: 'raise=5:5,vomo=200:200',
      }).then((a) => (backfiller = a)),
      // Small pages under the same 5 requests a second: a window run over the big org's gifts
      // is still reading when the customer is offboarded; a short lease is renewed (and the
      // customer's status seen) every few seconds.
      startReconciler(stack, prefix, sim, {
        RECONCILER_PAGE_SIZE: '10',
        RECONCILER_LEASE_SECONDS: '10',
        SOURCE_RATE_LIMITS: 'raise=5:5,vomo=200:200',
      }).then((a) => (reconciler = a)),
    ]);
  });

  afterAll(async () => {
    await Promise.all([
      reconciler?.app.stop('SIGTERM'),
      backfiller?.app.stop('SIGTERM'),
      ingest?.app.stop('SIGTERM'),
      submitter?.app.stop('SIGTERM'),
    ]);
    await sim?.stop();
  });

  /** A customer with a warehouse and a CRM+ destination, its webhooks at Raise and CRM+. */
  const onboard = async (
    name: string,
    gifts: number,
    body: Record<string, unknown>,
  ): Promise<{ org: string; id: string; crm: string }> => {
    const org = `${name}-${stack.prefix}`;
    sim.control.createOrg({
      id: org,
      raiseToken: `raise-${org}`,
      vomoToken: `vomo-${org}`,
      donors: 20,
      gifts,
      recurringGifts: 0,
      campaigns: 2,
      users: 0,
    });
    const created = await ingest.admin<CustomerBody>('POST', '/admin/customers', {
      name,
      raise: { apiToken: `raise-${org}` },
      polling: { enabled: false },
      ...body,
    });
    expect(created.status).toBe(201);
    expect(created.body.webhookSubscription).toBe('subscribed');
    const id = created.body.id;
    const crm = `${org}-crm`;
    sim.destinations.createAccount({ kind: 'crm-plus', id: crm, token: `tok-${crm}` });
    const set = await submitter.admin('PUT', `/admin/customers/${id}/destinations`, {
      destinations: [
        { kind: 'warehouse', name: 'warehouse' },
        {
          kind: 'crm-plus',
          name: 'crm-plus',
          config: { baseUrl: sim.crmUrl },
          secrets: { token: `tok-${crm}` },
        },
      ],
    });
    expect(set.status).toBe(200);
    const hook = await ingest.admin('POST', `/admin/customers/${id}/sources/crm-plus/webhook`, {});
    expect(hook.status).toBe(201);
    expect(sim.destinations.crmWebhooks(crm)).toHaveLength(1);
    return { org, id, crm };
  };

  const count = async (table: string, customerId: string): Promise<number> => {
    const rows = await stack.dataSource.query<Array<{ n: string }>>(
      `SELECT count(*) AS n FROM ${table} WHERE customer_id = $1`,
      [customerId],
    );
    return Number(rows[0]?.n ?? 0);
  };

  /** Every table (state store and warehouse) with a customer_id column, and its rows of `id`. */
  const rowsNaming = async (customerId: string): Promise<Record<string, number>> => {
    const tables = await stack.dataSource.query<Array<{ t: string }>>(
      `SELECT table_schema || '.' || table_name AS t FROM information_schema.columns
        WHERE column_name = 'customer_id' AND table_schema IN ('public', 'warehouse')
        ORDER BY 1`,
    );
    const found: Record<string, number> = {};
    for (const { t } of tables) {
      const n = await count(t, customerId);
      if (n > 0) {
        found[t] = n;
      }
    }
    const customers = await stack.dataSource.query<unknown[]>(
      `SELECT 1 FROM customers WHERE id = $1`,
      [customerId],
    );
    if (customers.length > 0) {
      found['public.customers'] = customers.length;
    }
    return found;
  };

  const waitPurged = async (customerId: string): Promise<PurgeBody> => {
    let purge: PurgeBody | undefined;
    await expectEventually(
      async () => {
        const got = await ingest.admin<PurgeBody>('GET', `/admin/customers/${customerId}/purge`);
        expect(got.status).toBe(200);
        expect(got.body.purgedAt).not.toBeNull();
        purge = got.body;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    return purge as PurgeBody;
  };

  it('offboarding with a grace period stops everything and keeps the state; the purge then removes it, and only it', async () => {
    const a = await onboard('gone', 4000, { mode: 'full_history' });
    const b = await onboard('stays', 10, { mode: 'from_now' });
    const issued = await submitter.admin<{ token: string }>(
      'POST',
      `/admin/customers/${a.id}/console-tokens`,
      { label: 'e2e' },
    );
    expect(issued.status).toBe(201);
    const me = () =>
      fetch(`${submitter.app.url}/console/api/me`, {
        headers: { authorization: `Bearer ${issued.body.token}` },
      }).then((r) => r.status);
    expect(await me()).toBe(200);
    // A's backfill is under way: some of its gifts are delivered, with their sync state.
    await expectEventually(
      async () => expect(await count('sync_records', a.id)).toBeGreaterThan(0),
      {
        timeoutMs: 60_000,
        intervalMs: 200,
      },
    );
    const unfinished = await stack.dataSource.query<unknown[]>(
      `SELECT 1 FROM backfill_runs WHERE customer_id = $1 AND status IN ('pending', 'running')`,
      [a.id],
    );
    expect(unfinished.length).toBeGreaterThan(0);
    // A window reconciliation of A's gifts is running too.
    const run = await requestRun(reconciler, a.id, {
      kind: 'window',
      windowStart: new Date(Date.now() - 40 * 86_400_000).toISOString(),
      windowEnd: new Date().toISOString(),
      resources: ['gift'],
    });
    const runStatus = async (): Promise<{ status: string; error: string | null }> => {
      const [row] = await stack.dataSource.query<Array<{ status: string; error: string | null }>>(
        `SELECT status, error FROM reconciliation_runs WHERE id = $1`,
        [run.id],
      );
      return row ?? { status: 'gone', error: null };
    };
    await expectEventually(async () => expect((await runStatus()).status).toBe('running'), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });

    const off = await ingest.admin<{
      status: string;
      webhooks: { raise: string; crmPlus: string };
      purge: PurgeBody;
    }>('POST', `/admin/customers/${a.id}/offboard`);
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({
      status: 'offboarded',
      webhooks: { raise: 'removed', crmPlus: 'removed' },
      purge: { purgedAt: null, purgeWarehouse: false },
    });
    // The default grace period: 30 days.
    expect(Date.parse(off.body.purge.purgeAfter) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(sim.control.webhookSubscriptions(a.org)).toEqual([]);
    expect(sim.destinations.crmWebhooks(a.crm)).toEqual([]);
    expect(await me()).toBe(401);
    const secrets = await stack.dataSource.query<Array<{ c: boolean; d: boolean }>>(
      `SELECT (SELECT credentials IS NULL FROM customers WHERE id = $1) AS c,
              (SELECT bool_and(secrets IS NULL) FROM destinations WHERE customer_id = $1) AS d`,
      [a.id],
    );
    expect(secrets).toEqual([{ c: true, d: true }]);
    await expectEventually(
      async () => {
        const runs = await stack.dataSource.query<Array<{ status: string }>>(
          `SELECT DISTINCT status FROM backfill_runs WHERE customer_id = $1 AND status <> 'done'`,
          [a.id],
        );
        expect(runs).toEqual([{ status: 'cancelled' }]);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    // The running reconciliation stops as skipped, saying why.
    await expectEventually(
      async () =>
        expect(await runStatus()).toEqual({
          status: 'skipped',
          error: 'cancelled: the customer was offboarded',
        }),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    // Kept for the grace period.
    expect(await count('sync_records', a.id)).toBeGreaterThan(0);
    expect(await count('audit_log', a.id)).toBeGreaterThan(0);

    // B syncs on: a change made now reaches its warehouse.
    const changed = sim.control.recordKeys(b.org, 'gift')[0]?.id as number;
    sim.control.updateRecord(b.org, 'gift', changed, { amount: 77.5 });
    await expectEventually(async () => expect(await count('warehouse.raise_gift', b.id)).toBe(1), {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    const bBefore = await rowsNaming(b.id);

    // The grace period cut short, with the warehouse rows.
    const purge = await ingest.admin<PurgeBody>('POST', `/admin/customers/${a.id}/purge`, {
      purgeWarehouse: true,
    });
    expect(purge.status).toBe(202);
    const done = await waitPurged(a.id);
    expect(done.rowsDeleted['sync_records']).toBeGreaterThan(0);
    expect(done.rowsDeleted['warehouse.raise_gift']).toBeGreaterThan(0);
    expect(done.rowsDeleted['customers']).toBe(1);
    // Nothing names A but its purge record; B has every row it had.
    expect(await rowsNaming(a.id)).toEqual({ 'public.customer_purges': 1 });
    expect((await ingest.admin('GET', `/admin/customers/${a.id}`)).status).toBe(404);
    expect(await rowsNaming(b.id)).toEqual(bBefore);
  });

  it('offboarding with an immediate purge removes the state at once and leaves the warehouse unless asked', async () => {
    const c = await onboard('quick', 30, { mode: 'full_history' });
    await expectEventually(async () => expect(await count('warehouse.raise_gift', c.id)).toBe(30), {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    const off = await ingest.admin<{ purge: PurgeBody }>(
      'POST',
      `/admin/customers/${c.id}/offboard`,
      { purgeNow: true },
    );
    expect(off.status).toBe(200);
    expect(Date.parse(off.body.purge.purgeAfter) - Date.now()).toBeLessThan(20_000);
    await waitPurged(c.id);
    const left = await rowsNaming(c.id);
    // The state store holds only the purge record; the warehouse keeps its rows (not asked).
    expect(
      Object.fromEntries(Object.entries(left).filter(([t]) => t.startsWith('public.'))),
    ).toEqual({ 'public.customer_purges': 1 });
    expect(left['warehouse.raise_gift']).toBe(30);
  });
});

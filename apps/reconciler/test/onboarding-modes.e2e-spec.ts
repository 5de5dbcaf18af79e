import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { expectEventually, useTestStack } from '@raise-sync/testing';
import {
  requestRun,
  startBackfiller,
  startIngest,
  startReconciler,
  startSubmitter,
  waitForRun,
  type AppUnderTest,
} from './support';

jest.setTimeout(240_000);

const HOUR = 3_600_000;

interface CustomerBody {
  id: string;
  status: string;
  onboardingMode: string | null;
  syncFrom: string | null;
  createdAt: string;
  webhookSubscription?: string;
}

/**
 * Every onboarding mode from the admin API call to `live`, on the built apps (ingest, backfiller,
 * submitter, reconciler) against the simulated Raise: full history and history since a date by
 * backfill, "from now" with no history at all (not by polling, not by the reconciler's window
 * check either), and the mode without a backfill whose first polls read the history. Each
 * customer gets its reconciliation schedules, and a scheduled run fires and finishes for it.
 */
describe('onboarding modes: each ends live with its reconciliation schedules', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-modes`;
  let sim: Simulator;
  let submitter: AppUnderTest;
  let ingest: AppUnderTest;
  let backfiller: AppUnderTest;
  let reconciler: AppUnderTest;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 47 });
    // The first app creates the topics and registers their schemas; the others start after it.
    submitter = await startSubmitter(stack, prefix, sim);
    await Promise.all([
      startIngest(stack, prefix, sim, { POLL_TICK_MS: '200' }).then((a) => (ingest = a)),
      startBackfiller(stack, prefix, sim).then((a) => (backfiller = a)),
      startReconciler(stack, prefix, sim).then((a) => (reconciler = a)),
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

  /** A simulator org with an hour-old history and its customer, created in `mode`. */
  const onboard = async (
    name: string,
    body: Record<string, unknown>,
    beforeCreate: (org: string) => Record<string, unknown> = () => ({}),
  ): Promise<{ org: string; customer: CustomerBody }> => {
    const org = `${name}-${stack.prefix}`;
    sim.control.createOrg({
      id: org,
      raiseToken: `raise-${org}`,
      vomoToken: `vomo-${org}`,
      donors: 10,
      gifts: 40,
      recurringGifts: 0,
      campaigns: 2,
      users: 0,
      anchor: new Date(Date.now() - HOUR).toISOString(),
    });
    const created = await ingest.admin<CustomerBody>('POST', '/admin/customers', {
      name,
      raise: { apiToken: `raise-${org}` },
      polling: { enabled: true, intervalSeconds: 1 },
      ...body,
      ...beforeCreate(org),
    });
    expect(created.status).toBe(201);
    // The Raise webhook is part of onboarding.
    expect(created.body.webhookSubscription).toBe('subscribed');
    expect(sim.control.webhookSubscriptions(org)).toHaveLength(1);
    const set = await submitter.admin('PUT', `/admin/customers/${created.body.id}/destinations`, {
      destinations: [{ kind: 'warehouse', name: 'warehouse' }],
    });
    expect(set.status).toBe(200);
    return { org, customer: created.body };
  };

  const customerView = async (id: string): Promise<CustomerBody> => {
    const got = await ingest.admin<CustomerBody>('GET', `/admin/customers/${id}`);
    expect(got.status).toBe(200);
    return got.body;
  };

  const waitLive = async (id: string): Promise<void> =>
    expectEventually(
      async () => {
        // The backfill runs are in the failure message, should the customer not get there.
        const runs = await stack.dataSource.query<Array<{ resource: string; status: string }>>(
          `SELECT resource, status, last_error FROM backfill_runs WHERE customer_id = $1 ORDER BY resource`,
          [id],
        );
        expect(`${(await customerView(id)).status} ${JSON.stringify(runs)}`).toMatch(/^live /);
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );

  const warehouseGiftIds = async (customerId: string): Promise<string[]> => {
    const rows = await stack.dataSource.query<Array<{ source_id: string }>>(
      `SELECT source_id FROM warehouse.raise_gift WHERE customer_id = $1 ORDER BY source_id`,
      [customerId],
    );
    return rows.map((r) => r.source_id);
  };

  const giftIds = (org: string, since?: number): string[] =>
    sim.control
      .recordKeys(org, 'gift')
      .filter((k) => since === undefined || Date.parse(k.modifiedDate) >= since)
      .map((k) => String(k.id))
      .sort();

  /** Its default schedules exist; a webhook-log schedule made due now fires and finishes. */
  const scheduledRunFires = async (customerId: string): Promise<void> => {
    const path = `/admin/customers/${customerId}/reconciliation-schedules`;
    await expectEventually(
      async () => {
        const list = await reconciler.admin<Array<{ kind: string }>>('GET', path);
        expect(list.status).toBe(200);
        expect(list.body.map((s) => s.kind).sort()).toEqual(
          ['crm-consistency', 'deletion', 'webhook-log', 'window'].sort(),
        );
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const put = await reconciler.admin('PUT', path, {
      kind: 'webhook-log',
      cadence: 'hourly',
      nextRunAt: new Date(Date.now() - 5000).toISOString(),
    });
    expect(put.status).toBe(200);
    await expectEventually(
      async () => {
        const runs = await stack.dataSource.query<Array<{ status: string; error: string | null }>>(
          `SELECT status, error FROM reconciliation_runs
            WHERE customer_id = $1 AND trigger = 'schedule' AND kind = 'webhook-log'`,
          [customerId],
        );
        // (A default schedule may have fired once already; every run of it must succeed.)
        expect(runs.some((r) => r.status === 'done')).toBe(true);
        expect(
          runs.filter(
            (r) => r.status !== 'done' && r.status !== 'pending' && r.status !== 'running',
          ),
        ).toEqual([]);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  };

  it('full history: backfilling, then live with every gift in the warehouse; its scheduled run fires', async () => {
    const { org, customer } = await onboard('full', { mode: 'full_history' });
    expect(customer).toMatchObject({
      status: 'backfilling',
      onboardingMode: 'full_history',
      syncFrom: null,
    });
    await waitLive(customer.id);
    await expectEventually(
      async () => expect(await warehouseGiftIds(customer.id)).toEqual(giftIds(org)),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    await scheduledRunFires(customer.id);
  });

  it('history since a date: only gifts modified since then, then live; its scheduled run fires', async () => {
    let since = 0;
    const { org, customer } = await onboard('since', { mode: 'history_since' }, (o) => {
      // The median modification time of the org's gifts: about half of them are older.
      const times = sim.control
        .recordKeys(o, 'gift')
        .map((k) => Date.parse(k.modifiedDate))
        .sort((a, b) => a - b);
      since = times[Math.floor(times.length / 2)] as number;
      return { historySince: new Date(since).toISOString() };
    });
    expect(customer).toMatchObject({ status: 'backfilling', onboardingMode: 'history_since' });
    expect(Date.parse(customer.syncFrom as string)).toBe(since);
    await waitLive(customer.id);
    const expected = giftIds(org, since);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(giftIds(org).length);
    await expectEventually(
      async () => expect(await warehouseGiftIds(customer.id)).toEqual(expected),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    await scheduledRunFires(customer.id);
  });

  it('from now: live at once, no historical record published by polls or by the window check; changes flow', async () => {
    const { org, customer } = await onboard('now', { mode: 'from_now' });
    expect(customer).toMatchObject({ status: 'live', onboardingMode: 'from_now' });
    expect(Date.parse(customer.syncFrom as string)).toBeGreaterThanOrEqual(
      Date.parse(customer.createdAt) - 1000,
    );
    // A change after onboarding reaches the warehouse (webhook and poll alike).
    const changed = giftIds(org)[0] as string;
    sim.control.updateRecord(org, 'gift', Number(changed), { amount: 123.45 });
    await expectEventually(
      async () => expect(await warehouseGiftIds(customer.id)).toEqual([changed]),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    // Several polls of the gifts finished since, each from the onboarding checkpoint on.
    const finished = async (): Promise<number> => {
      const rows = await stack.dataSource.query<Array<{ at: Date | null }>>(
        `SELECT last_finished_at AS at FROM poll_schedule
          WHERE customer_id = $1 AND source = 'raise' AND resource = 'gift'`,
        [customer.id],
      );
      return rows[0]?.at ? new Date(rows[0].at).getTime() : 0;
    };
    const afterChange = Date.now();
    await expectEventually(async () => expect(await finished()).toBeGreaterThan(afterChange), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    // The window check over the org's whole history (40 days) looks no further back than the
    // onboarding: it finds nothing missing and republishes nothing, though the source holds 40
    // gifts in that window and the warehouse one.
    const windowStart = Date.now() - 40 * 24 * HOUR;
    expect(giftIds(org, windowStart)).toHaveLength(40);
    const run = await requestRun(reconciler, customer.id, {
      kind: 'window',
      windowStart: new Date(windowStart).toISOString(),
      windowEnd: new Date(Date.now() - 1000).toISOString(),
    });
    const done = await waitForRun(reconciler, run.id);
    expect(done.status).toBe('done');
    expect(done.discrepancies.items).toEqual([]);
    expect(await warehouseGiftIds(customer.id)).toEqual([changed]);
    await scheduledRunFires(customer.id);
  });

  it('without a mode or backfill: poll_history, live at once, the first polls bring the history', async () => {
    const { org, customer } = await onboard('poll', {});
    expect(customer).toMatchObject({
      status: 'live',
      onboardingMode: 'poll_history',
      syncFrom: null,
    });
    await expectEventually(
      async () => expect(await warehouseGiftIds(customer.id)).toEqual(giftIds(org)),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    await scheduledRunFires(customer.id);
  });

  it('refuses contradictory modes with a 400 that names the problem', async () => {
    const refused = async (body: Record<string, unknown>): Promise<string> => {
      const response = await ingest.admin<{ message: string | string[] }>(
        'POST',
        '/admin/customers',
        { name: 'Refused', raise: { apiToken: 'raise-none' }, ...body },
      );
      expect(response.status).toBe(400);
      return ([] as string[]).concat(response.body.message).join('; ');
    };
    expect(await refused({ mode: 'history_since' })).toMatch(/needs historySince/);
    expect(await refused({ mode: 'from_now', backfill: {} })).toMatch(/drop backfill/);
    expect(await refused({ mode: 'full_history', historySince: '2025-01-01T00:00:00Z' })).toMatch(
      /history_since/,
    );
    expect(await refused({ mode: 'history_since', historySince: '2999-01-01T00:00:00Z' })).toMatch(
      /future/,
    );
    expect(await refused({ mode: 'sometimes' })).toMatch(/mode/);
  });
});

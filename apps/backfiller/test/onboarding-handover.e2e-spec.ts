import { EventCodec } from '@raise-sync/shared/kafka';
import { topicsFor } from '@raise-sync/shared/kafka';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  adminClient,
  expectEventually,
  useTestStack,
  type AdminCall,
  type RunningApp,
} from '@raise-sync/testing';
import {
  ADMIN_TOKEN,
  rangeRows,
  startBackfiller,
  startIngest,
  startSubmitter,
  waitForRunStatus,
  warehouseGiftIds,
  type BackfillerUnderTest,
} from './support';

jest.setTimeout(120_000);

const GIFTS = 3000;

describe('backfiller: onboarding backfill hands over to steady state without losing live changes', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-hand`;
  let sim: Simulator;
  let ingest: { app: RunningApp; admin: AdminCall };
  let submitter: RunningApp;
  let backfiller: BackfillerUnderTest;

  // Slow enough (4 requests/s for the customer, shared by ingest and the backfiller through
  // PostgreSQL) that the backfill is still running while Raise activity happens.
  const rates = { SOURCE_RATE_LIMITS: 'raise=4:2' };

  beforeAll(async () => {
    sim = await startSimulator({ seed: 31 });
    // The first app creates the topics and registers their schemas; the others start together
    // after it (concurrent first registrations of a subject can race in the registry). Each is
    // assigned as soon as it runs, so afterAll stops whatever started.
    submitter = await startSubmitter(stack, sim, prefix);
    await Promise.all([
      startIngest(stack, sim, prefix, rates).then((app) => (ingest = app)),
      startBackfiller(stack, sim, prefix, {
        ...rates,
        BACKFILL_PAGE_SIZE: '200',
        BACKFILL_RANGE_RECORDS: '1000',
        BACKFILL_MAX_RANGES: '3',
        BACKFILL_WORKERS: '2',
      }).then((app) => (backfiller = app)),
    ]);
  });

  afterAll(async () => {
    await Promise.all([
      backfiller?.app.stop('SIGTERM'),
      ingest?.app.stop('SIGTERM'),
      submitter?.stop('SIGTERM'),
    ]);
    await sim?.stop();
  });

  it('webhooks during the backfill reach the warehouse; when done the customer is live and polling resumes from the capped high-water mark', async () => {
    const org = `hand-${stack.prefix}`;
    const raiseToken = `raise-${org}`;
    sim.control.createOrg({
      id: org,
      raiseToken,
      vomoToken: `vomo-${org}`,
      gifts: GIFTS,
      donors: 300,
      campaigns: 3,
      recurringGifts: 20,
      users: 0,
    });
    const created = await ingest.admin<{ id: string; status: string; webhookSubscription: string }>(
      'POST',
      '/admin/customers',
      {
        name: 'Hand-over Trust',
        raise: { apiToken: raiseToken },
        polling: { enabled: true, intervalSeconds: 3600 },
        backfill: { resources: ['gift'] },
      },
    );
    expect(created.status).toBe(201);
    // The Raise webhook is subscribed as part of onboarding.
    expect(created.body.webhookSubscription).toBe('subscribed');
    expect(created.body.status).toBe('backfilling');
    const customerId = created.body.id;
    expect(
      (
        await adminClient(submitter.url, ADMIN_TOKEN)(
          'PUT',
          `/admin/customers/${customerId}/destinations`,
          {
            destinations: [{ kind: 'warehouse', name: 'warehouse' }],
          },
        )
      ).status,
    ).toBe(200);
    const runs = await stack.dataSource.query<Array<{ id: string; status: string }>>(
      `SELECT id, status FROM backfill_runs WHERE customer_id = $1 AND trigger = 'onboarding'`,
      [customerId],
    );
    expect(runs).toHaveLength(1);
    const runId = runs[0]?.id ?? '';

    // Once the first range has published a page: one new gift, one change in a part already
    // read, one change in a part not read yet (the last range waits for a free worker).
    const keys = sim.control.recordKeys(org, 'gift');
    const firstId = Math.min(...keys.map((k) => k.id));
    const lastId = Math.max(...keys.map((k) => k.id));
    await expectEventually(
      async () => {
        const ranges = await rangeRows(stack, runId);
        expect(Number(ranges[0]?.cursor ?? 0)).toBeGreaterThanOrEqual(firstId);
        expect(ranges[ranges.length - 1]?.cursor).toBeNull();
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    const fresh = sim.control.createRecord(org, 'gift', { amount: 43.21 });
    sim.control.updateRecord(org, 'gift', firstId, { amount: 98.76 });
    sim.control.updateRecord(org, 'gift', lastId, { amount: 12.34 });
    // While backfilling, polling of gifts waits for the hand-over (no second full read).
    const [schedule] = await stack.dataSource.query<
      Array<{ deferred: boolean; last_started_at: Date | null }>
    >(
      `SELECT next_poll_at = 'infinity' AS deferred, last_started_at FROM poll_schedule
        WHERE customer_id = $1 AND resource = 'gift'`,
      [customerId],
    );
    expect(schedule).toEqual({ deferred: true, last_started_at: null });

    const run = await waitForRunStatus(stack, runId, 'done', 60_000);
    const [customer] = await stack.dataSource.query<Array<{ status: string }>>(
      `SELECT status FROM customers WHERE id = $1`,
      [customerId],
    );
    expect(customer?.status).toBe('live');

    // The last range read the gift changed during the backfill, so the high-water mark is after
    // the start: the checkpoint is capped at the start, and polling reads those changes again.
    expect(run.high_water_id).toBe(String(lastId));
    expect(run.high_water_at?.getTime()).toBeGreaterThan(run.started_at?.getTime() ?? Infinity);
    // What the hand-over wrote (from its log line: polling may already have moved the checkpoint
    // on by the time the test reads the table, which is forward-only).
    const handOver = backfiller.app
      .logs()
      .find((l) => l['msg'] === 'backfill run done' && l['runId'] === runId);
    expect(handOver?.['checkpoint']).toEqual({ at: run.started_at?.toISOString(), id: '0' });
    const [checkpoint] = await stack.dataSource.query<
      Array<{ last_processed_at: Date; last_processed_id: string }>
    >(
      `SELECT last_processed_at, last_processed_id FROM checkpoints
        WHERE customer_id = $1 AND resource = 'gift' AND direction = 'inbound'`,
      [customerId],
    );
    expect(checkpoint?.last_processed_at.getTime()).toBeGreaterThanOrEqual(
      run.started_at?.getTime() ?? Infinity,
    );
    await expectEventually(
      async () => {
        // The poll pass after the hand-over has finished.
        const [polled] = await stack.dataSource.query<Array<{ last_finished_at: Date | null }>>(
          `SELECT last_finished_at FROM poll_schedule WHERE customer_id = $1 AND resource = 'gift'`,
          [customerId],
        );
        expect(polled?.last_finished_at).not.toBeNull();
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );

    // Nothing lost: every gift, the new one included, with the changes made during the backfill.
    await expectEventually(
      async () => {
        const ids = await warehouseGiftIds(stack, customerId);
        expect(ids).toHaveLength(GIFTS + 1);
        const amounts = await stack.dataSource.query<Array<{ source_id: string; amount: string }>>(
          `SELECT source_id, amount FROM warehouse.raise_gift WHERE customer_id = $1 AND source_id = ANY($2)`,
          [customerId, [String(fresh.id), String(firstId), String(lastId)]],
        );
        expect(Object.fromEntries(amounts.map((a) => [a.source_id, Number(a.amount)]))).toEqual({
          [String(fresh.id)]: 43.21,
          [String(firstId)]: 98.76,
          [String(lastId)]: 12.34,
        });
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(new Set(await warehouseGiftIds(stack, customerId))).toEqual(
      new Set(sim.control.recordKeys(org, 'gift').map((k) => String(k.id))),
    );

    // The new gift came by webhook (live topic), the backfill's events went to the bulk lane; the
    // gift changed during the backfill came by webhook, backfill and the first poll after the
    // hand-over.
    const topics = topicsFor(prefix);
    const records = [];
    for (const topic of [
      topics.sourceEvents('raise', 'gift'),
      topics.bulkEvents('raise', 'gift'),
    ]) {
      const count = await stack.kafka.messageCount(topic);
      records.push(...(await stack.consumeAll(topic, { count, timeoutMs: 30_000 })));
    }
    const codec = new EventCodec(stack.registryUrl);
    const origins = new Map<string, Set<string>>();
    for (const record of records) {
      const decoded = await codec.decode(record.value);
      if (decoded.ok && decoded.event.customerId === customerId) {
        const set = origins.get(decoded.event.recordId) ?? new Set<string>();
        set.add(decoded.event.origin);
        origins.set(decoded.event.recordId, set);
      }
    }
    expect(origins.get(String(fresh.id))?.has('webhook')).toBe(true);
    expect(origins.get(String(lastId))).toEqual(new Set(['webhook', 'backfill', 'poll']));
    expect([...origins.values()].filter((set) => set.has('backfill'))).toHaveLength(GIFTS);
  });
});

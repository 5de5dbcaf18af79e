import { randomBytes } from 'node:crypto';
import { expectEventually, useTestStack } from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  createCustomer,
  giftEvent,
  ledgerOf,
  publish,
  startSubmitter,
  type SubmitterUnderTest,
} from './support';

const EVENTS = Number(process.env['CRASH_TEST_EVENTS'] ?? 50_000);

// The test's own bounds are the waits below (3 × 120 s of progress, 600 s of drain, 90 s of
// ledger); the Jest timeout only has to leave them room. 420 s cut a run on a loaded machine
// short while it was still draining at its own pace.
jest.setTimeout(1_500_000);

describe('submitter: kill -9 repeatedly during a 50,000-event run', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-crash`;
  let sim: Simulator;
  let submitter: SubmitterUnderTest | undefined;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 13 });
  });

  afterAll(async () => {
    if (process.env['CRASH_TEST_DEBUG']) {
      process.stdout.write(
        `${JSON.stringify(
          submitter?.app
            .logs()
            .filter((l) => l['level'] !== 'info' && l['level'] !== 'debug')
            .slice(-8),
          null,
          1,
        )}\n`,
      );
      const metrics = await (await fetch(`${submitter?.app.url ?? ''}/metrics`)).text();
      process.stdout.write(
        `${metrics
          .split('\n')
          .filter((l) =>
            /deliveries_total|delivery_duration_seconds_count|consumer_handler|events_consumed/.test(
              l,
            ),
          )
          .join('\n')}\n`,
      );
    }
    await submitter?.app.stop('SIGKILL');
    await sim?.stop();
  });

  it('loses nothing and duplicates nothing at any destination', async () => {
    const env = { SUBMITTER_PARTITIONS_CONCURRENCY: '6', SUBMITTER_KEY_CONCURRENCY: '32' };
    submitter = await startSubmitter(stack, prefix, env); // creates the topics
    const c = await createCustomer(stack, sim, `k-${randomBytes(3).toString('hex')}`, [
      'warehouse',
      'crm-plus',
      'webhook',
    ]);
    const events = Array.from({ length: EVENTS }, () => giftEvent(c.id));
    const ids = events.map((e) => e.recordId).sort();
    await publish(stack, prefix, events);

    const warehouseCount = async (): Promise<number> => {
      const rows: Array<{ n: string }> = await stack.dataSource.query(
        `SELECT count(*) AS n FROM warehouse.raise_gift WHERE customer_id = $1`,
        [c.id],
      );
      return Number(rows[0]?.n ?? 0);
    };
    const crmAccount = c.destinations['crm-plus']?.account ?? '';
    const hookAccount = c.destinations.webhook?.account ?? '';
    // Deliveries at all three destinations: the warehouse is done long before the HTTP ones,
    // which drain their lanes at their own pace (they do not hold the partitions).
    const progress = async (): Promise<number> =>
      (await warehouseCount()) +
      sim.destinations.crmGifts(crmAccount).length +
      sim.destinations.hookDeliveries(hookAccount).length;
    // Kill it three times while it works, each time after it made some progress.
    const t0 = Date.now();
    for (let kill = 0; kill < Number(process.env['CRASH_TEST_KILLS'] ?? 3); kill += 1) {
      const before = await progress();
      await expectEventually(async () => expect(await progress()).toBeGreaterThan(before + 2000), {
        // A restarted member waits out the killed one's session before it gets partitions;
        // on a loaded 2-core machine that plus start-up once took over 60 s.
        timeoutMs: 120_000,
        intervalMs: 200,
      });
      expect(await submitter.app.stop('SIGKILL')).toBeNull();
      submitter = await startSubmitter(stack, prefix, env);
    }
    process.stdout.write(
      `crash test: kills done; warehouse had ${await warehouseCount()} rows, CRM+ ${sim.destinations.crmGifts(crmAccount).length}, webhook ${sim.destinations.hookDeliveries(hookAccount).length} deliveries at the last kill\n`,
    );

    await expectEventually(
      async () => {
        expect(await warehouseCount()).toBe(EVENTS);
        expect(sim.destinations.crmGifts(crmAccount)).toHaveLength(EVENTS);
        expect(sim.destinations.hookDeliveries(hookAccount)).toHaveLength(EVENTS);
      },
      // Draining is bound by throughput: two busy cores beside the test slow it several times.
      { timeoutMs: 600_000, intervalMs: 1000 },
    );
    process.stdout.write(
      `crash test: all ${EVENTS} events at 3 destinations after ${Date.now() - t0} ms\n`,
    );
    const rows: Array<{ source_id: string }> = await stack.dataSource.query(
      `SELECT source_id FROM warehouse.raise_gift WHERE customer_id = $1 ORDER BY source_id`,
      [c.id],
    );
    expect(rows.map((r) => r.source_id)).toEqual(ids);
    expect(
      sim.destinations
        .crmGifts(crmAccount)
        .map((g) => g.transactionId)
        .sort(),
    ).toEqual(ids);
    expect(
      sim.destinations
        .hookDeliveries(hookAccount)
        .map((h) => h.recordId)
        .sort(),
    ).toEqual(ids);
    process.stdout.write(
      `crash test: webhook duplicates absorbed by the idempotency key: ${sim.destinations.hookDuplicates(hookAccount).length}\n`,
    );
    // A retry scheduled just before a kill waits for its retry group to rebalance (the killed
    // member's session must expire first), so it can settle after the last record has arrived.
    try {
      await expectEventually(
        async () => {
          for (const row of await ledgerOf(submitter as SubmitterUnderTest, c.id)) {
            expect({
              destination: row.destination,
              imbalance: row.imbalance,
              inRetry: row.inRetry,
              waiting: row.waiting,
            }).toEqual({ destination: row.destination, imbalance: 0, inRetry: 0, waiting: 0 });
            expect(row.delivered).toBeGreaterThanOrEqual(EVENTS);
          }
        },
        { timeoutMs: 90_000, intervalMs: 1000 },
      );
    } catch (error) {
      const pending: unknown[] = await stack.dataSource.query(
        `SELECT destination_id, event_id, attempt, due_at, last_error, first_failed_at, updated_at
           FROM retry_entries WHERE customer_id = $1`,
        [c.id],
      );
      process.stdout.write(`crash test: retry entries left: ${JSON.stringify(pending)}\n`);
      throw error;
    }
  });
});

import { randomBytes } from 'node:crypto';
import { DestinationEntity } from '@raise-sync/shared/state';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { expectEventually, parkLaneEvents, scrapeMetric, useTestStack } from '@raise-sync/testing';
import {
  createCustomer,
  requestRun,
  startReconciler,
  waitForRun,
  type AppUnderTest,
  type Onboarded,
  type RunBody,
} from './support';

jest.setTimeout(120_000);

const GIFTS = 300;
const DONORS = 40;
const DAY_MS = 24 * 3600 * 1000;
/** BACKFILL_MAX_WAITING of this file: A's lanes get more than this, B's none. */
const LIMIT = 50;

/**
 * Push-back from a customer's destination lanes (issue 13) in the reconciler. A's lane is
 * filled directly past BACKFILL_MAX_WAITING, as the submitter would for a destination that
 * cannot keep up. A's window runs, requested first and as many as the replica works at once
 * (two), reach their republish and wait there; they lend their working slots out, so B's run,
 * requested after them, is claimed and finishes meanwhile. A's runs finish by themselves once
 * the lane drained. Nothing was ever delivered (no submitter): every record is a gap.
 */
describe("reconciler: push-back from one customer's destination lanes never holds another", () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-rpb`;
  let sim: Simulator;
  let reconciler: AppUnderTest;
  let a: Onboarded;
  let b: Onboarded;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 707 });
    reconciler = await startReconciler(stack, prefix, sim, {
      RECONCILER_PAGE_SIZE: '100',
      BACKFILL_MAX_WAITING: String(LIMIT),
      // Nothing consumes the bulk topics here: the lag gate is not what this file is about.
      BACKFILL_MAX_LAG: '0',
    });
    const data = { gifts: GIFTS, donors: DONORS };
    // Still onboarding: the scheduler gives only live customers default schedules, so no
    // scheduled run of A or B (an hourly one coming due mid-test) competes with the ones asked for.
    a = await createCustomer(
      stack,
      sim,
      `rpb-a-${randomBytes(3).toString('hex')}`,
      data,
      'onboarding',
    );
    b = await createCustomer(
      stack,
      sim,
      `rpb-b-${randomBytes(3).toString('hex')}`,
      data,
      'onboarding',
    );
  });

  afterAll(async () => {
    await reconciler?.app.stop('SIGTERM');
    await sim?.stop();
  });

  it("A's runs wait at their republish without holding the replica; B's run finishes; A's after the lane drained", async () => {
    const destination = await stack.dataSource
      .getRepository(DestinationEntity)
      .findOneByOrFail({ customerId: a.id, kind: 'warehouse' });
    await parkLaneEvents(stack.dataSource, {
      destinationId: destination.id,
      customerId: a.id,
      count: LIMIT + 10,
    });
    // Generated records lie in the 30 days before the start of today (UTC): a closed window.
    const anchor = new Date(new Date().toISOString().slice(0, 10));
    const window = {
      windowStart: new Date(anchor.getTime() - 31 * DAY_MS).toISOString(),
      windowEnd: anchor.toISOString(),
    };
    // A's two runs become pending together (one statement), so one tick claims both: every
    // working slot of the replica is then A's. (Requested one by one, a tick could claim the
    // first alone, which is held at once, and the second would rightly not be claimed while A is.)
    const aRuns = await stack.dataSource.query<Array<{ id: string }>>(
      `INSERT INTO reconciliation_runs (customer_id, kind, window_start, window_end, resources, trigger, status)
       VALUES ($1, 'window', $2, $3, ARRAY['gift'], 'admin', 'pending'),
              ($1, 'window', $2, $3, ARRAY['donor'], 'admin', 'pending')
       RETURNING id`,
      [a.id, window.windowStart, window.windowEnd],
    );
    const running = async (id: string): Promise<RunBody> =>
      (await reconciler.admin<RunBody>('GET', `/admin/reconciliations/${id}`)).body;
    // Both of A's runs are in hand and waiting before B's is even requested.
    await expectEventually(
      async () => {
        for (const run of aRuns) {
          expect((await running(run.id)).status).toBe('running');
        }
        expect(
          await scrapeMetric(reconciler.app.url, 'raise_sync_bulk_pushback_seconds_total', {
            customer_id: a.id,
            caller: 'reconcile',
          }),
        ).toBeGreaterThan(0);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );

    const bRun = await requestRun(reconciler, b.id, { ...window, resources: ['gift'] });
    const bDone = await waitForRun(reconciler, bRun.id, 30_000);
    expect(bDone).toMatchObject({ status: 'done', error: null });
    expect(bDone.counts).toMatchObject({ source_total: GIFTS, republished: GIFTS });
    // A's runs still wait, unfailed, and A published nothing.
    for (const run of aRuns) {
      expect((await running(run.id)).status).toBe('running');
    }
    expect(
      await scrapeMetric(reconciler.app.url, 'raise_sync_reconciliation_republished_total', {
        customer_id: a.id,
      }),
    ).toBe(0);
    expect(
      await scrapeMetric(reconciler.app.url, 'raise_sync_bulk_pushback_seconds_total', {
        customer_id: b.id,
      }),
    ).toBe(0);
    const held = reconciler.app
      .logs()
      .filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('bulk work held'));
    expect(new Set(held.map((l) => l['customerId']))).toEqual(new Set([a.id]));

    await stack.dataSource.query(`DELETE FROM retry_entries WHERE customer_id = $1`, [a.id]);
    const [gifts, donors] = await Promise.all(aRuns.map((r) => waitForRun(reconciler, r.id)));
    expect(gifts).toMatchObject({ status: 'done', error: null });
    expect(gifts?.counts).toMatchObject({ source_total: GIFTS, republished: GIFTS });
    expect(donors).toMatchObject({ status: 'done', error: null });
    expect(donors?.counts).toMatchObject({ source_total: DONORS, republished: DONORS });
  });
});

import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { expectEventually, parkLaneEvents, scrapeMetric, useTestStack } from '@raise-sync/testing';
import { DestinationEntity } from '@raise-sync/shared/state';
import {
  createRaiseCustomer,
  rangePages,
  rangeRows,
  runRow,
  startBackfiller,
  waitForRunStatus,
  type BackfillerUnderTest,
  type RaiseCustomer,
} from './support';

jest.setTimeout(180_000);

const GIFTS = 3000;
const PAGE = 250;
/** BACKFILL_MAX_WAITING of this file: A's lanes get more than this, B's none. */
const LIMIT = 50;

interface RunBody {
  id: string;
  status: string;
  progress: { recordsDone: number; ranges: Record<string, number> };
  pushback: { waiting: number; limit: number } | null;
}

interface ReplayBody {
  id: string;
  status: string;
  topics: string[];
  pushback: { waiting: number; limit: number } | null;
  progress: { matched: number; published: number; offsetsTotal: number };
}

/**
 * Push-back from a customer's destination lanes (issue 13). The submitter parks the events of a
 * destination that cannot keep up in its lane (retry_entries with parked_at); here A's lane is
 * filled directly, past BACKFILL_MAX_WAITING, as the submitter would for a CRM+ taking 1 record/s.
 * The backfiller holds A's bulk work, and only A's: with two workers and A's run requested first
 * (three ranges), B's backfill and replays run to the end while A's wait, and A's resume by
 * themselves once its lane drained. No submitter runs: nothing drains the lane but the test.
 */
describe("backfiller: push-back from one customer's destination lanes never holds another", () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-pb`;
  let sim: Simulator;
  let backfiller: BackfillerUnderTest;
  let a: RaiseCustomer;
  let b: RaiseCustomer;
  let aRun = '';

  /** Parks `count` events in A's warehouse lane, the way the submitter stores them. */
  async function fillLane(customerId: string, count: number): Promise<void> {
    const destination = await stack.dataSource
      .getRepository(DestinationEntity)
      .findOneByOrFail({ customerId, kind: 'warehouse' });
    await parkLaneEvents(stack.dataSource, { destinationId: destination.id, customerId, count });
  }

  const drainLane = (customerId: string): Promise<unknown> =>
    stack.dataSource.query(`DELETE FROM retry_entries WHERE customer_id = $1`, [customerId]);

  const pushbackSeconds = (customerId: string, caller: string): Promise<number> =>
    scrapeMetric(backfiller.app.url, 'raise_sync_bulk_pushback_seconds_total', {
      customer_id: customerId,
      caller,
    });

  beforeAll(async () => {
    sim = await startSimulator({ seed: 41 });
    backfiller = await startBackfiller(stack, sim, prefix, {
      SOURCE_RATE_LIMITS: 'raise=40:20,vomo=10:5',
      BACKFILL_PAGE_SIZE: String(PAGE),
      BACKFILL_RANGE_RECORDS: '1000',
      BACKFILL_WORKERS: '2',
      BACKFILL_LEASE_SECONDS: '10',
      BACKFILL_MAX_WAITING: String(LIMIT),
      // Nothing consumes the bulk topics here: the lag gate is not what this file is about.
      BACKFILL_MAX_LAG: '0',
    });
    const data = { gifts: GIFTS, donors: 100, campaigns: 2, recurringGifts: 0, users: 0 };
    a = await createRaiseCustomer(stack, sim, `pb-a-${stack.prefix}`, data);
    b = await createRaiseCustomer(stack, sim, `pb-b-${stack.prefix}`, data);
  });

  afterAll(async () => {
    await backfiller?.app.stop('SIGTERM');
    await sim?.stop();
  });

  it("A's deep lane holds A's backfill (no page read); B's, requested after it, runs to the end", async () => {
    await fillLane(a.id, LIMIT + 10);
    aRun = (
      await backfiller.admin<RunBody>('POST', `/admin/customers/${a.id}/backfills`, {
        resource: 'gift',
      })
    ).body.id;
    // A's ranges are planned and claimed first (two workers, three ranges of A).
    await expectEventually(
      async () => expect((await rangeRows(stack, aRun)).length).toBeGreaterThanOrEqual(3),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const bRun = (
      await backfiller.admin<RunBody>('POST', `/admin/customers/${b.id}/backfills`, {
        resource: 'gift',
      })
    ).body.id;
    await waitForRunStatus(stack, bRun, 'done', 90_000);
    expect(Number((await runRow(stack, bRun)).records_total)).toBe(GIFTS);

    // A published nothing and read no page (its source budget untouched), and nothing failed.
    const ranges = await rangeRows(stack, aRun);
    expect(ranges.reduce((n, r) => n + Number(r.records_done), 0)).toBe(0);
    expect(ranges.every((r) => r.status === 'pending' || r.status === 'running')).toBe(true);
    expect(rangePages(sim, a.org, PAGE)).toEqual([]);
    const aRow = await runRow(stack, aRun);
    expect(aRow).toMatchObject({ status: 'running', last_error: null });
    expect(
      await stack.dataSource.query(
        `SELECT last_error FROM backfill_jobs WHERE run_id = $1 AND last_error IS NOT NULL`,
        [aRun],
      ),
    ).toEqual([]);
    expect(
      await scrapeMetric(backfiller.app.url, 'raise_sync_backfill_failures_total', {
        customer_id: a.id,
      }),
    ).toBe(0);

    // Visible: the run says it is held, a metric counts the time, a log line names A.
    const view = (await backfiller.admin<RunBody>('GET', `/admin/backfills/${aRun}`)).body;
    expect(view).toMatchObject({
      status: 'running',
      pushback: { waiting: LIMIT + 1, limit: LIMIT },
    });
    expect(
      (await backfiller.admin<RunBody>('GET', `/admin/backfills/${bRun}`)).body.pushback,
    ).toBeNull();
    expect(await pushbackSeconds(a.id, 'backfill')).toBeGreaterThan(0);
    expect(await pushbackSeconds(b.id, 'backfill')).toBe(0);
    const held = backfiller.app
      .logs()
      .filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('bulk work held'));
    expect(held.length).toBeGreaterThan(0);
    expect(new Set(held.map((l) => l['customerId']))).toEqual(new Set([a.id]));
  });

  it("A's backfill resumes by itself once its lane drained, and completes", async () => {
    await drainLane(a.id);
    await waitForRunStatus(stack, aRun, 'done', 90_000);
    const ranges = await rangeRows(stack, aRun);
    expect(ranges.reduce((n, r) => n + Number(r.records_done), 0)).toBe(GIFTS);
    expect((await backfiller.admin<RunBody>('GET', `/admin/backfills/${aRun}`)).body.pushback).toBe(
      null,
    );
    await expectEventually(
      () =>
        expect(
          backfiller.app
            .logs()
            .some(
              (l) =>
                l['msg'] ===
                  "bulk work resumes: the customer's destination lanes are below the limit" &&
                l['customerId'] === a.id,
            ),
        ).toBe(true),
      { timeoutMs: 10_000, intervalMs: 200 },
    );
  });

  it("replays too: A's (two of them, requested first) wait while B's is done; A's finish after", async () => {
    const start = async (customerId: string): Promise<string> => {
      const res = await backfiller.admin<ReplayBody>(
        'POST',
        `/admin/customers/${customerId}/replays`,
        { resource: 'gift' },
      );
      expect(res.status).toBe(202);
      return res.body.id;
    };
    const replay = async (id: string): Promise<ReplayBody> =>
      (await backfiller.admin<ReplayBody>('GET', `/admin/replays/${id}`)).body;
    // A's lane fills while A is paused (its replays wait, pending), until the backfiller sees
    // it: its lane counts are at most a second old, and A's last count (its backfill) was "empty".
    await stack.dataSource.query(`UPDATE customers SET status = 'paused' WHERE id = $1`, [a.id]);
    await fillLane(a.id, LIMIT + 10);
    const aReplays = [await start(a.id), await start(a.id)];
    await expectEventually(
      async () => expect((await replay(aReplays[0] ?? '')).pushback).not.toBeNull(),
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    await stack.dataSource.query(`UPDATE customers SET status = 'live' WHERE id = $1`, [a.id]);
    const bReplay = await start(b.id);
    await expectEventually(
      async () => {
        const view = await replay(bReplay);
        expect(view.status).toBe('done');
        expect(view.progress.published).toBe(GIFTS);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    for (const id of aReplays) {
      const view = await replay(id);
      expect(view.status === 'pending' || view.status === 'running').toBe(true);
      expect(view.progress.published).toBe(0);
      expect(view.pushback).toEqual({ waiting: LIMIT + 1, limit: LIMIT });
    }
    expect(await pushbackSeconds(a.id, 'replay')).toBeGreaterThan(0);
    expect(await pushbackSeconds(b.id, 'replay')).toBe(0);

    await drainLane(a.id);
    await expectEventually(
      async () => {
        for (const id of aReplays) {
          const view = (await backfiller.admin<ReplayBody>('GET', `/admin/replays/${id}`)).body;
          expect(view.status).toBe('done');
          expect(view.progress.published).toBe(GIFTS);
        }
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  });
});

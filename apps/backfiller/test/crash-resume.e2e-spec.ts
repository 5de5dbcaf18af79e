import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { expectEventually, useTestStack } from '@raise-sync/testing';
import type { RunningApp } from '@raise-sync/testing';
import {
  createRaiseCustomer,
  rangePages,
  rangeRows,
  startBackfiller,
  startSubmitter,
  waitForRunStatus,
  warehouseGiftCount,
  warehouseGiftIds,
  type BackfillerUnderTest,
  type RangeRow,
} from './support';

jest.setTimeout(240_000);

const GIFTS = 200_000;
const PAGE = 1000;
const WORKERS = 4;
/** Kill the backfiller once this many pages are checkpointed, then again at the second mark. */
const KILL_AT_PAGES = [40, 110];

describe('backfiller: 200,000 gifts, killed twice mid-run, resumes from its checkpoints', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-crash`;
  let sim: Simulator;
  let submitter: RunningApp;
  let backfiller: BackfillerUnderTest | undefined;

  const env = {
    SOURCE_RATE_LIMITS: 'raise=200:50',
    BACKFILL_PAGE_SIZE: String(PAGE),
    BACKFILL_RANGE_RECORDS: '50000',
    BACKFILL_MAX_RANGES: '4',
    BACKFILL_WORKERS: String(WORKERS),
    BACKFILL_LEASE_SECONDS: '5',
    BACKFILL_LOG_EVERY_PAGES: '10',
  };

  beforeAll(async () => {
    sim = await startSimulator({ seed: 5 });
    submitter = await startSubmitter(stack, sim, prefix, { SUBMITTER_PARTITIONS_CONCURRENCY: '6' });
  });

  afterAll(async () => {
    await backfiller?.app.stop('SIGTERM');
    await submitter?.stop('SIGTERM');
    await sim?.stop();
  });

  it('publishes every gift exactly once into the warehouse and re-reads only the pages in flight at each kill', async () => {
    const customer = await createRaiseCustomer(stack, sim, `big-${stack.prefix}`, {
      gifts: GIFTS,
      donors: 2000,
      campaigns: 5,
      recurringGifts: 50,
      users: 0,
    });
    const started = Date.now();
    backfiller = await startBackfiller(stack, sim, prefix, env);
    const requested = await backfiller.admin<{ id: string }>(
      'POST',
      `/admin/customers/${customer.id}/backfills`,
      { resource: 'gift' },
    );
    expect(requested.status).toBe(202);
    const runId = requested.body.id;

    // Every checkpoint observed, per range, to show they only ever move forward.
    const seen = new Map<string, Array<{ cursor: number; recordsDone: number }>>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const row of await rangeRows(stack, runId)) {
          const list = seen.get(row.id) ?? [];
          list.push({
            cursor: Number(row.cursor ?? row.range_start) - (row.cursor ? 0 : 1),
            recordsDone: Number(row.records_done),
          });
          seen.set(row.id, list);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();

    // Kill twice, each time after more pages were checkpointed; restart at once.
    const atKill: Array<{ ranges: RangeRow[]; pagesServed: number }> = [];
    for (const mark of KILL_AT_PAGES) {
      await expectEventually(
        async () => {
          const pages = (await rangeRows(stack, runId)).reduce(
            (n, r) => n + Number(r.pages_done),
            0,
          );
          expect(pages).toBeGreaterThanOrEqual(mark);
        },
        { timeoutMs: 90_000, intervalMs: 100 },
      );
      await backfiller.app.stop('SIGKILL');
      // Requests already on the wire reach the simulator a moment later; let them land.
      await new Promise((resolve) => setTimeout(resolve, 300));
      atKill.push({
        ranges: await rangeRows(stack, runId),
        pagesServed: rangePages(sim, customer.org, PAGE).length,
      });
      backfiller = await startBackfiller(stack, sim, prefix, env);
    }

    const run = await waitForRunStatus(stack, runId, 'done', 150_000);
    sampling = false;
    await sampler;
    const backfillSeconds = (Date.now() - started) / 1000;
    await expectEventually(
      async () => expect(await warehouseGiftCount(stack, customer.id)).toBe(GIFTS),
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const syncedSeconds = (Date.now() - started) / 1000;

    // Every gift in the warehouse, once (PK (customer, source ID)), and nothing else.
    const simIds = sim.control.recordKeys(customer.org, 'gift').map((k) => String(k.id));
    expect(simIds).toHaveLength(GIFTS);
    const warehouseIds = await warehouseGiftIds(stack, customer.id);
    expect(warehouseIds).toHaveLength(GIFTS);
    expect(new Set(warehouseIds)).toEqual(new Set(simIds));

    // The ranges: contiguous, each done, and each range's records counted exactly once, although
    // pages were published again after the kills (only checkpointed pages count).
    const ranges = await rangeRows(stack, runId);
    expect(ranges).toHaveLength(4);
    expect(ranges.every((r) => r.status === 'done')).toBe(true);
    const numericIds = simIds.map(Number);
    for (const range of ranges) {
      const inRange = numericIds.filter(
        (id) => id >= Number(range.range_start) && id <= Number(range.range_end),
      ).length;
      expect(Number(range.records_done)).toBe(inRange);
      expect(range.cursor).toBe(range.range_end);
    }
    expect(ranges.reduce((n, r) => n + Number(r.records_done), 0)).toBe(GIFTS);
    expect(Number(run.records_total)).toBe(GIFTS);
    // Checkpoints per range never went back.
    for (const [rangeId, samples] of seen) {
      for (let i = 1; i < samples.length; i += 1) {
        const [before, after] = [samples[i - 1], samples[i]];
        if (!before || !after) {
          continue;
        }
        if (after.cursor < before.cursor || after.recordsDone < before.recordsDone) {
          throw new Error(
            `range ${rangeId} went back from ${JSON.stringify(before)} to ${JSON.stringify(after)}`,
          );
        }
      }
    }

    // The source was read no further than the resumes needed.
    const pages = rangePages(sim, customer.org, PAGE);
    const firstPageAfter = (killIndex: number, range: RangeRow) =>
      pages
        .slice(atKill[killIndex]?.pagesServed ?? 0)
        .find(
          (p) =>
            p.firstId >= Number(range.range_start) &&
            p.firstId <= Number(range.range_end ?? Infinity),
        );
    const neededPages = ranges.reduce((n, r) => n + Math.ceil(Number(r.records_done) / PAGE), 0);
    const inFlightBound = KILL_AT_PAGES.length * Math.min(WORKERS, ranges.length);
    expect(pages.length).toBeGreaterThanOrEqual(neededPages);
    expect(pages.length).toBeLessThanOrEqual(neededPages + inFlightBound);
    // Each range's pages start at its start or right after one of its earlier pages.
    for (const range of ranges) {
      const own = pages.filter(
        (p) => p.firstId >= Number(range.range_start) && p.firstId <= Number(range.range_end),
      );
      const starts = new Set([Number(range.range_start), ...own.map((p) => p.lastId + 1)]);
      expect(own.filter((p) => !starts.has(p.firstId))).toEqual([]);
      expect(own.every((p) => p.lastId <= Number(range.range_end))).toBe(true);
    }
    // A page was requested twice only where a kill left it unacknowledged: it starts right after
    // the cursor the range had checkpointed when the backfiller died.
    const firstIds = pages.map((p) => p.firstId);
    const repeated = [...new Set(firstIds.filter((id, i) => firstIds.indexOf(id) !== i))];
    const resumePoints = new Set(
      atKill.flatMap(({ ranges: snapshot }) =>
        snapshot
          .filter((r) => r.status === 'running')
          .map((r) => Number(r.cursor ?? Number(r.range_start) - 1) + 1),
      ),
    );
    expect(repeated.filter((id) => !resumePoints.has(id))).toEqual([]);
    expect(pages.length - new Set(firstIds).size).toBeLessThanOrEqual(inFlightBound);
    // After each restart, every range that was in progress resumed exactly at its checkpoint.
    const resumedAt = atKill.flatMap(({ ranges: snapshot }, k) =>
      snapshot
        .filter((r) => r.status === 'running')
        .map((range) => ({
          expected: Number(range.cursor ?? Number(range.range_start) - 1) + 1,
          actual: firstPageAfter(k, range)?.firstId,
        })),
    );
    expect(resumedAt.length).toBeGreaterThan(0);
    expect(resumedAt.map((r) => r.actual)).toEqual(resumedAt.map((r) => r.expected));

    process.stdout.write(
      `backfill ${GIFTS} gifts with 2 kills: run done in ${backfillSeconds.toFixed(1)} s ` +
        `(${Math.round(GIFTS / backfillSeconds)} records/s), all in the warehouse after ${syncedSeconds.toFixed(1)} s; ` +
        `${pages.length} pages requested for ${neededPages} needed, ${repeated.length} repeated\n`,
    );
  });
});

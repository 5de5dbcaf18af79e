import { bar, formatCount, formatDuration, renderProgressLine } from './progress-bar';
import { averageRate, etaSeconds, percentDone, RateWindow } from './progress-math';
import type { RunView } from './run-view';

describe('RateWindow', () => {
  it('is unknown until two samples lie at least a second apart', () => {
    const window = new RateWindow();
    expect(window.rate()).toBeNull();
    window.add({ atMs: 0, recordsDone: 0 });
    window.add({ atMs: 500, recordsDone: 100 });
    expect(window.rate()).toBeNull();
    window.add({ atMs: 2000, recordsDone: 1000 });
    expect(window.rate()).toBe(500);
  });

  it('measures over the last 30 s only, so a slowdown shows', () => {
    const window = new RateWindow(30_000);
    // 1000 records/s for a minute, then 100 records/s for 40 s.
    for (let s = 0; s <= 60; s += 2) {
      window.add({ atMs: s * 1000, recordsDone: s * 1000 });
    }
    for (let s = 62; s <= 100; s += 2) {
      window.add({ atMs: s * 1000, recordsDone: 60_000 + (s - 60) * 100 });
    }
    expect(window.rate()).toBeCloseTo(100, 5);
  });

  it('ignores samples that do not move time forward', () => {
    const window = new RateWindow();
    window.add({ atMs: 1000, recordsDone: 10 });
    window.add({ atMs: 1000, recordsDone: 99 });
    window.add({ atMs: 3000, recordsDone: 210 });
    expect(window.rate()).toBe(100);
  });
});

describe('etaSeconds / averageRate / percentDone', () => {
  it('divides what is left by the rate, rounding up', () => {
    expect(etaSeconds(50_000, 200_000, 1500)).toBe(100);
    expect(etaSeconds(199_999, 200_000, 3)).toBe(1);
  });

  it('is 0 when nothing is left (even past an estimate that was too low), -1 when unknown', () => {
    expect(etaSeconds(200_010, 200_000, 100)).toBe(0);
    expect(etaSeconds(10, null, 100)).toBe(-1);
    expect(etaSeconds(10, 100, null)).toBe(-1);
    expect(etaSeconds(10, 100, 0)).toBe(-1);
  });

  it('averages since the start once a second has passed', () => {
    expect(averageRate(5000, 10_000, 20_000)).toBe(500);
    expect(averageRate(5000, null, 20_000)).toBeNull();
    expect(averageRate(5000, 19_500, 20_000)).toBeNull();
  });

  it('gives percent with one decimal, capped at 100, and 100 for a finished run', () => {
    expect(percentDone(83_000, 200_000, false)).toBe(41.5);
    expect(percentDone(2, 3, false)).toBe(66.6);
    expect(percentDone(250, 200, false)).toBe(100);
    expect(percentDone(190, 200, true)).toBe(100);
    expect(percentDone(5, null, false)).toBe(0);
  });
});

const run = (
  overrides: Partial<RunView> = {},
  progress: Partial<RunView['progress']> = {},
): RunView => ({
  id: 'run-1',
  customerId: 'c-1',
  source: 'raise',
  resource: 'gift',
  trigger: 'cli',
  status: 'running',
  modifiedFrom: null,
  modifiedTo: null,
  requestedAt: '2026-01-01T00:00:00.000Z',
  startedAt: '2026-01-01T00:00:01.000Z',
  finishedAt: null,
  lastError: null,
  highWater: null,
  progress: {
    recordsDone: 83_000,
    recordsTotal: 200_000,
    percent: 41.5,
    ratePerSecond: 2140.4,
    etaSeconds: 55,
    pagesDone: 83,
    ranges: { pending: 0, running: 3, done: 1, failed: 0 },
    ...progress,
  },
  pushback: null,
  ...overrides,
});

describe('progress rendering', () => {
  it('formats durations and counts', () => {
    expect(formatDuration(-1)).toBe('?');
    expect(formatDuration(52)).toBe('52s');
    expect(formatDuration(725)).toBe('12m05s');
    expect(formatDuration(11_040)).toBe('3h04m');
    expect(formatCount(1_234_567)).toBe('1,234,567');
    expect(formatCount(999)).toBe('999');
  });

  it('fills the bar in proportion, within bounds', () => {
    expect(bar(50, 10, false)).toBe('[#####.....]');
    expect(bar(0, 4, true)).toBe('[░░░░]');
    expect(bar(140, 4, true)).toBe('[████]');
  });

  it('draws a bar with counts, rate, ETA and ranges on a terminal', () => {
    const line = renderProgressLine(run(), { tty: true, barWidth: 20 });
    expect(line).toContain('[████████░░░░░░░░░░░░]');
    expect(line).toMatch(
      /41\.5%\s+83,000\/200,000\s+2,140\/s\s+ETA 55s\s+running\s+ranges 1 done, 3 running$/,
    );
    expect(line.startsWith('gift ')).toBe(true);
  });

  it('writes plain words for logs and pipes, with the error of a failed run', () => {
    expect(renderProgressLine(run(), { tty: false })).toBe(
      'gift running 41.5%: 83,000/200,000 records, 2,140 records/s, ETA 55s, ranges 1 done, 3 running',
    );
    const failed = run(
      { status: 'failed', lastError: 'raise refused the token' },
      { etaSeconds: -1, ranges: { pending: 0, running: 0, done: 1, failed: 3 } },
    );
    expect(renderProgressLine(failed, { tty: false })).toBe(
      'gift failed 41.5%: 83,000/200,000 records, 2,140 records/s, ETA -, ranges 1 done, 3 failed, error: raise refused the token',
    );
  });

  it("says when push-back holds the run (its customer's destination lanes are too deep)", () => {
    const held = run(
      { pushback: { waiting: 5001, limit: 5000 } },
      { ranges: { pending: 3, running: 0, done: 1, failed: 0 } },
    );
    expect(renderProgressLine(held, { tty: false })).toBe(
      "gift running 41.5%: 83,000/200,000 records, 2,140 records/s, ETA 55s, ranges 1 done, 3 pending, held: over 5,000 events wait in the customer's destination lanes",
    );
    expect(renderProgressLine(held, { tty: true })).toMatch(/3 pending, held: over 5,000 events/);
  });

  it('says so while a run is not planned yet', () => {
    const pending = run(
      { status: 'pending' },
      {
        recordsDone: 0,
        recordsTotal: null,
        percent: 0,
        ratePerSecond: null,
        etaSeconds: -1,
        ranges: { pending: 0, running: 0, done: 0, failed: 0 },
      },
    );
    expect(renderProgressLine(pending, { tty: false })).toBe(
      'gift pending 0.0%: 0/? records, ? records/s, ETA ?, not planned yet',
    );
  });
});

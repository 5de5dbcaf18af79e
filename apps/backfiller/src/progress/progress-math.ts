/** A backfill's counts at one moment, as read from the state store. */
export interface ProgressSample {
  atMs: number;
  recordsDone: number;
}

/**
 * Records per second over a sliding window (30 s by default) of (time, records done) samples.
 * The samples come from the state store, so the rate covers every replica working the run, and
 * a restart of this process only costs the window, not the figure.
 */
export class RateWindow {
  private samples: ProgressSample[] = [];

  constructor(private readonly windowMs = 30_000) {}

  add(sample: ProgressSample): void {
    const last = this.samples[this.samples.length - 1];
    if (last && sample.atMs <= last.atMs) {
      return;
    }
    this.samples.push(sample);
    // Keep one sample at or before the window's start so the rate always spans the full window.
    const horizon = sample.atMs - this.windowMs;
    while (this.samples.length > 2 && (this.samples[1]?.atMs ?? Infinity) <= horizon) {
      this.samples.shift();
    }
  }

  /** Records per second across the window, or null with fewer than two samples a second apart. */
  rate(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.atMs - first.atMs < 1000) {
      return null;
    }
    return Math.max(0, last.recordsDone - first.recordsDone) / ((last.atMs - first.atMs) / 1000);
  }
}

/** Records per second since the run started: the fallback while no window is available. */
export function averageRate(
  recordsDone: number,
  startedAtMs: number | null,
  nowMs: number,
): number | null {
  if (startedAtMs === null || nowMs - startedAtMs < 1000) {
    return null;
  }
  return recordsDone / ((nowMs - startedAtMs) / 1000);
}

/**
 * Seconds left at `rate`: 0 once nothing is left, -1 when unknown (no total, or no progress
 * measured yet). A total that was an estimate and turned out low never gives a negative ETA.
 */
export function etaSeconds(
  recordsDone: number,
  recordsTotal: number | null,
  rate: number | null,
): number {
  if (recordsTotal === null) {
    return -1;
  }
  const left = recordsTotal - recordsDone;
  if (left <= 0) {
    return 0;
  }
  if (rate === null || rate <= 0) {
    return -1;
  }
  return Math.ceil(left / rate);
}

/** Percent done, 0-100 with one decimal; a finished run is 100 whatever the estimate said. */
export function percentDone(
  recordsDone: number,
  recordsTotal: number | null,
  finished: boolean,
): number {
  if (finished) {
    return 100;
  }
  if (recordsTotal === null || recordsTotal <= 0) {
    return 0;
  }
  return Math.min(100, Math.floor((recordsDone * 1000) / recordsTotal) / 10);
}

import { setTimeout as delay } from 'node:timers/promises';
import type { SourceApi } from './source-errors';
import { isUuid } from '@raise-sync/shared';
import { customerScope, type CustomerScope } from '@raise-sync/shared/state';

/** A token bucket's shape: sustained rate and how many requests may go back to back. */
export interface RateSpec {
  requestsPerSecond: number;
  burst: number;
}

/**
 * Defaults per API. Raise documents no limit and advises about 1 request/second per customer org
 * (source-apis.md 1.10); VOMO's limit is undocumented, the advice is at most 1-2 requests/second.
 */
export const DEFAULT_RATE_SPECS: Readonly<Record<SourceApi, RateSpec>> = {
  raise: { requestsPerSecond: 1, burst: 5 },
  vomo: { requestsPerSecond: 2, burst: 4 },
};

export interface RateWait {
  customerId: string;
  api: SourceApi;
  waitedMs: number;
}

/**
 * A budget every process calling a customer's source draws from (PostgreSQL-backed in the apps),
 * so the poller in ingest and any number of backfiller or reconciler replicas together stay
 * within the customer's rate. `reserve` takes one request's token now and says how long to wait
 * before sending it (a debt model: the token is reserved even when the wait is long).
 */
export interface SharedBudgetStore {
  reserve(scope: CustomerScope, api: SourceApi, spec: RateSpec): Promise<number>;
  /** After a 429: nobody sends to this customer's API before `untilMs`. */
  pause(scope: CustomerScope, api: SourceApi, spec: RateSpec, untilMs: number): Promise<void>;
}

/**
 * The shared store's key for a budget key, or null for one that names no stored customer (token
 * checks during onboarding run before the customer exists): those stay on the local budget.
 */
const sharedScopeOf = (customerId: string): CustomerScope | null =>
  isUuid(customerId) ? customerScope(customerId) : null;

export interface RateBudgetsOptions {
  /** Shared with other processes; without it the budget is per process. */
  shared?: SharedBudgetStore;
  /** Called when the shared store fails (requests then go on the local budget only). */
  onSharedError?: (error: unknown) => void;
  /** Per-API rates replacing the defaults (every customer of that API). */
  rates?: Partial<Record<SourceApi, RateSpec>>;
  /** A bucket unused this long (and full, not paused, nobody waiting) is dropped. Default 10 min. */
  idleEvictMs?: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called after every acquire that had to wait, e.g. to feed a histogram. */
  onWait?: (wait: RateWait) => void;
}

export interface RateBudgetKeySnapshot {
  customerId: string;
  api: SourceApi;
  tokens: number;
  /** Callers currently waiting or about to take a token. */
  waiting: number;
  /** Acquires that waited, since this bucket was created. */
  waits: number;
  waitedMs: number;
  /** Set while a Retry-After pause is in force, else null. */
  pausedUntilMs: number | null;
}

export interface RateBudgetSnapshot {
  /** Cumulative per API, including buckets evicted since (monotonic: safe to export as counters). */
  totals: Record<SourceApi, { waits: number; waitedMs: number; pauses: number }>;
  keys: RateBudgetKeySnapshot[];
}

interface Bucket {
  customerId: string;
  api: SourceApi;
  tokens: number;
  refilledAtMs: number;
  pausedUntilMs: number;
  /** Settles when the last caller in line has its token: callers of one key go first come, first served. */
  tail: Promise<void>;
  waiting: number;
  lastUsedMs: number;
  waits: number;
  waitedMs: number;
}

const keyOf = (customerId: string, api: SourceApi): string => `${api}\u0000${customerId}`;

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  delay(ms, undefined, signal ? { signal } : {});

function assertValidSpec(spec: RateSpec): void {
  if (!(Number.isFinite(spec.requestsPerSecond) && spec.requestsPerSecond > 0)) {
    throw new RangeError('requestsPerSecond must be a positive number');
  }
  if (!(Number.isFinite(spec.burst) && spec.burst >= 1)) {
    throw new RangeError('burst must be at least 1');
  }
}

/** Resolves when `promise` does, or rejects with the signal's reason if it aborts first. */
function abortable(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) {
    return promise;
  }
  signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void =>
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/**
 * Request budgets per (customer, API): one token bucket each, never one global limiter, so a
 * busy or rate-limited customer cannot slow any other (seed 002, "shared global rate-limit
 * antipattern"). A 429's Retry-After pauses only that customer's bucket for that API.
 */
export class RateBudgets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly overrides = new Map<string, RateSpec>();
  private readonly rates: Record<SourceApi, RateSpec>;
  private readonly idleEvictMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly onWait?: (wait: RateWait) => void;
  private readonly shared?: SharedBudgetStore;
  private readonly onSharedError?: (error: unknown) => void;
  private readonly totals: RateBudgetSnapshot['totals'] = {
    raise: { waits: 0, waitedMs: 0, pauses: 0 },
    vomo: { waits: 0, waitedMs: 0, pauses: 0 },
  };
  private lastSweepMs: number;

  constructor(options: RateBudgetsOptions = {}) {
    this.rates = { ...DEFAULT_RATE_SPECS, ...options.rates };
    Object.values(this.rates).forEach(assertValidSpec);
    this.idleEvictMs = options.idleEvictMs ?? 10 * 60_000;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
    this.onWait = options.onWait;
    this.shared = options.shared;
    this.onSharedError = options.onSharedError;
    this.lastSweepMs = this.now();
  }

  /** Waits until this customer may send one more request to `api`, then takes the token. */
  async acquire(customerId: string, api: SourceApi, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const bucket = this.bucketFor(customerId, api);
    const startedMs = this.now();
    const ahead = bucket.tail;
    let release = (): void => undefined;
    bucket.tail = new Promise<void>((resolve) => (release = resolve));
    bucket.waiting += 1;
    let myTurn = false;
    try {
      await abortable(ahead, signal);
      myTurn = true;
      await this.takeToken(bucket, signal);
      await this.takeShared(customerId, api, signal);
    } finally {
      // A caller that gave up before its turn still keeps the line: the next one waits for ours.
      if (myTurn) {
        release();
      } else {
        void ahead.then(release);
      }
      bucket.waiting -= 1;
      bucket.lastUsedMs = this.now();
    }
    const waitedMs = this.now() - startedMs;
    if (waitedMs > 0) {
      bucket.waits += 1;
      bucket.waitedMs += waitedMs;
      this.totals[api].waits += 1;
      this.totals[api].waitedMs += waitedMs;
      this.onWait?.({ customerId, api, waitedMs });
    }
  }

  /**
   * Holds every caller of this customer and API until `untilMs` (from a 429's Retry-After).
   * A later time extends the pause, an earlier one is ignored. When it ends, one request goes
   * first and the rest follow at the sustained rate, without a burst.
   */
  pauseUntil(customerId: string, api: SourceApi, untilMs: number): void {
    const bucket = this.bucketFor(customerId, api);
    this.totals[api].pauses += 1;
    if (untilMs <= bucket.pausedUntilMs) {
      return;
    }
    bucket.pausedUntilMs = untilMs;
    bucket.tokens = 1;
    bucket.refilledAtMs = untilMs;
    const scope = sharedScopeOf(customerId);
    if (this.shared && scope) {
      this.shared
        .pause(scope, api, this.rateFor(customerId, api), untilMs)
        .catch((error: unknown) => this.onSharedError?.(error));
    }
  }

  /** The end of this key's current pause, or null when it is not paused. */
  pausedUntil(customerId: string, api: SourceApi): number | null {
    const bucket = this.buckets.get(keyOf(customerId, api));
    return bucket && bucket.pausedUntilMs > this.now() ? bucket.pausedUntilMs : null;
  }

  /** Overrides the rate of one customer for one API (e.g. a customer with a negotiated limit). */
  setRate(customerId: string, api: SourceApi, spec: RateSpec): void {
    assertValidSpec(spec);
    const key = keyOf(customerId, api);
    this.overrides.set(key, { ...spec });
    const bucket = this.buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(bucket.tokens, spec.burst);
    }
  }

  /** Back to the API's default rate for this customer. */
  clearRate(customerId: string, api: SourceApi): void {
    this.overrides.delete(keyOf(customerId, api));
  }

  rateFor(customerId: string, api: SourceApi): RateSpec {
    return this.overrides.get(keyOf(customerId, api)) ?? this.rates[api];
  }

  snapshot(): RateBudgetSnapshot {
    const now = this.now();
    const keys = [...this.buckets.values()].map((bucket) => {
      this.refill(bucket, now);
      return {
        customerId: bucket.customerId,
        api: bucket.api,
        tokens: bucket.tokens,
        waiting: bucket.waiting,
        waits: bucket.waits,
        waitedMs: bucket.waitedMs,
        pausedUntilMs: bucket.pausedUntilMs > now ? bucket.pausedUntilMs : null,
      };
    });
    return {
      totals: {
        raise: { ...this.totals.raise },
        vomo: { ...this.totals.vomo },
      },
      keys,
    };
  }

  /** Number of live buckets (for tests and a gauge). */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Drops buckets nobody used for `idleEvictMs` that are full, unpaused and without waiters:
   * recreating one later gives exactly the same state, so 500 customers do not accumulate.
   * Runs on its own every half `idleEvictMs`; callable directly.
   */
  evictIdle(): number {
    const now = this.now();
    this.lastSweepMs = now;
    let evicted = 0;
    for (const [key, bucket] of this.buckets) {
      this.refill(bucket, now);
      const idle =
        bucket.waiting === 0 &&
        now - bucket.lastUsedMs >= this.idleEvictMs &&
        bucket.pausedUntilMs <= now &&
        bucket.tokens >= this.rateFor(bucket.customerId, bucket.api).burst;
      if (idle) {
        this.buckets.delete(key);
        evicted += 1;
      }
    }
    return evicted;
  }

  private bucketFor(customerId: string, api: SourceApi): Bucket {
    const now = this.now();
    if (now - this.lastSweepMs >= this.idleEvictMs / 2) {
      this.evictIdle();
    }
    const key = keyOf(customerId, api);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = {
        customerId,
        api,
        tokens: this.rateFor(customerId, api).burst,
        refilledAtMs: now,
        pausedUntilMs: 0,
        tail: Promise.resolve(),
        waiting: 0,
        lastUsedMs: now,
        waits: 0,
        waitedMs: 0,
      };
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  private refill(bucket: Bucket, now: number): void {
    const spec = this.rateFor(bucket.customerId, bucket.api);
    const elapsedMs = now - bucket.refilledAtMs;
    if (elapsedMs > 0) {
      bucket.tokens = Math.min(
        spec.burst,
        bucket.tokens + (elapsedMs * spec.requestsPerSecond) / 1000,
      );
      bucket.refilledAtMs = now;
    }
  }

  /** The cross-process reservation; a failing store never blocks requests (local budget holds). */
  private async takeShared(
    customerId: string,
    api: SourceApi,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const scope = sharedScopeOf(customerId);
    if (!this.shared || !scope) {
      return;
    }
    let waitMs = 0;
    try {
      waitMs = await this.shared.reserve(scope, api, this.rateFor(customerId, api));
    } catch (error) {
      this.onSharedError?.(error);
      return;
    }
    if (waitMs > 0) {
      await this.sleep(waitMs, signal);
    }
  }

  private async takeToken(bucket: Bucket, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      const now = this.now();
      if (bucket.pausedUntilMs > now) {
        await this.sleep(bucket.pausedUntilMs - now, signal);
        continue;
      }
      this.refill(bucket, now);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return;
      }
      const { requestsPerSecond } = this.rateFor(bucket.customerId, bucket.api);
      await this.sleep(
        Math.max(1, Math.ceil(((1 - bucket.tokens) * 1000) / requestsPerSecond)),
        signal,
      );
    }
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { PinoLogger } from 'nestjs-pino';
import { DataSource } from 'typeorm';
import type { SharedConfig } from '../config';
import type { PipelineMetrics } from '../observability';
import { customerLaneDepth, type LaneDepthReader } from '../state/lane-depth';
import { PIPELINE_METRICS } from './tokens';

/** The bulk publishers that push-back holds (the metric's `caller` label: a fixed set). */
export type BulkCaller = 'backfill' | 'reconcile' | 'replay';

/** One customer's destination lanes as push-back sees them. */
export interface LaneState {
  customerId: string;
  /** Events waiting in the customer's lanes, counted up to `limit + 1`. */
  waiting: number;
  /** BACKFILL_MAX_WAITING; 0 when push-back is off. */
  limit: number;
  /** More than `limit` events wait: the customer's bulk work holds back. */
  held: boolean;
}

/**
 * Lets work that waits in place hand its worker slot to other customers' work meanwhile (the
 * reconciler's runs), so one customer's deep lane never keeps a shared worker busy.
 */
export interface SlotLender {
  /** The wait starts: the slot is free for other work. */
  lend(): void;
  /** The lane is below the limit again: resolves once the work holds a slot again (or on abort). */
  reclaim(signal?: AbortSignal): Promise<void>;
}

/**
 * How long yielding work (a backfill range, a replay run) stays handed back before it is
 * claimed and looks at the lane again. The lane drains at its destination's pace (slow by
 * definition when it is deep), so a few seconds of resume latency cost nothing.
 */
export const PUSHBACK_RECHECK_MS = 5000;
/** How often work waiting in place (a reconcile republish) looks at the lane again. */
const POLL_MS = 1000;
/** One count per customer and second at most, whatever number of ranges and runs ask. */
const CACHE_MS = 1000;
/** At most one "held" log line per customer this often. */
const LOG_EVERY_MS = 30_000;
/** A customer last seen held this long ago is no longer reported by `heldCustomers`. */
const HELD_FRESH_MS = 2 * PUSHBACK_RECHECK_MS;

/**
 * Per-customer push-back of bulk work from the customer's destination lanes. A destination that
 * is slow, over its rate budget or whose breaker is open gets its events parked in its lane by
 * the submitter; while more than BACKFILL_MAX_WAITING of one customer's events wait there, that
 * customer's backfill pages, reconciliation republishes and replay copies are not published:
 * they would only join the lane behind the others (and, past SUBMITTER_MAX_WAIT_HOURS, become
 * dead letters). Other customers are never affected: the count is the customer's own, and held
 * work either hands its lease back (backfill ranges, replays: `state` + `noteYield`) or gives its
 * worker slot away while it waits (`waitWhileHeld` with a `SlotLender`). Holding is pacing,
 * never a failure: nothing is counted as failed, nothing is dead-lettered, and a failed count
 * (PostgreSQL unreachable) lets the work go on (fail open) rather than stopping it.
 */
@Injectable()
export class BulkPushback {
  readonly limit: number;
  private readonly lanes = new Map<string, { at: number; state: Promise<LaneState> }>();
  /** Customers found held, since when, when last checked and when last logged. */
  private readonly held = new Map<string, { since: number; checkedAt: number; loggedAt: number }>();
  private lastCountError = 0;

  constructor(
    config: ConfigService<SharedConfig, true>,
    @Inject(PIPELINE_METRICS)
    private readonly metrics: Pick<PipelineMetrics, 'bulkPushbackSeconds'>,
    @Inject(DataSource) private readonly db: LaneDepthReader,
    private readonly log: PinoLogger,
  ) {
    this.limit = config.get('pushback', { infer: true }).maxWaiting;
    this.log.setContext('bulk-pushback');
  }

  get enabled(): boolean {
    return this.limit > 0;
  }

  /** The customer's lanes now (counted at most once a second per customer in this process). */
  async state(customerId: string): Promise<LaneState> {
    if (!this.enabled) {
      return { customerId, waiting: 0, limit: 0, held: false };
    }
    const now = Date.now();
    const cached = this.lanes.get(customerId);
    if (cached && now - cached.at < CACHE_MS) {
      return cached.state;
    }
    this.prune(now);
    const state = this.count(customerId);
    this.lanes.set(customerId, { at: now, state });
    return state;
  }

  /**
   * For work that yields (hands its lease back for PUSHBACK_RECHECK_MS because `state` said
   * held): counts that time as held and logs it, at most every 30 s per customer.
   */
  noteYield(state: LaneState, caller: BulkCaller, context: Record<string, unknown> = {}): void {
    this.metrics.bulkPushbackSeconds.inc(
      { customer_id: state.customerId, caller },
      PUSHBACK_RECHECK_MS / 1000,
    );
    this.logHeld(state, caller, context);
  }

  /**
   * For work that waits in place: resolves once the customer's lanes hold no more than the
   * limit, or when `signal` aborts (the caller then checks its signal). With a `slot`, the
   * worker slot is lent out for the whole wait and taken back before this resolves. Returns the
   * time waited (ms; 0 when the customer was not held).
   */
  async waitWhileHeld(
    customerId: string,
    caller: BulkCaller,
    signal?: AbortSignal,
    options: { slot?: SlotLender; context?: Record<string, unknown> } = {},
  ): Promise<number> {
    let state = await this.state(customerId);
    if (!state.held || signal?.aborted) {
      return 0;
    }
    const started = Date.now();
    let counted = started;
    options.slot?.lend();
    try {
      while (state.held && !signal?.aborted) {
        this.logHeld(state, caller, options.context ?? {});
        await pause(POLL_MS, signal);
        const now = Date.now();
        this.metrics.bulkPushbackSeconds.inc(
          { customer_id: customerId, caller },
          (now - counted) / 1000,
        );
        counted = now;
        state = await this.state(customerId);
      }
    } finally {
      await options.slot?.reclaim(signal);
    }
    return Date.now() - started;
  }

  /** Customers found held in the last ~10 s (work of theirs not to start meanwhile). */
  heldCustomers(): string[] {
    const now = Date.now();
    return [...this.held.entries()]
      .filter(([, h]) => now - h.checkedAt < HELD_FRESH_MS)
      .map(([customerId]) => customerId);
  }

  private async count(customerId: string): Promise<LaneState> {
    let waiting: number;
    try {
      waiting = await customerLaneDepth(this.db, { customerId, atMost: this.limit });
    } catch (error) {
      // Fail open: push-back paces work, it must not stop it. Whatever the work writes next
      // (its checkpoint) needs PostgreSQL too and reports the outage the usual way.
      if (Date.now() - this.lastCountError > LOG_EVERY_MS) {
        this.lastCountError = Date.now();
        this.log.warn(
          { customerId, err: error instanceof Error ? error.message : String(error) },
          'could not count the lane depth; bulk work goes on without push-back',
        );
      }
      waiting = 0;
    }
    const state = { customerId, waiting, limit: this.limit, held: waiting > this.limit };
    const now = Date.now();
    const seen = this.held.get(customerId);
    if (state.held) {
      this.held.set(customerId, {
        since: seen?.since ?? now,
        checkedAt: now,
        loggedAt: seen?.loggedAt ?? 0,
      });
    } else if (seen) {
      this.held.delete(customerId);
      this.log.info(
        {
          customerId,
          waiting,
          limit: this.limit,
          heldSeconds: Math.round((now - seen.since) / 1000),
        },
        "bulk work resumes: the customer's destination lanes are below the limit",
      );
    }
    return state;
  }

  private logHeld(state: LaneState, caller: BulkCaller, context: Record<string, unknown>): void {
    const now = Date.now();
    const seen = this.held.get(state.customerId) ?? { since: now, checkedAt: now, loggedAt: 0 };
    if (now - seen.loggedAt < LOG_EVERY_MS) {
      return;
    }
    this.held.set(state.customerId, { ...seen, loggedAt: now });
    this.log.info(
      {
        ...context,
        customerId: state.customerId,
        caller,
        waiting: state.waiting,
        limit: state.limit,
        heldSeconds: Math.round((now - seen.since) / 1000),
      },
      `bulk work held: more than ${state.limit} of the customer's events wait in its destination lanes`,
    );
  }

  /** Forgets cached counts and held customers nobody asked about for a while. */
  private prune(now: number): void {
    if (this.lanes.size > 256) {
      for (const [customerId, entry] of this.lanes) {
        if (now - entry.at >= CACHE_MS) {
          this.lanes.delete(customerId);
        }
      }
    }
    for (const [customerId, h] of this.held) {
      if (now - h.checkedAt > 10 * 60_000) {
        this.held.delete(customerId);
      }
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

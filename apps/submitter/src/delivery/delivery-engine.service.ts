import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { DeliveryResult, DestinationContext } from '@raise-sync/destinations';
import { DestinationUnavailableError } from '@raise-sync/shared';
import type { CustomerScope } from '@raise-sync/shared/state';
import { AdapterRegistry } from '@raise-sync/destinations';
import { DeliveryDecider } from './delivery-decider';
import { DeliveryLanes } from './delivery-lanes.service';
import { DeliveryRecorder } from './delivery-recorder';
import { DeliveryWriter, NotStarted, StillInFlight, isRetriable } from './delivery-writer';
import { parked, type DeliverySummary, type Outcome, type WorkItem } from './outcome';
import type { Decision } from './sync-state-decision';
import type { SubmitterConfig } from '../submitter.config';

export type { DeliverySummary, WorkItem } from './outcome';

/** How long a lane waits before it asks again for records its events need from the source. */
const SOURCE_PACE_MS = 1000;

const isPacing = (error: Error): boolean => (error as { pacing?: unknown }).pacing === true;

/**
 * Delivers work items to ONE destination of ONE customer and records every outcome. The rules:
 * - an event older than what the destination last confirmed for the record is skipped as stale,
 *   the same event again as a duplicate; within a batch only a record's newest event is written
 *   (it carries the full state and supersedes the older ones, which count as stale);
 * - retriable failures go to the next retry topic (30 s, 5 min, 1 h by default), permanent
 *   ones and exhausted attempts to the dead-letter topic, both written (acks=all) BEFORE the
 *   caller resolves the offset;
 * - sync state, an audit row per change, the delivery ledger, retry entries and the dead-letter
 *   index are written in one transaction, so "received = delivered + skipped + dead-lettered +
 *   in retry" holds per customer and destination across crashes (a replayed batch finds its
 *   events confirmed and counts them as duplicates, which keeps the ledger balanced).
 * The work is split three ways: DeliveryDecider decides what to send, DeliveryWriter sends it
 * and turns results into outcomes, DeliveryRecorder publishes and records them (the state
 * through DeliveryRepository). This class routes between them and the destination's lane and
 * breaker (DeliveryLanes).
 */
@Injectable()
export class DeliveryEngine {
  private readonly firstDelayMs: number;
  private readonly maxWaitMs: number;
  private readonly taskBudgetMs: number;

  constructor(
    private readonly adapters: AdapterRegistry,
    private readonly decider: DeliveryDecider,
    private readonly writer: DeliveryWriter,
    private readonly recorder: DeliveryRecorder,
    private readonly lanes: DeliveryLanes,
    config: ConfigService<SubmitterConfig, true>,
  ) {
    const submitter = config.get('submitter', { infer: true });
    this.firstDelayMs = submitter.retryDelaysMs[0];
    this.maxWaitMs = submitter.maxWaitMs;
    this.taskBudgetMs = submitter.taskBudgetMs;
  }

  /**
   * Delivers `items` to one destination and records every outcome. budgetMs bounds the time an
   * HTTP destination may take (default SUBMITTER_TASK_BUDGET_MS): what it has not started by then
   * waits in its lane, so a slow destination never holds the chunk (and every other customer in
   * it) for longer. While the destination's lane holds events or its breaker is open, new events
   * join the lane without an attempt.
   */
  async deliver(
    ctx: DestinationContext,
    items: WorkItem[],
    budgetMs = this.taskBudgetMs,
  ): Promise<DeliverySummary> {
    const summary: DeliverySummary = { settled: 0, pacedUntil: 0 };
    if (items.length === 0) {
      return summary;
    }
    const adapter = this.adapters.get(ctx.kind);
    const { decisions, previous } = await this.decider.decide(ctx, adapter, items);
    const hold = this.lanes.holdReason(ctx.destinationId);
    // A lane event sent while the breaker is open is its probe.
    const probing = hold === 'breaker_open' && items.some((i) => i.fromLane);
    const now = Date.now();
    const outcomes: Outcome[] = [];
    const sendAt: number[] = [];
    for (const [i, item] of items.entries()) {
      const decision = decisions[i] as Decision;
      const waitedMs = item.firstFailedAt ? now - item.firstFailedAt.getTime() : 0;
      if (decision.kind === 'skip') {
        outcomes.push({
          item,
          status: 'skipped',
          reason: decision.reason,
          attempts: item.attemptsMade,
        });
      } else if (item.fromLane && waitedMs > this.maxWaitMs) {
        outcomes.push({
          item,
          status: 'dead_lettered',
          reason: 'max_wait_exceeded',
          attempts: item.attemptsMade,
          error: `waited in the lane since ${item.firstFailedAt?.toISOString()}, longer than ${Math.round(this.maxWaitMs / 3_600_000)} h`,
        });
      } else if (hold && !item.fromLane) {
        outcomes.push(parked(item, hold));
      } else if (item.unavailable && isPacing(item.unavailable)) {
        // A record it needs was not read within the pass (the customer's source budget or a slow
        // source, see RecordCompletion): it waits in the lane, spending no attempt.
        if (item.fromLane) {
          summary.pacedUntil = Math.max(summary.pacedUntil, now + SOURCE_PACE_MS);
        }
        outcomes.push(parked(item, 'slow_source'));
      } else if (item.unavailable) {
        outcomes.push(this.writer.classify(item, item.unavailable));
      } else {
        sendAt.push(outcomes.length);
        outcomes.push(parked(item, 'lane_waiting')); // replaced by the write's result below
      }
    }
    const sending = sendAt.map((i) => (outcomes[i] as Outcome).item);
    const results = await this.writer.write(ctx, adapter, sending, budgetMs, probing);
    const failures = new Set<Error>();
    let took = false;
    for (const [j, i] of sendAt.entries()) {
      const item = sending[j] as WorkItem;
      const result = results[j] as DeliveryResult | Error;
      if (result instanceof NotStarted) {
        outcomes[i] = {
          ...parked(
            item,
            this.lanes.isOpen(ctx.destinationId) ? 'breaker_open' : 'slow_destination',
          ),
          ...(result instanceof StillInFlight ? { notBefore: new Date(result.until) } : {}),
        };
        continue;
      }
      const paced = result instanceof DestinationUnavailableError && result.pacing;
      if (!(result instanceof Error)) {
        took = true;
      } else if (!paced && isRetriable(result)) {
        failures.add(result);
      }
      if (item.fromLane && result instanceof Error && isRetriable(result) && (paced || probing)) {
        // In the lane, waiting is the breaker's and the budget's job: no attempt is spent.
        if (paced) {
          summary.pacedUntil = Math.max(
            summary.pacedUntil,
            now + ((result as { retryAfterMs?: number }).retryAfterMs || this.firstDelayMs),
          );
        }
        outcomes[i] = {
          ...parked(item, paced ? 'lane_waiting' : 'breaker_open'),
          error: result.message,
        };
        continue;
      }
      outcomes[i] = this.writer.classify(item, result);
    }
    if (took) {
      await this.lanes.succeeded(ctx);
    }
    for (const failure of failures) {
      await this.lanes.failed(ctx, failure.message, probing);
    }
    await this.recorder.settle(ctx, outcomes, previous);
    const newlyParked = outcomes.filter((o) => o.status === 'parked' && !o.item.fromLane).length;
    if (newlyParked > 0) {
      this.lanes.noteParked(ctx, newlyParked);
    }
    summary.settled = outcomes.filter((o) => o.status !== 'parked').length;
    return summary;
  }

  /** How long one write to an HTTP destination took lately (ms), for the lane's batch size. */
  typicalWriteMs(destinationId: string): number | undefined {
    return this.writer.typicalWriteMs(destinationId);
  }

  /** Takes a retry entry out without delivering it (see DeliveryRepository.dropRetry). */
  dropRetry(
    scope: CustomerScope,
    destinationId: string,
    eventId: string,
    outcome: 'skipped' | 'dead_lettered' = 'skipped',
  ): Promise<void> {
    return this.recorder.dropRetry(scope, destinationId, eventId, outcome);
  }
}

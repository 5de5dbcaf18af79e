import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type {
  DeliveryResult,
  DestinationAdapter,
  DestinationContext,
} from '@raise-sync/destinations';
import { DestinationUnavailableError, NeedsSourceFixError } from '@raise-sync/shared';
import type { SourceEvent } from '@raise-sync/shared/events';
import { RETRY_DELAYS } from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { DeliveryLanes } from './delivery-lanes.service';
import { DestinationBudgets } from './destination-budgets';
import type { Outcome, WorkItem } from './outcome';
import { RecordWriteSerializer } from './record-write-serializer';
import { retryTierFor } from './retry-tier';
import type { SubmitterConfig } from '../submitter.config';

/** Destinations whose typical write duration is kept (the least recently written go first). */
const TYPICAL_DURATIONS_KEPT = 20_000;

/** The result of an item the destination had no time for in this call (see write()). */
export class NotStarted extends Error {}

/** An item whose write was still in flight when the call's budget ended; ends by `until`. */
export class StillInFlight extends NotStarted {
  constructor(readonly until: number) {
    super('still in flight when the task budget ended');
  }
}

/** An error says whether trying again may help (`retriable`); one that does not say may. */
export function isRetriable(error: Error): boolean {
  const retriable = (error as { retriable?: unknown }).retriable;
  return retriable === undefined ? true : retriable === true;
}

/**
 * Writes to a destination and says what each write came to. It calls the adapter under the
 * delivery timeout; an HTTP destination gets its events one at a time (at most keyConcurrency
 * at once, one write per record at a time through the RecordWriteSerializer), each taking a
 * token of the destination's rate budget, within the task budget of the call. classify() turns
 * a result into an Outcome: delivered, skipped, retry with its tier and due time, or dead letter.
 */
@Injectable()
export class DeliveryWriter {
  private readonly delaysMs: [number, number, number];
  private readonly maxAttempts: number;
  private readonly maxWaitMs: number;
  private readonly timeoutMs: number;
  private readonly keyConcurrency: number;
  private readonly budgets = new DestinationBudgets();
  private readonly serializer = new RecordWriteSerializer();
  /** Per HTTP destination: how long one event's write takes lately (ms, moving average). */
  private readonly typicalMs = new Map<string, number>();

  constructor(
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    config: ConfigService<SubmitterConfig, true>,
    private readonly lanes: DeliveryLanes,
  ) {
    const submitter = config.get('submitter', { infer: true });
    this.delaysMs = submitter.retryDelaysMs;
    this.maxAttempts = submitter.maxAttempts;
    this.maxWaitMs = submitter.maxWaitMs;
    this.timeoutMs = submitter.deliveryTimeoutMs;
    this.keyConcurrency = submitter.keyConcurrency;
  }

  /**
   * Calls the adapter (the warehouse takes the batch, HTTP destinations one record at a time).
   * One result per item, in order; a NotStarted one was not sent at all.
   */
  async write(
    ctx: DestinationContext,
    adapter: DestinationAdapter,
    items: WorkItem[],
    budgetMs: number,
    probing: boolean,
  ): Promise<Array<DeliveryResult | Error>> {
    if (items.length === 0) {
      return [];
    }
    const call = async (events: SourceEvent[]): Promise<Array<DeliveryResult | Error>> => {
      const started = process.hrtime.bigint();
      let timer: NodeJS.Timeout | undefined;
      try {
        const results = await Promise.race([
          adapter.deliver(ctx, events),
          new Promise<never>((_resolve, reject) => {
            timer = setTimeout(
              () => reject(new Error(`${ctx.kind} did not answer within ${this.timeoutMs}ms`)),
              this.timeoutMs,
            );
          }),
        ]);
        this.metrics.deliverySeconds.observe(
          { kind: ctx.kind, outcome: 'ok' },
          Number(process.hrtime.bigint() - started) / 1e9,
        );
        return results;
      } catch (error) {
        this.metrics.deliverySeconds.observe(
          { kind: ctx.kind, outcome: 'error' },
          Number(process.hrtime.bigint() - started) / 1e9,
        );
        const failure = error instanceof Error ? error : new Error(String(error));
        return events.map(() => failure);
      } finally {
        clearTimeout(timer);
      }
    };
    const events = items.map((i) => i.event);
    if (ctx.kind === 'warehouse') {
      return call(events);
    }
    // What is not started within the budget, or once the breaker opened, is left NotStarted.
    // Outside a lane pass an event is only started when its write is expected to end within the
    // budget too: the requests in flight when the budget ends would hold the chunk (and every
    // customer in it) for as long as they take, so a destination slower than the budget is
    // served by its lane alone, at its own pace, until it is fast again.
    const notStarted = new NotStarted('no time for it in this pass');
    const results: Array<DeliveryResult | Error> = events.map(() => notStarted);
    const deadline = Date.now() + budgetMs;
    const inLane = items.some((i) => i.fromLane);
    let next = 0;
    const workers = Promise.all(
      Array.from({ length: Math.min(this.keyConcurrency, events.length) }, async () => {
        while (next < events.length) {
          if (Date.now() >= deadline || (!probing && this.lanes.isOpen(ctx.destinationId))) {
            return;
          }
          const expectedMs = (items[next] as WorkItem).fromLane
            ? 0
            : (this.typicalMs.get(ctx.destinationId) ?? 0);
          if (Date.now() + expectedMs > deadline) {
            return;
          }
          const i = next++;
          const waitMs = this.budgets.take(ctx.destinationId, ctx.config);
          if (waitMs > 0) {
            results[i] = DestinationUnavailableError.pacing(
              `the rate budget of destination ${ctx.name} is used up`,
              waitMs,
            );
            continue;
          }
          const event = events[i] as SourceEvent;
          results[i] = await this.serializer.run(ctx.destinationId, event, async () => {
            const started = Date.now();
            const [result] = await call([event]);
            this.noteDuration(ctx.destinationId, Date.now() - started);
            return result ?? new Error('adapter returned no result');
          });
        }
      }),
    );
    if (inLane) {
      // A lane pass waits for its requests: the lane is the destination's own, nobody waits on it.
      await workers;
      return results;
    }
    // Outside a lane, requests still in flight when the budget ends are left to finish on their
    // own: their events wait in the lane and are sent again from there (the same version with
    // the same idempotency key, as after a crash), so the chunk is held for the budget at most.
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<'ended'>((resolve) => {
      timer = setTimeout(() => resolve('ended'), Math.max(0, deadline - Date.now()));
    });
    const finished = await Promise.race([workers.then(() => 'done' as const), ended]);
    clearTimeout(timer);
    if (finished === 'done') {
      return results;
    }
    // The request can live as long as the delivery timeout from now, not longer.
    const detached = new StillInFlight(Date.now() + this.timeoutMs);
    return results.map((r, i) => (r === notStarted && i < next ? detached : r));
  }

  /** How long one write to the destination took lately (ms); undefined before the first. */
  typicalWriteMs(destinationId: string): number | undefined {
    return this.typicalMs.get(destinationId);
  }

  /** Folds one write's duration into the destination's moving average (bounded map). */
  private noteDuration(destinationId: string, ms: number): void {
    const previous = this.typicalMs.get(destinationId);
    this.typicalMs.delete(destinationId);
    this.typicalMs.set(destinationId, previous === undefined ? ms : 0.8 * previous + 0.2 * ms);
    if (this.typicalMs.size > TYPICAL_DURATIONS_KEPT) {
      this.typicalMs.delete(this.typicalMs.keys().next().value as string);
    }
  }

  /** What a write's result (or an error met before writing) comes to for the item. */
  classify(item: WorkItem, result: DeliveryResult | Error): Outcome {
    if (!(result instanceof Error)) {
      return result.outcome === 'delivered'
        ? {
            item,
            status: 'delivered',
            reason: 'ok',
            attempts: item.attemptsMade + 1,
            destinationRecordId: result.destinationRecordId,
          }
        : { item, status: 'skipped', reason: result.reason, attempts: item.attemptsMade };
    }
    const paced = result instanceof DestinationUnavailableError && result.pacing;
    // A wait the destination asked for (429, a used-up budget) is not a failed attempt.
    const attempts = paced ? item.attemptsMade : item.attemptsMade + 1;
    const reason = paced
      ? 'rate_limited'
      : ((result as { reason?: string }).reason ?? 'unexpected');
    if (result instanceof NeedsSourceFixError) {
      // Not a failed attempt either: nothing was wrong with the pipeline or the destination.
      return {
        item,
        status: 'needs_source_fix',
        reason: result.problem,
        attempts: item.attemptsMade,
        error: result.message,
        problem: result.problem,
        waitingFor: result.waitingFor,
      };
    }
    if (!isRetriable(result)) {
      const waitingFor = (result as { waitingFor?: unknown }).waitingFor;
      return {
        item,
        status: 'dead_lettered',
        reason,
        attempts,
        error: result.message,
        ...(typeof waitingFor === 'string' ? { waitingFor } : {}),
      };
    }
    if (attempts >= this.maxAttempts) {
      return {
        item,
        status: 'dead_lettered',
        reason: 'attempts_exhausted',
        attempts,
        error: `${reason}: ${result.message}`,
      };
    }
    const retryAfter = (result as { retryAfterMs?: number }).retryAfterMs ?? 0;
    const ladder = this.delaysMs[Math.min(attempts - 1, RETRY_DELAYS.length - 1)] ?? 0;
    const delay = paced ? retryAfter || this.delaysMs[0] : Math.max(ladder, retryAfter);
    const dueAt = new Date(Date.now() + delay);
    const waitingSince = item.firstFailedAt ?? new Date();
    if (dueAt.getTime() - waitingSince.getTime() > this.maxWaitMs) {
      return {
        item,
        status: 'dead_lettered',
        reason: 'max_wait_exceeded',
        attempts,
        error: `waited since ${waitingSince.toISOString()}, longer than ${Math.round(this.maxWaitMs / 3_600_000)} h: ${reason}: ${result.message}`,
      };
    }
    return {
      item,
      status: 'retry',
      reason,
      attempts,
      error: result.message,
      tier: retryTierFor(delay, this.delaysMs),
      dueAt,
    };
  }
}

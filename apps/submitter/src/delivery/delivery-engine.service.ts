import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type {
  DeliveryResult,
  DestinationAdapter,
  DestinationContext,
} from '@raise-sync/destinations';
import type { AppConfig } from '@raise-sync/shared/config';
import type { SourceEvent } from '@raise-sync/shared/events';
import {
  DEAD_LETTER_HEADERS,
  RETRY_DELAYS,
  deadLetterHeaders,
  retryHeaders,
  type Message,
  type Topics,
} from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import {
  EventProducer,
  PIPELINE_METRICS,
  PinoLogger,
  TOPICS,
  type ConsumedMessage,
} from '@raise-sync/shared/service';
import { DataSource } from 'typeorm';
import { DestinationUnavailableError } from '@raise-sync/shared';
import { AdapterRegistry } from './adapter-registry';
import { DestinationBudgets } from './destination-budgets';
import { DeliveryLanes, type ParkReason } from './delivery-lanes.service';
import { RecordWriteSerializer } from './record-write-serializer';
import { retryTierFor } from './retry-tier';
import { decideAgainstSyncState, targetedElsewhere, type Decision } from './sync-state-decision';

/** One event on its way to one destination: from a source topic (attempt 0) or a retry topic. */
export interface WorkItem {
  event: SourceEvent;
  message: ConsumedMessage;
  /** Attempts already made for this event at this destination (0 for a live event). */
  attemptsMade: number;
  firstFailedAt: Date | null;
  fromRetry: boolean;
  /** The echo of our own write to the source (two-way sync): not synced out again. */
  echo?: boolean;
  /** A replay aimed at one destination (its header): the others skip it as not_targeted. */
  targetDestinationId?: string;
  /**
   * Set by RecordCompletion when a record the event needs (a webhook gift's donor) could not be
   * read right now: the event is retried at every destination instead of being delivered without it.
   */
  unavailable?: Error;
  /**
   * Taken by the drainer from its destination's lane (a parked retry entry; fromRetry is set
   * too). A lane event the destination cannot take right now stays parked, spending no attempt.
   */
  fromLane?: boolean;
}

/** What one deliver() call achieved, for the lane drainer's pacing. */
export interface DeliverySummary {
  /** Items settled: delivered, skipped, dead-lettered or sent to a retry tier (not parked). */
  settled: number;
  /** Set when the destination asked to wait (429, used-up budget): not before this time. */
  pacedUntil: number;
}

/** The result of an item the destination had no time for in this call (see write()). */
class NotStarted extends Error {}

interface Outcome {
  item: WorkItem;
  /** 'parked': waits in the destination's lane (reason: why), with no attempt spent. */
  status: 'delivered' | 'skipped' | 'retry' | 'dead_lettered' | 'parked';
  reason: string;
  /** Delivery attempts made for the event at this destination, this one included if it was one. */
  attempts: number;
  destinationRecordId?: string | null;
  error?: string;
  /** When status is 'retry'. */
  dueAt?: Date;
  tier?: number;
  /** When dead-lettered for another record's missing data: `<resource>:<id>` of that record. */
  waitingFor?: string;
}

type DeadOutcome = Outcome & { dlqMessage?: Message; dlqOffset?: string; dlqPartition?: number };

interface SyncRow {
  resource: string;
  source_id: string;
  status: string;
  source_modified_at: Date;
  last_event_id: string | null;
}

const keyOf = (e: SourceEvent): string => `${e.resource}\u0000${e.recordId}`;

/** Least time between publishing a retry and its due time (its entry is recorded in between). */
const RETRY_PUBLISH_MARGIN_MS = 1000;

function isRetriable(error: Error): boolean {
  const retriable = (error as { retriable?: unknown }).retriable;
  return retriable === undefined ? true : retriable === true;
}

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
 */
@Injectable()
export class DeliveryEngine {
  private readonly delaysMs: [number, number, number];
  private readonly maxAttempts: number;
  private readonly maxWaitMs: number;
  private readonly timeoutMs: number;
  private readonly keyConcurrency: number;
  private readonly taskBudgetMs: number;
  private readonly budgets = new DestinationBudgets();
  private readonly serializer = new RecordWriteSerializer();

  constructor(
    private readonly db: DataSource,
    private readonly adapters: AdapterRegistry,
    private readonly producer: EventProducer,
    @Inject(TOPICS) private readonly topics: Topics,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    config: ConfigService<AppConfig, true>,
    private readonly log: PinoLogger,
    private readonly lanes: DeliveryLanes,
  ) {
    const submitter = config.get('submitter', { infer: true });
    this.delaysMs = submitter.retryDelaysMs;
    this.maxAttempts = submitter.maxAttempts;
    this.maxWaitMs = submitter.maxWaitMs;
    this.timeoutMs = submitter.deliveryTimeoutMs;
    this.keyConcurrency = submitter.keyConcurrency;
    this.taskBudgetMs = submitter.taskBudgetMs;
    this.log.setContext('delivery');
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
    const decisions = await this.decide(ctx, adapter, items);
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
      } else if (item.unavailable) {
        outcomes.push(this.classify(item, item.unavailable));
      } else {
        sendAt.push(outcomes.length);
        outcomes.push(parked(item, 'lane_waiting')); // replaced by the write's result below
      }
    }
    const sending = sendAt.map((i) => (outcomes[i] as Outcome).item);
    const results = await this.write(ctx, adapter, sending, budgetMs, probing);
    const failures = new Set<Error>();
    let took = false;
    for (const [j, i] of sendAt.entries()) {
      const item = sending[j] as WorkItem;
      const result = results[j] as DeliveryResult | Error;
      if (result instanceof NotStarted) {
        outcomes[i] = parked(
          item,
          this.lanes.isOpen(ctx.destinationId) ? 'breaker_open' : 'slow_destination',
        );
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
            now + ((result as { retryAfterMs?: number }).retryAfterMs || this.delaysMs[0]),
          );
        }
        outcomes[i] = {
          ...parked(item, paced ? 'lane_waiting' : 'breaker_open'),
          error: result.message,
        };
        continue;
      }
      outcomes[i] = this.classify(item, result);
    }
    if (took) {
      await this.lanes.succeeded(ctx);
    }
    for (const failure of failures) {
      await this.lanes.failed(ctx, failure.message, probing);
    }
    await this.publishFailures(ctx, outcomes);
    await this.record(ctx, outcomes);
    this.count(ctx, outcomes);
    const newlyParked = outcomes.filter((o) => o.status === 'parked' && !o.item.fromLane).length;
    if (newlyParked > 0) {
      this.lanes.noteParked(ctx, newlyParked);
    }
    summary.settled = outcomes.filter((o) => o.status !== 'parked').length;
    return summary;
  }

  /**
   * Takes a retry entry out without delivering it, counted in the ledger as `outcome`: skipped
   * for a retry whose destination was disabled or removed (an entry of a removed destination is
   * already gone with it), dead_lettered for a lane event dead-lettered as undecodable.
   */
  async dropRetry(
    destinationId: string,
    eventId: string,
    outcome: 'skipped' | 'dead_lettered' = 'skipped',
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [deleted] = await tx.query<[Array<{ customer_id: string }>, number]>(
        `DELETE FROM retry_entries WHERE destination_id = $1 AND event_id = $2 RETURNING customer_id`,
        [destinationId, eventId],
      );
      const row = deleted[0];
      if (row) {
        await tx.query(
          `INSERT INTO delivery_counts AS d (customer_id, destination_id, outcome, n) VALUES ($1, $2, $3, 1)
           ON CONFLICT (customer_id, destination_id, outcome) DO UPDATE SET n = d.n + 1`,
          [row.customer_id, destinationId, outcome],
        );
      }
    });
  }

  /**
   * Stale/duplicate checks against the sync state (sync-state-decision.ts), newest-per-record
   * within the batch, and replays aimed at another destination (not_targeted).
   */
  private async decide(
    ctx: DestinationContext,
    adapter: DestinationAdapter,
    items: WorkItem[],
  ): Promise<Decision[]> {
    const rows: SyncRow[] = await this.db.query(
      `SELECT resource, source_id, status, source_modified_at, last_event_id
         FROM sync_records
        WHERE customer_id = $1 AND destination_id = $2
          AND (resource, source_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))`,
      [
        ctx.customerId,
        ctx.destinationId,
        items.map((i) => i.event.resource),
        items.map((i) => i.event.recordId),
      ],
    );
    const known = new Map(rows.map((r) => [`${r.resource}\u0000${r.source_id}`, r]));
    const newestIndex = new Map<string, number>();
    items.forEach((item, i) => {
      const key = keyOf(item.event);
      const current = newestIndex.get(key);
      const best = current === undefined ? undefined : items[current];
      if (!best || item.event.sourceModifiedAt.getTime() >= best.event.sourceModifiedAt.getTime()) {
        newestIndex.set(key, i);
      }
    });
    return items.map((item, i): Decision => {
      const { event } = item;
      if (item.echo) {
        return { kind: 'skip', reason: 'echo' };
      }
      const candidate = {
        origin: event.origin,
        sourceModifiedAt: event.sourceModifiedAt,
        fromRetry: item.fromRetry,
        targetDestinationId: item.targetDestinationId,
      };
      if (targetedElsewhere(candidate, ctx.destinationId)) {
        return { kind: 'skip', reason: 'not_targeted' };
      }
      if (!adapter.accepts(event.resource, ctx)) {
        return { kind: 'skip', reason: 'not_applicable' };
      }
      if (newestIndex.get(keyOf(event)) !== i) {
        return { kind: 'skip', reason: 'stale' };
      }
      const row = known.get(keyOf(event));
      return decideAgainstSyncState(
        candidate,
        row && { status: row.status, sourceModifiedAt: new Date(row.source_modified_at) },
      );
    });
  }

  /** Calls the adapter (the warehouse takes the batch, HTTP destinations one record at a time). */
  private async write(
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
    const notStarted = new NotStarted('no time for it in this pass');
    const results: Array<DeliveryResult | Error> = events.map(() => notStarted);
    const deadline = Date.now() + budgetMs;
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(this.keyConcurrency, events.length) }, async () => {
        while (next < events.length) {
          if (Date.now() >= deadline || (!probing && this.lanes.isOpen(ctx.destinationId))) {
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
            const [result] = await call([event]);
            return result ?? new Error('adapter returned no result');
          });
        }
      }),
    );
    return results;
  }

  private classify(item: WorkItem, result: DeliveryResult | Error): Outcome {
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

  /** Retry and dead-letter messages, acknowledged by Kafka before anything is recorded as done. */
  private async publishFailures(ctx: DestinationContext, outcomes: Outcome[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    const add = (topic: string, message: Message): void => {
      const list = byTopic.get(topic) ?? [];
      list.push(message);
      byTopic.set(topic, list);
    };
    // A retry's due time was set when its attempt failed; the chunk may finish much later (it
    // waits for its slowest task). Its retry entry is written just after this publish, so the
    // retry consumer must not find it due before then: keep at least RETRY_PUBLISH_MARGIN_MS.
    // (Seen in the kill -9 test: a retry due at publish time was delivered before its entry
    // existed, and the entry stayed behind as an orphan.)
    const earliestDue = Date.now() + RETRY_PUBLISH_MARGIN_MS;
    for (const o of outcomes) {
      if (o.status === 'retry' && (o.dueAt?.getTime() ?? 0) < earliestDue) {
        o.dueAt = new Date(earliestDue);
      }
    }
    for (const o of outcomes) {
      const { item } = o;
      const original = originOf(item.message);
      const firstFailedAt = item.firstFailedAt ?? new Date();
      if (o.status === 'retry') {
        add(this.topics.submitRetry(RETRY_DELAYS[o.tier ?? 0] ?? '30s'), {
          key: item.message.key,
          value: item.message.value,
          headers: {
            ...passThroughHeaders(item.message.headers),
            ...retryHeaders({
              destinationId: ctx.destinationId,
              attempt: o.attempts,
              dueAt: o.dueAt ?? new Date(),
              firstFailedAt,
              lastError: o.error ?? o.reason,
              ...original,
            }),
          },
        });
      } else if (o.status === 'dead_lettered') {
        (o as DeadOutcome).dlqMessage = {
          key: item.message.key,
          value: item.message.value,
          headers: {
            ...passThroughHeaders(item.message.headers),
            ...deadLetterHeaders({
              reason: o.reason,
              message: o.error ?? o.reason,
              attempts: o.attempts,
              originalTopic: original.originalTopic,
              originalPartition: original.originalPartition,
              originalOffset: original.originalOffset,
              firstFailedAt,
              customerId: ctx.customerId,
              destination: ctx.destinationId,
            }),
          },
        };
      }
    }
    for (const [topic, messages] of byTopic) {
      await this.producer.publishRaw(topic, messages);
    }
    // Dead letters one at a time: the index records exactly where each one landed.
    for (const o of outcomes.filter((x) => x.status === 'dead_lettered') as DeadOutcome[]) {
      const message = o.dlqMessage as Message;
      const [written] = await this.producer.publishRaw(this.topics.deadLetters, [message]);
      o.dlqPartition = written?.partition ?? 0;
      o.dlqOffset = written?.baseOffset ?? '0';
    }
  }

  /** One transaction: sync state + audit, ledger, retry entries, dead-letter index. */
  private async record(ctx: DestinationContext, outcomes: Outcome[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      // Retry items: an entry exists unless the retry message outlived a crash (an orphan whose
      // event was already counted through its replayed source batch); orphans are not counted.
      const retryIds = outcomes.filter((o) => o.item.fromRetry).map((o) => o.item.event.eventId);
      let tracked = new Set<string>();
      if (retryIds.length > 0) {
        const resolvedIds = outcomes
          .filter((o) => o.item.fromRetry && o.status !== 'retry' && o.status !== 'parked')
          .map((o) => o.item.event.eventId);
        const [deleted] = await tx.query<[Array<{ event_id: string }>, number]>(
          `DELETE FROM retry_entries WHERE destination_id = $1 AND event_id = ANY($2::text[]) RETURNING event_id`,
          [ctx.destinationId, resolvedIds],
        );
        const [updated] = await tx.query<[Array<{ event_id: string }>, number]>(
          `UPDATE retry_entries r SET attempt = v.attempt, due_at = v.due_at, last_error = v.last_error, updated_at = now(),
                  parked_at = NULL, parked_seq = NULL, park_reason = NULL, payload = NULL, message_key = NULL, headers = NULL
             FROM unnest($2::text[], $3::int[], $4::timestamptz[], $5::text[]) AS v(event_id, attempt, due_at, last_error)
            WHERE r.destination_id = $1 AND r.event_id = v.event_id
          RETURNING r.event_id`,
          [
            ctx.destinationId,
            ...columns(
              outcomes.filter((o) => o.item.fromRetry && o.status === 'retry'),
              4,
              (o) => [o.item.event.eventId, o.attempts, o.dueAt, o.error ?? o.reason],
            ),
          ],
        );
        // A retry that must wait in its lane now, or a lane event that stays there.
        const [parkedRows] = await tx.query<[Array<{ event_id: string }>, number]>(
          `UPDATE retry_entries r
              SET parked_at = COALESCE(r.parked_at, now()), parked_seq = COALESCE(r.parked_seq, nextval('retry_entries_parked_seq')),
                  park_reason = v.reason, last_error = COALESCE(v.last_error, r.last_error), due_at = now(), updated_at = now(),
                  payload = COALESCE(r.payload, v.payload), message_key = COALESCE(r.message_key, v.message_key),
                  headers = COALESCE(r.headers, v.headers)
             FROM unnest($2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::jsonb[])
                  AS v(event_id, reason, last_error, payload, message_key, headers)
            WHERE r.destination_id = $1 AND r.event_id = v.event_id
          RETURNING r.event_id`,
          [
            ctx.destinationId,
            ...columns(
              outcomes.filter((o) => o.item.fromRetry && o.status === 'parked'),
              6,
              (o) => [o.item.event.eventId, o.reason, o.error ?? null, ...laneCopy(o.item)],
            ),
          ],
        );
        tracked = new Set([...deleted, ...updated, ...parkedRows].map((r) => r.event_id));
      }
      const newRetries = outcomes.filter((o) => !o.item.fromRetry && o.status === 'retry');
      // A live event whose retry entry exists already (the same event again, e.g. a batch
      // redelivered after a crash, now that a failed version is no longer a duplicate) is in
      // retry once: this copy counts as skipped, and its retry message as that entry's orphan.
      const alreadyInRetry = new Set<string>();
      if (newRetries.length > 0) {
        // (TypeORM returns an INSERT's rows alone, not [rows, count] as for UPDATE and DELETE.)
        const inserted: Array<{ event_id: string }> = await tx.query(
          `INSERT INTO retry_entries (destination_id, customer_id, event_id, resource, source_id, attempt, due_at, last_error, first_failed_at)
           SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::timestamptz[], $8::text[], $9::timestamptz[])
           ON CONFLICT (destination_id, event_id) DO NOTHING
           RETURNING event_id`,
          [
            ctx.destinationId,
            ctx.customerId,
            ...columns(newRetries, 7, (o) => [
              o.item.event.eventId,
              o.item.event.resource,
              o.item.event.recordId,
              o.attempts,
              o.dueAt,
              o.error ?? o.reason,
              new Date(),
            ]),
          ],
        );
        noteNotInserted(newRetries, inserted, alreadyInRetry);
      }

      const newParked = outcomes.filter((o) => !o.item.fromRetry && o.status === 'parked');
      if (newParked.length > 0) {
        const inserted: Array<{ event_id: string }> = await tx.query(
          `INSERT INTO retry_entries (destination_id, customer_id, event_id, resource, source_id, attempt, due_at, last_error,
                                      first_failed_at, parked_at, parked_seq, park_reason, payload, message_key, headers)
           SELECT $1, $2, v.event_id, v.resource, v.source_id, v.attempt, now(), v.reason, now(), now(),
                  nextval('retry_entries_parked_seq'), v.reason, v.payload, v.message_key, v.headers
             FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::bytea[], $9::text[], $10::jsonb[])
                  AS v(event_id, resource, source_id, attempt, reason, payload, message_key, headers)
           ON CONFLICT (destination_id, event_id) DO NOTHING
           RETURNING event_id`,
          [
            ctx.destinationId,
            ctx.customerId,
            ...columns(newParked, 8, (o) => [
              o.item.event.eventId,
              o.item.event.resource,
              o.item.event.recordId,
              o.attempts,
              o.reason,
              ...laneCopy(o.item),
            ]),
          ],
        );
        noteNotInserted(newParked, inserted, alreadyInRetry);
      }

      // Sync state (never moves to an older version) and its audit trail. A lane event that
      // stays in its lane changes nothing there.
      const changes = outcomes.filter(
        (o) => o.status !== 'skipped' && !(o.status === 'parked' && o.item.fromLane),
      );
      if (changes.length > 0) {
        await tx.query(
          `WITH v AS (
             SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::text[],
                                  $10::text[], $11::text[], $12::int[], $13::text[], $14::timestamptz[], $15::int[])
               AS v(resource, source_id, status, source_modified_at, event_id, destination_record_id, last_error,
                    origin, topic, topic_partition, topic_offset, captured_at, attempts)
           ), prev AS (
             SELECT s.resource, s.source_id, s.status FROM sync_records s JOIN v USING (resource, source_id)
              WHERE s.customer_id = $1 AND s.destination_id = $2
           ), up AS (
             INSERT INTO sync_records AS s (customer_id, destination_id, resource, source_id, status, source_modified_at,
                                            last_event_id, destination_record_id, last_error, attempts)
             SELECT $1, $2, resource, source_id, status, source_modified_at, event_id, destination_record_id, last_error, attempts FROM v
             ON CONFLICT (customer_id, resource, source_id, destination_id) DO UPDATE
               SET status = EXCLUDED.status,
                   source_modified_at = EXCLUDED.source_modified_at,
                   last_event_id = EXCLUDED.last_event_id,
                   destination_record_id = COALESCE(EXCLUDED.destination_record_id, s.destination_record_id),
                   last_error = EXCLUDED.last_error,
                   -- the event's own count: a wait for a budget or Retry-After is no attempt
                   attempts = CASE WHEN s.last_event_id = EXCLUDED.last_event_id
                                   THEN GREATEST(s.attempts, EXCLUDED.attempts) ELSE EXCLUDED.attempts END,
                   updated_at = now()
               WHERE EXCLUDED.source_modified_at >= s.source_modified_at
             RETURNING s.resource, s.source_id, s.status, s.attempts, s.destination_record_id, s.last_event_id
           )
           INSERT INTO audit_log (customer_id, resource, source_id, destination_id, event_id, action, from_status, to_status, detail)
           SELECT $1, up.resource, up.source_id, $2, up.last_event_id, 'sync-state', prev.status, up.status,
                  jsonb_strip_nulls(jsonb_build_object(
                    'attempts', up.attempts, 'destinationRecordId', up.destination_record_id, 'error', v.last_error,
                    'origin', v.origin, 'topic', v.topic, 'partition', v.topic_partition, 'offset', v.topic_offset,
                    'capturedAt', v.captured_at))
             FROM up JOIN v USING (resource, source_id) LEFT JOIN prev USING (resource, source_id)`,
          [
            ctx.customerId,
            ctx.destinationId,
            ...columns(changes, 13, (o) => {
              // The audit row says how the record was captured and where it sits in Kafka (the
              // source topic position, also for a delivery made from a retry topic).
              const position = originOf(o.item.message);
              return [
                o.item.event.resource,
                o.item.event.recordId,
                o.status === 'delivered'
                  ? 'confirmed'
                  : o.status === 'parked' || (o.status === 'retry' && o.reason === 'rate_limited')
                    ? 'pending'
                    : 'failed',
                o.item.event.sourceModifiedAt,
                o.item.event.eventId,
                o.destinationRecordId ?? null,
                o.status === 'delivered'
                  ? null
                  : o.status === 'parked'
                    ? `waiting: ${o.reason}`
                    : `${o.reason}: ${o.error ?? ''}`.slice(0, 2000),
                o.item.event.origin,
                position.originalTopic,
                position.originalPartition,
                position.originalOffset,
                o.item.event.capturedAt,
                o.attempts,
              ];
            }),
          ],
        );
      }

      // Dead-letter index with the payload, so the admin API can retry without reading Kafka.
      const dead = outcomes.filter((o) => o.status === 'dead_lettered') as DeadOutcome[];
      for (const o of dead) {
        await tx.query(
          `INSERT INTO dead_letters (customer_id, destination_id, topic, partition, "offset", event_id, resource, source_id,
                                     reason, error_message, attempts, first_failed_at, status, payload, message_key, headers,
                                     waiting_for)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'open', $13, $14, $15, $16)
           ON CONFLICT (topic, partition, "offset") DO NOTHING`,
          [
            ctx.customerId,
            ctx.destinationId,
            this.topics.deadLetters,
            o.dlqPartition ?? 0,
            o.dlqOffset ?? '0',
            o.item.event.eventId,
            o.item.event.resource,
            o.item.event.recordId,
            o.reason,
            (o.error ?? o.reason).slice(0, 2000),
            o.attempts,
            o.item.firstFailedAt ?? new Date(),
            o.item.message.value,
            o.item.message.key?.toString() ?? null,
            JSON.stringify(o.dlqMessage?.headers ?? o.item.message.headers),
            o.waitingFor ?? null,
          ],
        );
      }

      // The ledger: live items count as received; terminal outcomes of tracked retries count.
      const counts = new Map<string, number>();
      const bump = (outcome: string): void => {
        counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
      };
      for (const o of outcomes) {
        if (!o.item.fromRetry) {
          bump('received');
          if (
            (o.status === 'retry' || o.status === 'parked') &&
            alreadyInRetry.has(o.item.event.eventId)
          ) {
            bump('skipped');
            continue;
          }
        } else if (!tracked.has(o.item.event.eventId)) {
          continue;
        }
        if (o.status === 'delivered' || o.status === 'skipped' || o.status === 'dead_lettered') {
          bump(o.status);
        }
      }
      if (counts.size > 0) {
        await tx.query(
          `INSERT INTO delivery_counts AS d (customer_id, destination_id, outcome, n)
           SELECT $1, $2, * FROM unnest($3::text[], $4::bigint[])
           ON CONFLICT (customer_id, destination_id, outcome) DO UPDATE SET n = d.n + EXCLUDED.n`,
          [ctx.customerId, ctx.destinationId, [...counts.keys()], [...counts.values()]],
        );
      }
    });
  }

  private count(ctx: DestinationContext, outcomes: Outcome[]): void {
    const now = Date.now();
    const joined = outcomes.filter((o) => o.status === 'parked' && !o.item.fromLane);
    if (joined.length > 0) {
      this.log.info(
        {
          customerId: ctx.customerId,
          destination: ctx.name,
          parked: joined.length,
          reasons: [...new Set(joined.map((o) => o.reason))],
        },
        "events wait in the destination's lane (no attempt spent)",
      );
    }
    for (const o of outcomes) {
      const labels = { customer_id: ctx.customerId, destination: ctx.name };
      if (!o.item.fromRetry) {
        this.metrics.deliveries.inc({ ...labels, outcome: 'received', reason: '' });
      }
      this.metrics.deliveries.inc({
        ...labels,
        outcome: o.status === 'retry' ? 'retry_scheduled' : o.status,
        reason: o.reason,
      });
      if (
        o.status === 'delivered' &&
        (o.item.event.origin === 'webhook' || o.item.event.origin === 'poll')
      ) {
        this.metrics.endToEndSeconds.observe(
          { kind: ctx.kind, origin: o.item.event.origin },
          Math.max(0, now - o.item.event.sourceModifiedAt.getTime()) / 1000,
        );
      }
      if (o.status === 'dead_lettered') {
        this.metrics.deadLetters.inc({ customer_id: ctx.customerId, reason: o.reason });
        this.log.warn(
          {
            customerId: ctx.customerId,
            destination: ctx.name,
            eventId: o.item.event.eventId,
            resource: o.item.event.resource,
            recordId: o.item.event.recordId,
            reason: o.reason,
            error: o.error,
          },
          'dead-lettered',
        );
      } else if (o.status === 'retry') {
        this.log.info(
          {
            customerId: ctx.customerId,
            destination: ctx.name,
            recordId: o.item.event.recordId,
            attempt: o.attempts,
            reason: o.reason,
            dueAt: o.dueAt,
            error: o.error,
          },
          'delivery failed; scheduled for retry',
        );
      }
    }
  }
}

/** Adds to `into` the events of `outcomes` whose retry entry existed already (not inserted). */
function noteNotInserted(
  outcomes: Outcome[],
  inserted: Array<{ event_id: string }>,
  into: Set<string>,
): void {
  const fresh = new Set(inserted.map((r) => r.event_id));
  for (const o of outcomes) {
    if (!fresh.has(o.item.event.eventId)) {
      into.add(o.item.event.eventId);
    }
  }
}

function parked(item: WorkItem, reason: ParkReason): Outcome {
  return { item, status: 'parked', reason, attempts: item.attemptsMade };
}

/** Where a message originally came from (the source topic position, kept through retries). */
function originOf(message: ConsumedMessage): {
  originalTopic: string;
  originalPartition: number;
  originalOffset: string;
} {
  const h = message.headers;
  const fromHeaders = h[DEAD_LETTER_HEADERS.originalTopic];
  return fromHeaders
    ? {
        originalTopic: fromHeaders,
        originalPartition: Number(h[DEAD_LETTER_HEADERS.originalPartition] ?? -1),
        originalOffset: h[DEAD_LETTER_HEADERS.originalOffset] ?? '',
      }
    : {
        originalTopic: message.topic,
        originalPartition: message.partition,
        originalOffset: message.offset,
      };
}

/** The source event headers travel on (event ID, origin, customer); retry bookkeeping is rewritten. */
function passThroughHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(
      ([name]) => !name.startsWith('x-retry-') && !name.startsWith('x-error-'),
    ),
  );
}

/** What a lane keeps of an event's message: payload, key, headers (with its source position). */
function laneCopy(item: WorkItem): [Buffer | null, string | null, string] {
  const position = originOf(item.message);
  return [
    item.message.value,
    item.message.key?.toString() ?? null,
    JSON.stringify({
      ...passThroughHeaders(item.message.headers),
      [DEAD_LETTER_HEADERS.originalTopic]: position.originalTopic,
      [DEAD_LETTER_HEADERS.originalPartition]: String(position.originalPartition),
      [DEAD_LETTER_HEADERS.originalOffset]: position.originalOffset,
    }),
  ];
}

/** Turns rows into parallel arrays (one per column) for `unnest(...)`; empty arrays for no rows. */
function columns<T>(rows: T[], arity: number, pick: (row: T) => unknown[]): unknown[][] {
  const out: unknown[][] = Array.from({ length: arity }, () => []);
  for (const row of rows) {
    pick(row).forEach((value, i) => out[i]?.push(value));
  }
  return out;
}

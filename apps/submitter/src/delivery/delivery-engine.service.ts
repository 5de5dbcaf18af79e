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
}

interface Outcome {
  item: WorkItem;
  status: 'delivered' | 'skipped' | 'retry' | 'dead_lettered';
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
  ) {
    const submitter = config.get('submitter', { infer: true });
    this.delaysMs = submitter.retryDelaysMs;
    this.maxAttempts = submitter.maxAttempts;
    this.maxWaitMs = submitter.maxWaitMs;
    this.timeoutMs = submitter.deliveryTimeoutMs;
    this.keyConcurrency = submitter.keyConcurrency;
    this.log.setContext('delivery');
  }

  async deliver(ctx: DestinationContext, items: WorkItem[]): Promise<void> {
    if (items.length === 0) {
      return;
    }
    const adapter = this.adapters.get(ctx.kind);
    const decisions = await this.decide(ctx, adapter, items);
    const toDeliver = items.filter(
      (item, i) => decisions[i]?.kind === 'deliver' && !item.unavailable,
    );
    const results = await this.write(ctx, adapter, toDeliver);
    const outcomes: Outcome[] = [];
    let next = 0;
    for (const [i, item] of items.entries()) {
      const decision = decisions[i] as Decision;
      if (decision.kind === 'skip') {
        outcomes.push({
          item,
          status: 'skipped',
          reason: decision.reason,
          attempts: item.attemptsMade,
        });
        continue;
      }
      const result = item.unavailable ?? (results[next++] as DeliveryResult | Error);
      outcomes.push(this.classify(item, result));
    }
    await this.publishFailures(ctx, outcomes);
    await this.record(ctx, outcomes);
    this.count(ctx, outcomes);
  }

  /**
   * A retry whose destination was disabled or removed: it leaves the ledger as skipped (an
   * entry of a removed destination is already gone with it).
   */
  async dropRetry(destinationId: string, eventId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [deleted] = await tx.query<[Array<{ customer_id: string }>, number]>(
        `DELETE FROM retry_entries WHERE destination_id = $1 AND event_id = $2 RETURNING customer_id`,
        [destinationId, eventId],
      );
      const row = deleted[0];
      if (row) {
        await tx.query(
          `INSERT INTO delivery_counts AS d (customer_id, destination_id, outcome, n) VALUES ($1, $2, 'skipped', 1)
           ON CONFLICT (customer_id, destination_id, outcome) DO UPDATE SET n = d.n + 1`,
          [row.customer_id, destinationId],
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
    const results: Array<DeliveryResult | Error> = events.map(() => new Error('not attempted'));
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(this.keyConcurrency, events.length) }, async () => {
        while (next < events.length) {
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
          .filter((o) => o.item.fromRetry && o.status !== 'retry')
          .map((o) => o.item.event.eventId);
        const [deleted] = await tx.query<[Array<{ event_id: string }>, number]>(
          `DELETE FROM retry_entries WHERE destination_id = $1 AND event_id = ANY($2::text[]) RETURNING event_id`,
          [ctx.destinationId, resolvedIds],
        );
        const [updated] = await tx.query<[Array<{ event_id: string }>, number]>(
          `UPDATE retry_entries r SET attempt = v.attempt, due_at = v.due_at, last_error = v.last_error, updated_at = now()
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
        tracked = new Set([...deleted, ...updated].map((r) => r.event_id));
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
        const fresh = new Set(inserted.map((r) => r.event_id));
        for (const o of newRetries) {
          if (!fresh.has(o.item.event.eventId)) {
            alreadyInRetry.add(o.item.event.eventId);
          }
        }
      }

      // Sync state (never moves to an older version) and its audit trail.
      const changes = outcomes.filter((o) => o.status !== 'skipped');
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
                  : o.status === 'retry' && o.reason === 'rate_limited'
                    ? 'pending'
                    : 'failed',
                o.item.event.sourceModifiedAt,
                o.item.event.eventId,
                o.destinationRecordId ?? null,
                o.status === 'delivered' ? null : `${o.reason}: ${o.error ?? ''}`.slice(0, 2000),
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
          if (o.status === 'retry' && alreadyInRetry.has(o.item.event.eventId)) {
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

/** Turns rows into parallel arrays (one per column) for `unnest(...)`; empty arrays for no rows. */
function columns<T>(rows: T[], arity: number, pick: (row: T) => unknown[]): unknown[][] {
  const out: unknown[][] = Array.from({ length: arity }, () => []);
  for (const row of rows) {
    pick(row).forEach((value, i) => out[i]?.push(value));
  }
  return out;
}

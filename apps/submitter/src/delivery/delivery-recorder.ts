import { Inject, Injectable } from '@nestjs/common';
import type { DestinationContext } from '@raise-sync/destinations';
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
import type {
  DeadLetteredOutcome,
  Outcome,
  ParkedOutcome,
  RetryOutcome,
  WorkItem,
} from './outcome';

/** Where a dead letter was published, for its index row. */
interface DeadLetterCopy {
  message: Message;
  partition: number;
  offset: string;
}

/** Least time between publishing a retry and its due time (its entry is recorded in between). */
const RETRY_PUBLISH_MARGIN_MS = 1000;

/**
 * Writes down what became of a batch at one destination, in this order: retry and dead-letter
 * messages are published (acks=all) first; then one transaction writes sync state, an audit row
 * per change, the delivery ledger, retry entries, lane entries and the dead-letter index, so
 * "received = delivered + skipped + dead-lettered + in retry" holds per customer and destination
 * across crashes (a replayed batch finds its events confirmed and counts them as duplicates,
 * which keeps the ledger balanced); last, metrics and log lines. The caller resolves the offsets
 * only after settle() returns.
 */
@Injectable()
export class DeliveryRecorder {
  constructor(
    private readonly db: DataSource,
    private readonly producer: EventProducer,
    @Inject(TOPICS) private readonly topics: Topics,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('delivery');
  }

  /** Publishes the failures, records every outcome, then counts them. */
  async settle(ctx: DestinationContext, outcomes: Outcome[]): Promise<void> {
    const deadLetters = await this.publishFailures(ctx, outcomes);
    await this.record(ctx, outcomes, deadLetters);
    this.count(ctx, outcomes);
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
   * Retry and dead-letter messages, acknowledged by Kafka before anything is recorded as done.
   * Returns where each dead letter landed.
   */
  private async publishFailures(
    ctx: DestinationContext,
    outcomes: Outcome[],
  ): Promise<Map<DeadLetteredOutcome, DeadLetterCopy>> {
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
      if (o.status === 'retry' && o.dueAt.getTime() < earliestDue) {
        o.dueAt = new Date(earliestDue);
      }
    }
    const deadMessages: Array<[DeadLetteredOutcome, Message]> = [];
    for (const o of outcomes) {
      const { item } = o;
      const original = originOf(item.message);
      const firstFailedAt = item.firstFailedAt ?? new Date();
      if (o.status === 'retry') {
        add(this.topics.submitRetry(RETRY_DELAYS[o.tier] ?? '30s'), {
          key: item.message.key,
          value: item.message.value,
          headers: {
            ...passThroughHeaders(item.message.headers),
            ...retryHeaders({
              destinationId: ctx.destinationId,
              attempt: o.attempts,
              dueAt: o.dueAt,
              firstFailedAt,
              lastError: o.error,
              ...original,
            }),
          },
        });
      } else if (o.status === 'dead_lettered') {
        deadMessages.push([
          o,
          {
            key: item.message.key,
            value: item.message.value,
            headers: {
              ...passThroughHeaders(item.message.headers),
              ...deadLetterHeaders({
                reason: o.reason,
                message: o.error,
                attempts: o.attempts,
                originalTopic: original.originalTopic,
                originalPartition: original.originalPartition,
                originalOffset: original.originalOffset,
                firstFailedAt,
                customerId: ctx.customerId,
                destination: ctx.destinationId,
              }),
            },
          },
        ]);
      }
    }
    for (const [topic, messages] of byTopic) {
      await this.producer.publishRaw(topic, messages);
    }
    // Dead letters one at a time: the index records exactly where each one landed.
    const deadLetters = new Map<DeadLetteredOutcome, DeadLetterCopy>();
    for (const [o, message] of deadMessages) {
      const [written] = await this.producer.publishRaw(this.topics.deadLetters, [message]);
      deadLetters.set(o, {
        message,
        partition: written?.partition ?? 0,
        offset: written?.baseOffset ?? '0',
      });
    }
    return deadLetters;
  }

  /** One transaction: sync state + audit, ledger, retry entries, dead-letter index. */
  private async record(
    ctx: DestinationContext,
    outcomes: Outcome[],
    deadLetters: Map<DeadLetteredOutcome, DeadLetterCopy>,
  ): Promise<void> {
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
              outcomes.filter((o): o is RetryOutcome => o.item.fromRetry && o.status === 'retry'),
              4,
              (o) => [o.item.event.eventId, o.attempts, o.dueAt, o.error],
            ),
          ],
        );
        // A retry that must wait in its lane now, or a lane event that stays there.
        const [parkedRows] = await tx.query<[Array<{ event_id: string }>, number]>(
          `UPDATE retry_entries r
              SET parked_at = COALESCE(r.parked_at, now()), parked_seq = COALESCE(r.parked_seq, nextval('retry_entries_parked_seq')),
                  park_reason = v.reason, last_error = COALESCE(v.last_error, r.last_error),
                  due_at = COALESCE(v.not_before, now()), updated_at = now(),
                  payload = COALESCE(r.payload, v.payload), message_key = COALESCE(r.message_key, v.message_key),
                  headers = COALESCE(r.headers, v.headers)
             FROM unnest($2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::jsonb[], $8::timestamptz[])
                  AS v(event_id, reason, last_error, payload, message_key, headers, not_before)
            WHERE r.destination_id = $1 AND r.event_id = v.event_id
          RETURNING r.event_id`,
          [
            ctx.destinationId,
            ...columns(
              outcomes.filter((o): o is ParkedOutcome => o.item.fromRetry && o.status === 'parked'),
              7,
              (o) => [
                o.item.event.eventId,
                o.reason,
                o.error ?? null,
                ...laneCopy(o.item),
                o.notBefore ?? null,
              ],
            ),
          ],
        );
        tracked = new Set([...deleted, ...updated, ...parkedRows].map((r) => r.event_id));
      }
      const newRetries = outcomes.filter(
        (o): o is RetryOutcome => !o.item.fromRetry && o.status === 'retry',
      );
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
              o.error,
              new Date(),
            ]),
          ],
        );
        noteNotInserted(newRetries, inserted, alreadyInRetry);
      }

      const newParked = outcomes.filter(
        (o): o is ParkedOutcome => !o.item.fromRetry && o.status === 'parked',
      );
      if (newParked.length > 0) {
        const inserted: Array<{ event_id: string }> = await tx.query(
          `INSERT INTO retry_entries (destination_id, customer_id, event_id, resource, source_id, attempt, due_at, last_error,
                                      first_failed_at, parked_at, parked_seq, park_reason, payload, message_key, headers)
           SELECT $1, $2, v.event_id, v.resource, v.source_id, v.attempt, COALESCE(v.not_before, now()), v.reason,
                  now(), now(), nextval('retry_entries_parked_seq'), v.reason, v.payload, v.message_key, v.headers
             FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::bytea[], $9::text[], $10::jsonb[],
                         $11::timestamptz[])
                  AS v(event_id, resource, source_id, attempt, reason, payload, message_key, headers, not_before)
           ON CONFLICT (destination_id, event_id) DO NOTHING
           RETURNING event_id`,
          [
            ctx.destinationId,
            ctx.customerId,
            ...columns(newParked, 9, (o) => [
              o.item.event.eventId,
              o.item.event.resource,
              o.item.event.recordId,
              o.attempts,
              o.reason,
              ...laneCopy(o.item),
              o.notBefore ?? null,
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
                o.status === 'delivered' ? (o.destinationRecordId ?? null) : null,
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
      const dead = outcomes.filter((o) => o.status === 'dead_lettered');
      for (const o of dead) {
        const copy = deadLetters.get(o);
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
            copy?.partition ?? 0,
            copy?.offset ?? '0',
            o.item.event.eventId,
            o.item.event.resource,
            o.item.event.recordId,
            o.reason,
            o.error.slice(0, 2000),
            o.attempts,
            o.item.firstFailedAt ?? new Date(),
            o.item.message.value,
            o.item.message.key?.toString() ?? null,
            JSON.stringify(copy?.message.headers ?? o.item.message.headers),
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

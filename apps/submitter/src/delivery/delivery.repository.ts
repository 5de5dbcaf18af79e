import { Injectable } from '@nestjs/common';
import { recordKeyOf } from '@raise-sync/destinations';
import { DEAD_LETTER_HEADERS, type OutgoingMessage } from '@raise-sync/shared/kafka';
import type { CustomerScope } from '@raise-sync/shared/state';
import { DataSource, type EntityManager } from 'typeorm';
import { originOf, passThroughHeaders } from './message-origin';
import type {
  DeadLetteredOutcome,
  NeedsSourceFixOutcome,
  Outcome,
  ParkedOutcome,
  RetryOutcome,
  WorkItem,
} from './outcome';

/** Where a dead letter was published, for its index row. */
/** The sync status each record of a batch had at the destination before it (absent: none). */
export type PreviousStates = ReadonlyMap<string, string>;

export interface DeadLetterCopy {
  message: OutgoingMessage;
  partition: number;
  offset: string;
}

/** A record's sync state at one destination, as a batch is decided on it. */
export interface SyncStateRow {
  resource: string;
  source_id: string;
  status: string;
  source_modified_at: Date;
  last_event_id: string | null;
}

/** What one chunk's outcomes at one destination leave behind (see DeliveryRepository.record). */
export interface ChunkOutcomes {
  destinationId: string;
  outcomes: Outcome[];
  /** Where each dead letter of the chunk was published. */
  deadLetters: Map<DeadLetteredOutcome, DeadLetterCopy>;
  /** The state the chunk was decided on (the audit rows' from-status). */
  previous: PreviousStates;
  /** The dead-letter topic, for the index rows. */
  deadLetterTopic: string;
}

/**
 * The delivery path's state, set-based: per chunk and destination, one read of the records' sync
 * state (before deciding) and one statement for sync state + audit + ledger (after delivering),
 * with the retry entries, lane entries and the dead-letter index in the same transaction when the
 * chunk has any. A chunk's rows for one destination all belong to that destination's customer:
 * the scope. Tables: sync_records, audit_log, delivery_counts, retry_entries, dead_letters, and
 * the new holds of source_fix_holds (SourceFixRepository owns what happens to them after).
 */
@Injectable()
export class DeliveryRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * The sync state of the batch's records at the destination (`resources[i]`, `sourceIds[i]`
   * name one record); a record never synced there has no row.
   */
  async syncStates(
    { customerId }: CustomerScope,
    destinationId: string,
    resources: string[],
    sourceIds: string[],
  ): Promise<SyncStateRow[]> {
    // One index lookup per record (the LATERAL … LIMIT 1 keeps the plan a nested loop over the
    // unique key): a join the planner may turn into a hash join over every row of the customer
    // and destination when the table's statistics are stale, as during a new customer's first
    // backfill, made each chunk cost more than the one before (241 ms per chunk at 200,000 rows).
    return this.db.query(
      `SELECT s.resource, s.source_id, s.status, s.source_modified_at, s.last_event_id
         FROM unnest($3::text[], $4::text[]) AS v(resource, source_id)
         CROSS JOIN LATERAL (
           SELECT resource, source_id, status, source_modified_at, last_event_id FROM sync_records
            WHERE customer_id = $1 AND resource = v.resource AND source_id = v.source_id
              AND destination_id = $2
            LIMIT 1) AS s`,
      [customerId, destinationId, resources, sourceIds],
    );
  }

  /**
   * Takes a retry entry out without delivering it, counted in the ledger as `outcome`: skipped
   * for a retry whose destination was disabled or removed (an entry of a removed destination is
   * already gone with it), dead_lettered for a lane event dead-lettered as undecodable.
   */
  async dropRetry(
    { customerId }: CustomerScope,
    destinationId: string,
    eventId: string,
    outcome: 'skipped' | 'dead_lettered' = 'skipped',
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [deleted] = await tx.query<[Array<{ customer_id: string }>, number]>(
        `DELETE FROM retry_entries WHERE destination_id = $1 AND event_id = $2 AND customer_id = $3 RETURNING customer_id`,
        [destinationId, eventId, customerId],
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

  /** The events of this list that have a retry entry at the destination. */
  async retryEntriesOf(
    { customerId }: CustomerScope,
    destinationId: string,
    eventIds: string[],
  ): Promise<Set<string>> {
    const rows: Array<{ event_id: string }> = await this.db.query(
      `SELECT event_id FROM retry_entries WHERE destination_id = $1 AND event_id = ANY($2::text[]) AND customer_id = $3`,
      [destinationId, eventIds, customerId],
    );
    return new Set(rows.map((r) => r.event_id));
  }

  /**
   * One transaction: sync state + audit, ledger, retry entries, dead-letter index. `previous` is
   * the state the batch was decided on (the audit row's from-status), so it is not read again.
   */
  async record(scope: CustomerScope, chunk: ChunkOutcomes): Promise<void> {
    const { destinationId, outcomes, deadLetters, previous, deadLetterTopic } = chunk;
    const { customerId } = scope;
    // The common case, a batch of live events delivered or skipped, is one statement (sync
    // state, audit rows and ledger) in one commit: no transaction of several round trips, and
    // the ledger rows are locked only for that statement's commit.
    const plain = outcomes.every(
      (o) => !o.item.fromRetry && (o.status === 'delivered' || o.status === 'skipped'),
    );
    if (plain) {
      await this.db.query(
        ...syncStateStatement(
          scope,
          destinationId,
          outcomes,
          previous,
          ledgerCounts(outcomes, new Set(), new Set()),
        ),
      );
      return;
    }
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
          `DELETE FROM retry_entries WHERE destination_id = $1 AND event_id = ANY($2::text[]) AND customer_id = $3 RETURNING event_id`,
          [destinationId, resolvedIds, customerId],
        );
        const [updated] = await tx.query<[Array<{ event_id: string }>, number]>(
          `UPDATE retry_entries r SET attempt = v.attempt, due_at = v.due_at, last_error = v.last_error, updated_at = now(),
                  parked_at = NULL, parked_seq = NULL, park_reason = NULL, payload = NULL, message_key = NULL, headers = NULL
             FROM unnest($2::text[], $3::int[], $4::timestamptz[], $5::text[]) AS v(event_id, attempt, due_at, last_error)
            WHERE r.destination_id = $1 AND r.event_id = v.event_id AND r.customer_id = $6
          RETURNING r.event_id`,
          [
            destinationId,
            ...columns(
              outcomes.filter((o): o is RetryOutcome => o.item.fromRetry && o.status === 'retry'),
              4,
              (o) => [o.item.event.eventId, o.attempts, o.dueAt, o.error],
            ),
            customerId,
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
            WHERE r.destination_id = $1 AND r.event_id = v.event_id AND r.customer_id = $9
          RETURNING r.event_id`,
          [
            destinationId,
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
            customerId,
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
            destinationId,
            customerId,
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
            destinationId,
            customerId,
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
            customerId,
            destinationId,
            deadLetterTopic,
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

      const held = outcomes.filter(
        (o): o is NeedsSourceFixOutcome => o.status === 'needs_source_fix',
      );
      const adjust: Record<string, number> = {};
      if (held.length > 0) {
        await this.hold(tx, scope, destinationId, held, alreadyInRetry, adjust);
      }

      // Sync state, its audit trail and the ledger, last: the ledger rows are locked until the
      // commit, so the shorter that is, the less concurrent chunks of the destination queue.
      await tx.query(
        ...syncStateStatement(
          scope,
          destinationId,
          outcomes,
          previous,
          addCounts(ledgerCounts(outcomes, alreadyInRetry, tracked), adjust),
        ),
      );
    });
  }

  /**
   * Holds records the destination can never take as the source has them (source_fix_holds,
   * with the payload). A copy already held (the same version again) is noted in `alreadyHeld`
   * and counts as skipped; a hold released or resolved earlier opens again. Older open holds of
   * the same records are superseded by the new ones: resolved, and moved in the ledger (through
   * `adjust`) from needs_source_fix to skipped, as any older version is.
   */
  private async hold(
    tx: EntityManager,
    { customerId }: CustomerScope,
    destinationId: string,
    held: NeedsSourceFixOutcome[],
    alreadyHeld: Set<string>,
    adjust: Record<string, number>,
  ): Promise<void> {
    const inserted: Array<{ event_id: string }> = await tx.query(
      `INSERT INTO source_fix_holds AS h (customer_id, destination_id, event_id, resource, source_id, source_modified_at,
                                          problem, waiting_for, error_message, payload, message_key, headers)
       SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[],
                                    $9::text[], $10::bytea[], $11::text[], $12::jsonb[])
       ON CONFLICT (destination_id, event_id) DO UPDATE
         SET status = 'open', problem = EXCLUDED.problem, waiting_for = EXCLUDED.waiting_for,
             error_message = EXCLUDED.error_message, payload = EXCLUDED.payload,
             message_key = EXCLUDED.message_key, headers = EXCLUDED.headers, updated_at = now()
         WHERE h.status <> 'open'
       RETURNING event_id`,
      [
        customerId,
        destinationId,
        ...columns(held, 10, (o) => [
          o.item.event.eventId,
          o.item.event.resource,
          o.item.event.recordId,
          o.item.event.sourceModifiedAt,
          o.problem,
          o.waitingFor,
          o.error.slice(0, 2000),
          ...laneCopy(o.item),
        ]),
      ],
    );
    noteNotInserted(held, inserted, alreadyHeld);
    const [superseded] = await tx.query<[unknown[], number]>(
      `UPDATE source_fix_holds h SET status = 'resolved', updated_at = now()
         FROM unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[]) AS v(event_id, resource, source_id, source_modified_at)
        WHERE h.customer_id = $1 AND h.destination_id = $2 AND h.status = 'open'
          AND h.resource = v.resource AND h.source_id = v.source_id
          AND h.event_id <> v.event_id AND h.source_modified_at <= v.source_modified_at
          AND NOT (h.event_id = ANY($3::text[]))
       RETURNING h.event_id`,
      [
        customerId,
        destinationId,
        ...columns(held, 4, (o) => [
          o.item.event.eventId,
          o.item.event.resource,
          o.item.event.recordId,
          o.item.event.sourceModifiedAt,
        ]),
      ],
    );
    if (superseded.length > 0) {
      adjust['needs_source_fix'] = (adjust['needs_source_fix'] ?? 0) - superseded.length;
      adjust['skipped'] = (adjust['skipped'] ?? 0) + superseded.length;
    }
  }
}

/** The sum of two sets of ledger increments. */
function addCounts(
  counts: Record<string, number>,
  more: Record<string, number>,
): Record<string, number> {
  const sum = { ...counts };
  for (const [outcome, n] of Object.entries(more)) {
    sum[outcome] = (sum[outcome] ?? 0) + n;
  }
  return sum;
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

/**
 * The ledger's increments for a batch: live items count as received; terminal outcomes of
 * tracked retries count (an orphan retry message, not tracked, is not counted); a live copy of
 * an event already in retry counts as skipped.
 */
function ledgerCounts(
  outcomes: Outcome[],
  alreadyInRetry: ReadonlySet<string>,
  tracked: ReadonlySet<string>,
): Record<string, number> {
  const counts: Record<string, number> = {};
  const bump = (outcome: string): void => {
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  };
  for (const o of outcomes) {
    if (!o.item.fromRetry) {
      bump('received');
      if (
        (o.status === 'retry' || o.status === 'parked' || o.status === 'needs_source_fix') &&
        alreadyInRetry.has(o.item.event.eventId)
      ) {
        bump('skipped');
        continue;
      }
    } else if (!tracked.has(o.item.event.eventId)) {
      continue;
    }
    if (o.status === 'needs_source_fix' && alreadyInRetry.has(o.item.event.eventId)) {
      bump('skipped'); // a retried copy of a version held already
    } else if (
      o.status === 'delivered' ||
      o.status === 'skipped' ||
      o.status === 'dead_lettered' ||
      o.status === 'needs_source_fix'
    ) {
      bump(o.status);
    }
  }
  return counts;
}

/** The sync status a change leaves a record in at the destination. */
function statusOf(o: Outcome): string {
  if (o.status === 'delivered') {
    return 'confirmed';
  }
  return o.status === 'parked' || (o.status === 'retry' && o.reason === 'rate_limited')
    ? 'pending'
    : 'failed';
}

/**
 * One statement for sync state (never moved to an older version), an audit row per change and
 * the ledger increments. The changes travel as one JSON parameter (an array of rows, each an
 * array of values in the order below), which the server parses once: cheaper on both sides than
 * fourteen array parameters. A lane event that stays in its lane changes nothing there.
 */
function syncStateStatement(
  { customerId }: CustomerScope,
  destinationId: string,
  outcomes: Outcome[],
  previous: PreviousStates,
  counts: Record<string, number>,
): [string, unknown[]] {
  const rows: unknown[] = [];
  for (const o of outcomes) {
    if (o.status === 'skipped' || (o.status === 'parked' && o.item.fromLane)) {
      continue;
    }
    const { event } = o.item;
    // The audit row says how the record was captured and where it sits in Kafka (the source
    // topic position, also for a delivery made from a retry topic).
    const position = originOf(o.item.message);
    rows.push([
      event.resource,
      event.recordId,
      statusOf(o),
      event.sourceModifiedAt.toISOString(),
      event.eventId,
      o.status === 'delivered' ? (o.destinationRecordId ?? null) : null,
      o.status === 'delivered'
        ? null
        : o.status === 'parked'
          ? `waiting: ${o.reason}`
          : `${o.reason}: ${o.error ?? ''}`.slice(0, 2000),
      event.origin,
      position.originalTopic,
      position.originalPartition,
      position.originalOffset,
      event.capturedAt.toISOString(),
      o.attempts,
      previous.get(recordKeyOf(event)) ?? null,
    ]);
  }
  return [
    `WITH v AS (
       SELECT r->>0 AS resource, r->>1 AS source_id, r->>2 AS status, (r->>3)::timestamptz AS source_modified_at,
              r->>4 AS event_id, r->>5 AS destination_record_id, r->>6 AS last_error, r->>7 AS origin,
              r->>8 AS topic, (r->>9)::int AS topic_partition, r->>10 AS topic_offset,
              (r->>11)::timestamptz AS captured_at, (r->>12)::int AS attempts, r->>13 AS from_status
         FROM jsonb_array_elements($3::jsonb) AS r
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
     ), audit AS (
       INSERT INTO audit_log (customer_id, resource, source_id, destination_id, event_id, action, from_status, to_status,
                              attempts, destination_record_id, error, origin, topic, topic_partition, topic_offset, captured_at)
       SELECT $1, up.resource, up.source_id, $2, up.last_event_id, 'sync-state', v.from_status, up.status,
              up.attempts, up.destination_record_id, v.last_error, v.origin, v.topic, v.topic_partition, v.topic_offset,
              v.captured_at
         FROM up JOIN v USING (resource, source_id)
     )
     INSERT INTO delivery_counts AS d (customer_id, destination_id, outcome, n)
     SELECT $1, $2, c.key, c.value::bigint FROM jsonb_each_text($4::jsonb) AS c
     ON CONFLICT (customer_id, destination_id, outcome) DO UPDATE SET n = d.n + EXCLUDED.n`,
    [customerId, destinationId, JSON.stringify(rows), JSON.stringify(counts)],
  ];
}

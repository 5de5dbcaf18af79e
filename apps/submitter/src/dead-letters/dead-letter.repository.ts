import { Injectable } from '@nestjs/common';
import { DeadLetterEntity, type CustomerScope } from '@raise-sync/shared/state';
import { DataSource, In, type FindOptionsWhere } from 'typeorm';

/** Which dead letters of a customer (or of every customer) a list or bulk action takes. */
export interface DeadLetterQuery {
  destinationId?: string;
  reason?: string;
  status?: 'open' | 'retried' | 'discarded';
  /** Only dead letters waiting for one of these related records (`<resource>:<id>`). */
  waitingFor?: string[];
}

/** The dead letter being retried, as its claim needs it. */
export type RetriedLetter = Pick<
  DeadLetterEntity,
  'id' | 'destinationId' | 'reason' | 'firstFailedAt'
>;

/** The event a retried dead letter carries. */
export interface RetriedEvent {
  eventId: string;
  resource: string;
  recordId: string;
}

/** What a retry claim found: claimed now, taken by another retry, or a duplicate in retry. */
export type RetryClaim = 'claimed' | 'taken' | 'duplicate';

/** An unroutable message's index row (see indexUnroutableAcrossCustomers). */
export interface UnroutableIndexRow {
  /** The customer the message names, unverified (a key or an event field), or 'unknown'. */
  namedCustomer: string;
  topic: string;
  partition: number;
  offset: string;
  eventId: string | null;
  resource: string | null;
  sourceId: string | null;
  reason: string;
  errorMessage: string;
  payload: Buffer | null;
  messageKey: string | null;
  headers: Record<string, string>;
}

/** A customer's open dead letters of one destination and reason. */
export interface DeadLetterGroupRow {
  destinationId: string;
  destination: string;
  reason: string;
  count: number;
  oldest: Date;
  /** The error of the newest one, as an example of the group. */
  example: string;
}

/** An open dead letter whose donor is now known, with that donor's stored version. */
export interface WaitingDonorRow {
  customer_id: string;
  source_id: string;
  model: Record<string, unknown>;
}

/**
 * The dead-letter index (dead_letters) as the admin API, the console and the re-drives use it,
 * with the ledger and retry-entry moves of a retry (delivery_counts, retry_entries) in the same
 * transaction. The delivery path's own index rows are written by DeliveryRepository.
 */
@Injectable()
export class DeadLetterRepository {
  constructor(private readonly db: DataSource) {}

  /** The customer's dead letters, oldest first. */
  async list(
    { customerId }: CustomerScope,
    query: DeadLetterQuery,
    limit: number,
  ): Promise<DeadLetterEntity[]> {
    return this.db.getRepository(DeadLetterEntity).find({
      where: this.where(customerId, query),
      order: { firstFailedAt: 'ASC' },
      take: limit,
    });
  }

  /** Dead letters of every customer, oldest first: the operator's list without a customer. */
  async listAcrossCustomers(query: DeadLetterQuery, limit: number): Promise<DeadLetterEntity[]> {
    return this.db.getRepository(DeadLetterEntity).find({
      where: this.where(undefined, query),
      order: { firstFailedAt: 'ASC' },
      take: limit,
    });
  }

  /** The customer's open dead letters grouped by destination and reason, largest group first. */
  async groups({ customerId }: CustomerScope): Promise<DeadLetterGroupRow[]> {
    const rows: Array<Record<string, string | Date>> = await this.db.query(
      `SELECT l.destination_id, d.name, l.reason, count(*) AS n, min(l.first_failed_at) AS oldest,
              (array_agg(l.error_message ORDER BY l.first_failed_at DESC))[1] AS example
         FROM dead_letters l JOIN destinations d ON d.id = l.destination_id
        WHERE l.customer_id = $1 AND l.status = 'open'
        GROUP BY l.destination_id, d.name, l.reason
        ORDER BY n DESC, d.name, l.reason`,
      [customerId],
    );
    return rows.map((r) => ({
      destinationId: String(r['destination_id']),
      destination: String(r['name']),
      reason: String(r['reason']),
      count: Number(r['n']),
      oldest: new Date(r['oldest'] as Date),
      example: String(r['example'] ?? ''),
    }));
  }

  /**
   * One dead letter by ID. Across customers: the operator names a dead letter by its ID alone,
   * and an unroutable message's dead letter may have no customer.
   */
  async findAcrossCustomers(id: string): Promise<DeadLetterEntity | null> {
    return this.db.getRepository(DeadLetterEntity).findOneBy({ id });
  }

  /** The customer's open dead letters matching the query (a bulk retry takes at most `limit`). */
  async open(
    { customerId }: CustomerScope,
    query: DeadLetterQuery,
    limit: number,
  ): Promise<DeadLetterEntity[]> {
    return this.db
      .getRepository(DeadLetterEntity)
      .find({ where: this.where(customerId, { ...query, status: 'open' }), take: limit });
  }

  /**
   * Claims a dead letter for a retry: open -> retried, a retry entry for its event, and the
   * ledger moved from dead-lettered to in retry, in one transaction, so an admin retry and the
   * automatic re-drive, in any number of replicas, retry it once.
   */
  async claimForRetry(
    { customerId }: CustomerScope,
    letter: RetriedLetter,
    event: RetriedEvent,
  ): Promise<RetryClaim> {
    return this.db.transaction(async (tx) => {
      const [, claimedRows] = await tx.query<[unknown[], number]>(
        `UPDATE dead_letters SET status = 'retried', resolved_at = now() WHERE id = $1 AND status = 'open' AND customer_id = $2`,
        [letter.id, customerId],
      );
      if (claimedRows === 0) {
        return 'taken' as const;
      }
      const entry: unknown[] = await tx.query(
        `INSERT INTO retry_entries (destination_id, customer_id, event_id, resource, source_id, attempt, due_at, last_error, first_failed_at)
         VALUES ($1, $2, $3, $4, $5, 0, now(), $6, $7) ON CONFLICT (destination_id, event_id) DO NOTHING
         RETURNING event_id`,
        [
          letter.destinationId,
          customerId,
          event.eventId,
          event.resource,
          event.recordId,
          letter.reason,
          letter.firstFailedAt,
        ],
      );
      await tx.query(
        `UPDATE delivery_counts SET n = n - 1 WHERE customer_id = $1 AND destination_id = $2 AND outcome = 'dead_lettered' AND n > 0`,
        [customerId, letter.destinationId],
      );
      if (entry.length === 0) {
        // Another copy of the same version (event IDs are per version) is in retry already,
        // e.g. the webhook and the poll copy of a gift both dead-lettered and both re-driven:
        // that one carries the delivery; this one leaves the ledger as a duplicate.
        await tx.query(
          `INSERT INTO delivery_counts AS d (customer_id, destination_id, outcome, n) VALUES ($1, $2, 'skipped', 1)
           ON CONFLICT (customer_id, destination_id, outcome) DO UPDATE SET n = d.n + 1`,
          [customerId, letter.destinationId],
        );
        return 'duplicate' as const;
      }
      return 'claimed' as const;
    });
  }

  /** Undoes a claim whose retry message could not be published: open again, ledger back. */
  async unclaimRetry(
    { customerId }: CustomerScope,
    letter: RetriedLetter,
    eventId: string,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `UPDATE dead_letters SET status = 'open', resolved_at = NULL WHERE id = $1 AND customer_id = $2`,
        [letter.id, customerId],
      );
      await tx.query(
        `DELETE FROM retry_entries WHERE destination_id = $1 AND event_id = $2 AND customer_id = $3`,
        [letter.destinationId, eventId, customerId],
      );
      await tx.query(
        `UPDATE delivery_counts SET n = n + 1 WHERE customer_id = $1 AND destination_id = $2 AND outcome = 'dead_lettered'`,
        [customerId, letter.destinationId],
      );
    });
  }

  /**
   * Discards one open dead letter by ID; answers how many (0 or 1). Across customers: the
   * operator names it by ID alone (an unroutable message's dead letter may have no customer).
   */
  async discardByIdAcrossCustomers(id: string): Promise<number> {
    const result = await this.db
      .getRepository(DeadLetterEntity)
      .update({ id, status: 'open' as const }, { status: 'discarded', resolvedAt: new Date() });
    return result.affected ?? 0;
  }

  /** Discards the customer's open dead letters matching the query; answers how many. */
  async discardOpen({ customerId }: CustomerScope, query: DeadLetterQuery): Promise<number> {
    const result = await this.db
      .getRepository(DeadLetterEntity)
      .update(this.where(customerId, { ...query, status: 'open' }), {
        status: 'discarded',
        resolvedAt: new Date(),
      });
    return result.affected ?? 0;
  }

  /**
   * Indexes a message no destination can take. Across customers: the customer it names comes
   * from the message (its key or its event), unverified; the row gets that customer only if it
   * exists (else none), so a hostile or malformed ID is stored as no customer, never an error.
   */
  async indexUnroutableAcrossCustomers(row: UnroutableIndexRow): Promise<void> {
    await this.db.query(
      `INSERT INTO dead_letters (customer_id, topic, partition, "offset", event_id, resource, source_id, reason,
                                 error_message, attempts, first_failed_at, status, payload, message_key, headers)
       VALUES ((SELECT id FROM customers WHERE id::text = $1), $2, $3, $4, $5, $6, $7, $8, $9, 1, now(), 'open',
               $10, $11, $12)
       ON CONFLICT (topic, partition, "offset") DO NOTHING`,
      [
        row.namedCustomer,
        row.topic,
        row.partition,
        row.offset,
        row.eventId,
        row.resource,
        row.sourceId,
        row.reason,
        row.errorMessage,
        row.payload,
        row.messageKey,
        JSON.stringify(row.headers),
      ],
    );
  }

  /**
   * Open dead letters waiting for a donor that is now stored (at most `limit`), with the donor's
   * stored version. Across customers: the re-drive sweep catches what every customer's
   * partitions left open.
   */
  async waitingForKnownDonorsAcrossCustomers(limit: number): Promise<WaitingDonorRow[]> {
    return this.db.query(
      `SELECT DISTINCT d.customer_id, r.source_id, r.model
           FROM dead_letters d
           JOIN related_records r
             ON r.customer_id = d.customer_id AND r.resource = 'donor'
            AND d.waiting_for = 'donor:' || r.source_id
          WHERE d.status = 'open' AND d.waiting_for IS NOT NULL
          LIMIT $1`,
      [limit],
    );
  }

  private where(
    customerId: string | undefined,
    query: DeadLetterQuery,
  ): FindOptionsWhere<DeadLetterEntity> {
    return {
      ...(customerId ? { customerId } : {}),
      ...(query.destinationId ? { destinationId: query.destinationId } : {}),
      ...(query.reason ? { reason: query.reason } : {}),
      ...(query.status ? { status: query.status } : {}),
      ...(query.waitingFor ? { waitingFor: In(query.waitingFor) } : {}),
    };
  }
}

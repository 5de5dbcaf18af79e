import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { EventCodec } from '@raise-sync/shared/events';
import { RETRY_DELAYS, retryHeaders, type Topics } from '@raise-sync/shared/kafka';
import { EventProducer, PinoLogger, TOPICS } from '@raise-sync/shared/service';
import { DeadLetterEntity } from '@raise-sync/shared/state';
import { DataSource, In, type FindOptionsWhere } from 'typeorm';

export interface DeadLetterFilter {
  customerId?: string;
  destinationId?: string;
  reason?: string;
  status?: 'open' | 'retried' | 'discarded';
  limit?: number;
  /** Only dead letters waiting for one of these related records (`<resource>:<id>`). */
  waitingFor?: string[];
}

export interface DeadLetterView {
  id: string;
  customerId: string | null;
  destinationId: string | null;
  eventId: string | null;
  resource: string | null;
  sourceId: string | null;
  reason: string;
  errorMessage: string;
  attempts: number;
  firstFailedAt: Date;
  status: string;
  resolvedAt: Date | null;
  position: { topic: string; partition: number; offset: string };
  headers?: Record<string, string>;
  event?: unknown;
}

/**
 * Dead letters: list and inspect them (decoded payload and headers), retry them (one, filtered,
 * or all of a customer/destination: the payload goes back through the first retry topic with a
 * fresh attempt budget, due now) or discard them. Retrying moves the ledger entry from
 * "dead-lettered" back to "in retry", so the balance still holds.
 */
@Injectable()
export class DeadLetterService {
  constructor(
    private readonly db: DataSource,
    private readonly producer: EventProducer,
    private readonly codec: EventCodec,
    @Inject(TOPICS) private readonly topics: Topics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('dead-letters');
  }

  async list(filter: DeadLetterFilter): Promise<DeadLetterView[]> {
    const rows = await this.db.getRepository(DeadLetterEntity).find({
      where: this.where(filter),
      order: { firstFailedAt: 'ASC' },
      take: Math.min(filter.limit ?? 100, 1000),
    });
    return rows.map((r) => this.view(r));
  }

  async inspect(id: string): Promise<DeadLetterView> {
    const row = await this.find(id);
    const decoded = row.payload ? await this.codec.decode(row.payload) : null;
    return {
      ...this.view(row),
      headers: row.headers,
      event: decoded?.ok ? decoded.event : { undecodable: decoded?.error.message ?? 'no payload' },
    };
  }

  async retry(filter: DeadLetterFilter & { id?: string }): Promise<{ retried: number }> {
    const rows = filter.id
      ? [await this.find(filter.id)]
      : await this.db
          .getRepository(DeadLetterEntity)
          .find({ where: this.where({ ...filter, status: 'open' }), take: 10_000 });
    let retried = 0;
    for (const row of rows.filter((r) => r.status === 'open' && r.payload && r.destinationId)) {
      const decoded = await this.codec.decode(row.payload);
      if (!decoded.ok) {
        continue;
      }
      const event = decoded.event;
      const now = new Date();
      // The ledger moves first (dead-lettered -> in retry), then the message goes out: the retry
      // consumer may deliver it at once and must find its retry entry to account for it. The
      // entry is claimed (open -> retried) in the same transaction, so an admin retry and the
      // automatic re-drive, in any number of replicas, retry it once.
      const claimed = await this.db.transaction(async (tx) => {
        const [, claimedRows] = await tx.query<[unknown[], number]>(
          `UPDATE dead_letters SET status = 'retried', resolved_at = now() WHERE id = $1 AND status = 'open'`,
          [row.id],
        );
        if (claimedRows === 0) {
          return 'taken' as const;
        }
        const entry: unknown[] = await tx.query(
          `INSERT INTO retry_entries (destination_id, customer_id, event_id, resource, source_id, attempt, due_at, last_error, first_failed_at)
           VALUES ($1, $2, $3, $4, $5, 0, now(), $6, $7) ON CONFLICT (destination_id, event_id) DO NOTHING
           RETURNING event_id`,
          [
            row.destinationId,
            row.customerId,
            event.eventId,
            event.resource,
            event.recordId,
            row.reason,
            row.firstFailedAt,
          ],
        );
        await tx.query(
          `UPDATE delivery_counts SET n = n - 1 WHERE customer_id = $1 AND destination_id = $2 AND outcome = 'dead_lettered' AND n > 0`,
          [row.customerId, row.destinationId],
        );
        if (entry.length === 0) {
          // Another copy of the same version (event IDs are per version) is in retry already,
          // e.g. the webhook and the poll copy of a gift both dead-lettered and both re-driven:
          // that one carries the delivery; this one leaves the ledger as a duplicate.
          await tx.query(
            `INSERT INTO delivery_counts AS d (customer_id, destination_id, outcome, n) VALUES ($1, $2, 'skipped', 1)
             ON CONFLICT (customer_id, destination_id, outcome) DO UPDATE SET n = d.n + 1`,
            [row.customerId, row.destinationId],
          );
          return 'duplicate' as const;
        }
        return 'claimed' as const;
      });
      if (claimed === 'taken') {
        continue;
      }
      if (claimed === 'duplicate') {
        retried += 1;
        continue;
      }
      try {
        await this.producer.publishRaw(this.topics.submitRetry(RETRY_DELAYS[0]), [
          {
            key: row.messageKey,
            value: row.payload,
            headers: {
              ...Object.fromEntries(
                Object.entries(row.headers).filter(
                  ([k]) => !k.startsWith('x-error-') && !k.startsWith('x-retry-'),
                ),
              ),
              ...retryHeaders({
                destinationId: row.destinationId as string,
                attempt: 0,
                dueAt: now,
                firstFailedAt: row.firstFailedAt,
                lastError: `retried from dead letters: ${row.reason}`,
                originalTopic: row.headers['x-original-topic'] ?? row.topic,
                originalPartition: Number(row.headers['x-original-partition'] ?? row.partition),
                originalOffset: row.headers['x-original-offset'] ?? String(row.offset),
              }),
            },
          },
        ]);
      } catch (error) {
        await this.db.transaction(async (tx) => {
          await tx.query(
            `UPDATE dead_letters SET status = 'open', resolved_at = NULL WHERE id = $1`,
            [row.id],
          );
          await tx.query(`DELETE FROM retry_entries WHERE destination_id = $1 AND event_id = $2`, [
            row.destinationId,
            event.eventId,
          ]);
          await tx.query(
            `UPDATE delivery_counts SET n = n + 1 WHERE customer_id = $1 AND destination_id = $2 AND outcome = 'dead_lettered'`,
            [row.customerId, row.destinationId],
          );
        });
        throw error;
      }
      retried += 1;
      this.log.info(
        { customerId: row.customerId, deadLetterId: row.id, eventId: event.eventId },
        'dead letter retried',
      );
    }
    return { retried };
  }

  /** Discards open dead letters; one by ID is a 404 when it does not exist. */
  async discard(filter: DeadLetterFilter & { id?: string }): Promise<{ discarded: number }> {
    if (filter.id) {
      await this.find(filter.id);
    }
    const where = filter.id
      ? { id: filter.id, status: 'open' as const }
      : this.where({ ...filter, status: 'open' });
    const result = await this.db
      .getRepository(DeadLetterEntity)
      .update(where, { status: 'discarded', resolvedAt: new Date() });
    return { discarded: result.affected ?? 0 };
  }

  private async find(id: string): Promise<DeadLetterEntity> {
    const row = /^[0-9a-f-]{36}$/i.test(id)
      ? await this.db.getRepository(DeadLetterEntity).findOneBy({ id })
      : null;
    if (!row) {
      throw new NotFoundException(`dead letter ${id} does not exist`);
    }
    return row;
  }

  private where(filter: DeadLetterFilter): FindOptionsWhere<DeadLetterEntity> {
    return {
      ...(filter.customerId ? { customerId: filter.customerId } : {}),
      ...(filter.destinationId ? { destinationId: filter.destinationId } : {}),
      ...(filter.reason ? { reason: filter.reason } : {}),
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.waitingFor ? { waitingFor: In(filter.waitingFor) } : {}),
    };
  }

  private view(r: DeadLetterEntity): DeadLetterView {
    return {
      id: r.id,
      customerId: r.customerId,
      destinationId: r.destinationId,
      eventId: r.eventId,
      resource: r.resource,
      sourceId: r.sourceId,
      reason: r.reason,
      errorMessage: r.errorMessage,
      attempts: r.attempts,
      firstFailedAt: r.firstFailedAt,
      status: r.status,
      resolvedAt: r.resolvedAt,
      position: { topic: r.topic, partition: r.partition, offset: String(r.offset) },
    };
  }
}

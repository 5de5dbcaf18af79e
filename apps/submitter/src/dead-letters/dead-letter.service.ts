import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { EventCodec } from '@raise-sync/shared/kafka';
import { RETRY_DELAYS, type Topics } from '@raise-sync/shared/kafka';
import { TOPICS } from '@raise-sync/shared/service';
import { EventProducer } from '@raise-sync/shared/kafka';
import { PinoLogger } from 'nestjs-pino';
import { customerScope, type DeadLetterEntity } from '@raise-sync/shared/state';
import {
  DeadLetterRepository,
  type DeadLetterGroupRow,
  type DeadLetterQuery,
} from './dead-letter.repository';
import { resendMessage } from './resend-message';

export interface DeadLetterFilter extends DeadLetterQuery {
  customerId?: string;
  limit?: number;
}

/** What a retry or discard takes: one dead letter by ID, or a customer's open ones matching. */
export type DeadLetterTarget = { id: string } | (DeadLetterQuery & { customerId: string });

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
    private readonly repository: DeadLetterRepository,
    private readonly producer: EventProducer,
    private readonly codec: EventCodec,
    @Inject(TOPICS) private readonly topics: Topics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('dead-letters');
  }

  async list(filter: DeadLetterFilter): Promise<DeadLetterView[]> {
    const limit = Math.min(filter.limit ?? 100, 1000);
    const rows = filter.customerId
      ? await this.repository.list(customerScope(filter.customerId), filter, limit)
      : await this.repository.listAcrossCustomers(filter, limit);
    return rows.map((r) => this.view(r));
  }

  /** A customer's open dead letters by destination and reason (retry or discard one group). */
  groups(customerId: string): Promise<DeadLetterGroupRow[]> {
    return this.repository.groups(customerScope(customerId));
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

  async retry(target: DeadLetterTarget): Promise<{ retried: number }> {
    const rows =
      'id' in target
        ? [await this.find(target.id)]
        : await this.repository.open(customerScope(target.customerId), target, 10_000);
    let retried = 0;
    // (A dead letter with a destination is always a customer's: the delivery path wrote it.)
    for (const row of rows.filter(
      (r) => r.status === 'open' && r.payload && r.destinationId && r.customerId,
    )) {
      const decoded = await this.codec.decode(row.payload);
      if (!decoded.ok) {
        continue;
      }
      const event = decoded.event;
      // The ledger moves first (dead-lettered -> in retry), then the message goes out: the retry
      // consumer may deliver it at once and must find its retry entry to account for it. The
      // entry is claimed (open -> retried) in the same transaction, so an admin retry and the
      // automatic re-drive, in any number of replicas, retry it once.
      const scope = customerScope(row.customerId as string);
      const claimed = await this.repository.claimForRetry(scope, row, event);
      if (claimed === 'taken') {
        continue;
      }
      if (claimed === 'duplicate') {
        retried += 1;
        continue;
      }
      try {
        await this.producer.publishRaw(this.topics.submitRetry(RETRY_DELAYS[0]), [
          resendMessage({
            destinationId: row.destinationId as string,
            messageKey: row.messageKey,
            payload: row.payload as Buffer,
            headers: row.headers,
            firstFailedAt: row.firstFailedAt,
            fallbackPosition: {
              topic: row.topic,
              partition: row.partition,
              offset: String(row.offset),
            },
            lastError: `retried from dead letters: ${row.reason}`,
          }),
        ]);
      } catch (error) {
        await this.repository.unclaimRetry(scope, row, event.eventId);
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
  async discard(target: DeadLetterTarget): Promise<{ discarded: number }> {
    if ('id' in target) {
      await this.find(target.id);
      return { discarded: await this.repository.discardByIdAcrossCustomers(target.id) };
    }
    return {
      discarded: await this.repository.discardOpen(customerScope(target.customerId), target),
    };
  }

  private async find(id: string): Promise<DeadLetterEntity> {
    const row = /^[0-9a-f-]{36}$/i.test(id) ? await this.repository.findAcrossCustomers(id) : null;
    if (!row) {
      throw new NotFoundException(`dead letter ${id} does not exist`);
    }
    return row;
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

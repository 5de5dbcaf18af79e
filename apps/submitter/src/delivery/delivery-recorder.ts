import { Inject, Injectable } from '@nestjs/common';
import type { DestinationContext } from '@raise-sync/destinations';
import {
  RETRY_DELAYS,
  deadLetterHeaders,
  retryHeaders,
  type OutgoingMessage,
  type Topics,
} from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS, TOPICS } from '@raise-sync/shared/service';
import { EventProducer } from '@raise-sync/shared/kafka';
import { PinoLogger } from 'nestjs-pino';
import { customerScope, type CustomerScope } from '@raise-sync/shared/state';
import {
  DeliveryRepository,
  type DeadLetterCopy,
  type PreviousStates,
} from './delivery.repository';
import { originOf, passThroughHeaders } from './message-origin';
import type { DeadLetteredOutcome, Outcome } from './outcome';

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
    private readonly repository: DeliveryRepository,
    private readonly producer: EventProducer,
    @Inject(TOPICS) private readonly topics: Topics,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('delivery');
  }

  /** Publishes the failures, records every outcome, then counts them. */
  async settle(
    ctx: DestinationContext,
    outcomes: Outcome[],
    previous: PreviousStates,
  ): Promise<void> {
    const deadLetters = await this.publishFailures(ctx, outcomes);
    await this.repository.record(customerScope(ctx.customerId), {
      destinationId: ctx.destinationId,
      outcomes,
      deadLetters,
      previous,
      deadLetterTopic: this.topics.deadLetters,
    });
    this.count(ctx, outcomes);
  }

  /** Takes a retry entry out without delivering it (see DeliveryRepository.dropRetry). */
  async dropRetry(
    scope: CustomerScope,
    destinationId: string,
    eventId: string,
    outcome: 'skipped' | 'dead_lettered' = 'skipped',
  ): Promise<void> {
    await this.repository.dropRetry(scope, destinationId, eventId, outcome);
  }

  /**
   * Retry and dead-letter messages, acknowledged by Kafka before anything is recorded as done.
   * Returns where each dead letter landed.
   */
  private async publishFailures(
    ctx: DestinationContext,
    outcomes: Outcome[],
  ): Promise<Map<DeadLetteredOutcome, DeadLetterCopy>> {
    const byTopic = new Map<string, OutgoingMessage[]>();
    const add = (topic: string, message: OutgoingMessage): void => {
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
    const deadMessages: Array<[DeadLetteredOutcome, OutgoingMessage]> = [];
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
    // Counters once per (outcome, reason) of the batch, not once per event.
    const tally = new Map<string, number>();
    const add = (outcome: string, reason: string): void => {
      const key = `${outcome}\u0000${reason}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
    };
    for (const o of outcomes) {
      if (!o.item.fromRetry) {
        add('received', '');
      }
      add(o.status === 'retry' ? 'retry_scheduled' : o.status, o.reason);
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
    for (const [key, n] of tally) {
      const [outcome, reason] = key.split('\u0000') as [string, string];
      this.metrics.deliveries.inc(
        { customer_id: ctx.customerId, destination: ctx.name, outcome, reason },
        n,
      );
    }
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { deadLetterHeaders, type WriteReceipt, type Topics } from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS, TOPICS } from '@raise-sync/shared/service';
import { EventProducer, EventTooLargeError, type ConsumedMessage } from '@raise-sync/shared/kafka';
import { PinoLogger } from 'nestjs-pino';
import { DeadLetterRepository } from './dead-letter.repository';

/** Why a consumed message could not be delivered anywhere. */
export interface Unroutable {
  /** Stable, short: a metric label and the `x-error-reason` header. */
  reason: string;
  detail: string;
  /** The customer the message names (key or event), if any; indexed only if it exists. */
  customerId: string | null;
  /** What the event says about itself, when it could be decoded. */
  event?: { eventId: string; resource: string; recordId: string };
}

/**
 * Dead letters for messages no destination can take: undecodable messages on any topic, and
 * retry messages naming a destination of another customer. Each goes to the dead-letter topic
 * (acks=all) and the dead-letter index, is counted and logged; never only a log line. A message
 * too big for the dead-letter topic with its headers goes without its value, marked, so the
 * partition never stalls on it (the headers say where the original still is).
 */
@Injectable()
export class UnroutableMessages {
  constructor(
    private readonly repository: DeadLetterRepository,
    private readonly producer: EventProducer,
    @Inject(TOPICS) private readonly topics: Topics,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext(UnroutableMessages.name);
  }

  async deadLetter(message: ConsumedMessage, why: Unroutable): Promise<void> {
    const label = why.customerId ?? 'unknown';
    const headers = {
      ...message.headers,
      ...deadLetterHeaders({
        reason: why.reason,
        message: why.detail,
        attempts: 1,
        originalTopic: message.topic,
        originalPartition: message.partition,
        originalOffset: message.offset,
        firstFailedAt: new Date(),
        customerId: label,
      }),
    };
    const [written] = await this.publish(message.key, message.value, headers);
    await this.repository.indexUnroutableAcrossCustomers({
      namedCustomer: label,
      topic: this.topics.deadLetters,
      partition: written?.partition ?? 0,
      offset: written?.baseOffset ?? '0',
      eventId: why.event?.eventId ?? null,
      resource: why.event?.resource ?? null,
      sourceId: why.event?.recordId ?? null,
      reason: why.reason,
      errorMessage: why.detail.slice(0, 2000),
      payload: message.value,
      messageKey: message.key?.toString() ?? null,
      headers,
    });
    this.metrics.deadLetters.inc({ customer_id: label, reason: why.reason });
    this.log.warn(
      {
        customerId: label,
        reason: why.reason,
        error: why.detail,
        topic: message.topic,
        partition: message.partition,
        offset: message.offset,
      },
      'dead-lettered a message no destination can take',
    );
  }

  private async publish(
    key: Buffer | null,
    value: Buffer | null,
    headers: Record<string, string>,
  ): Promise<WriteReceipt[]> {
    try {
      return await this.producer.publishRaw(this.topics.deadLetters, [{ key, value, headers }]);
    } catch (error) {
      if (!(error instanceof EventTooLargeError)) {
        throw error;
      }
      return this.producer.publishRaw(this.topics.deadLetters, [
        { key, value: null, headers: { ...headers, 'x-value-omitted': 'too_large' } },
      ]);
    }
  }
}

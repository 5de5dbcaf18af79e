import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { RETRY_DELAYS, readRetryHeaders, type Topics } from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import {
  ConsumerLoopFactory,
  EventCodec,
  PinoLogger,
  PIPELINE_METRICS,
  ReadinessService,
  TOPICS,
  type BatchConsumer,
  type BatchControl,
  type PartitionBatch,
} from '@raise-sync/shared/service';
import { DeliveryEngine, type WorkItem } from '../delivery/delivery-engine.service';
import { DestinationDirectory } from '../delivery/destination-directory.service';
import { RecordCompletion } from '../delivery/record-completion.service';

/**
 * Consumes the three retry topics (non-blocking retries). Messages of a retry topic all wait the
 * same delay, so each partition is in due order: the consumer waits for the head message's due
 * time (heartbeating, and giving up at once on shutdown or rebalance), then delivers it to the
 * one destination it failed at. A failure again moves it to the next topic, or to the dead-letter
 * topic once SUBMITTER_MAX_ATTEMPTS is reached. Waiting here blocks nothing else: source topics
 * have their own consumer, and each retry partition waits on its own.
 */
@Injectable()
export class RetryConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private consumers: BatchConsumer[] = [];

  constructor(
    private readonly loops: ConsumerLoopFactory,
    private readonly codec: EventCodec,
    private readonly engine: DeliveryEngine,
    private readonly directory: DestinationDirectory,
    @Inject(TOPICS) private readonly topics: Topics,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly readiness: ReadinessService,
    private readonly log: PinoLogger,
    private readonly completion: RecordCompletion,
  ) {
    this.log.setContext(RetryConsumer.name);
  }

  groupId(delay: string): string {
    return `${this.topics.prefix}.submitter.retry.${delay}`;
  }

  /** One consumer per retry topic, so a message waiting an hour never holds up 30-second ones. */
  async onApplicationBootstrap(): Promise<void> {
    for (const delay of RETRY_DELAYS) {
      const consumer = this.loops.createBatch(
        {
          groupId: this.groupId(delay),
          topics: [this.topics.submitRetry(delay)],
          // every partition of the topic may be waiting for its head message at the same time
          partitionsConsumedConcurrently: 32,
          onError: (error) => this.log.error({ err: error, delay }, 'retry batch left unresolved'),
        },
        (batch, control) => this.handleBatch(batch, control),
      );
      this.consumers.push(consumer);
      await consumer.start();
      this.metrics.consumerRunning.set({ group: this.groupId(delay) }, 1);
    }
    this.readiness.register('retry-consumers', () =>
      this.consumers.every((c) => c.isHealthy())
        ? Promise.resolve()
        : Promise.reject(new Error('a retry consumer is not running')),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.stop()));
    for (const delay of RETRY_DELAYS) {
      this.metrics.consumerRunning.set({ group: this.groupId(delay) }, 0);
    }
  }

  private async handleBatch(batch: PartitionBatch, control: BatchControl): Promise<void> {
    for (const message of batch.messages) {
      const info = readRetryHeaders(message.headers);
      if (!info) {
        this.log.error(
          { topic: message.topic, partition: message.partition, offset: message.offset },
          'retry message without retry headers; skipped',
        );
        control.resolveOffset(message.offset);
        continue;
      }
      while (info.dueAt.getTime() > Date.now()) {
        if (!control.shouldContinue()) {
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(1000, info.dueAt.getTime() - Date.now())));
        await control.heartbeat();
      }
      if (!control.shouldContinue()) {
        return;
      }
      const decoded = await this.codec.decode(message.value);
      if (!decoded.ok) {
        if (decoded.error.retriable) {
          throw decoded.error;
        }
        this.log.error(
          { offset: message.offset, err: decoded.error.message },
          'undecodable retry message; skipped',
        );
        control.resolveOffset(message.offset);
        continue;
      }
      const destination = await this.directory.byId(info.destinationId);
      if (destination && destination.enabled) {
        const item: WorkItem = {
          event: decoded.event,
          message,
          attemptsMade: info.attempt,
          firstFailedAt: info.firstFailedAt,
          fromRetry: true,
        };
        // A retried or re-driven webhook gift is completed again, with the donor as known now.
        await this.completion.complete(destination.customerId, [item]);
        await this.engine.deliver(destination, [item]);
      } else {
        await this.engine.dropRetry(info.destinationId, decoded.event.eventId);
        this.log.warn(
          { customerId: decoded.event.customerId, destinationId: info.destinationId },
          'retry for a removed or disabled destination dropped',
        );
      }
      control.resolveOffset(message.offset);
      await control.heartbeat();
    }
  }
}

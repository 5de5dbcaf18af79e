import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '@raise-sync/shared/config';
import { customerIdFromKey, deadLetterHeaders, type Topics } from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import {
  ConsumerLoopFactory,
  EventCodec,
  EventProducer,
  PinoLogger,
  PIPELINE_METRICS,
  ReadinessService,
  TOPICS,
  type ConsumedMessage,
  type ConsumerLoop,
} from '@raise-sync/shared/service';

/**
 * Consumes every source topic. Today it decodes each event and dead-letters what cannot be
 * decoded; delivery to destination adapters arrives with the submitter issue. A message's offset
 * is committed only after it was handled (decoded and counted, or written to the dead-letter
 * topic), so a crash or a SIGTERM loses nothing.
 */
@Injectable()
export class SourceEventsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private loop?: ConsumerLoop;

  constructor(
    private readonly loops: ConsumerLoopFactory,
    private readonly codec: EventCodec,
    private readonly producer: EventProducer,
    @Inject(TOPICS) private readonly topics: Topics,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly readiness: ReadinessService,
    private readonly config: ConfigService<AppConfig, true>,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext(SourceEventsConsumer.name);
  }

  get groupId(): string {
    return `${this.topics.prefix}.submitter`;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.loop = this.loops.create(
      {
        groupId: this.groupId,
        topics: this.topics.allSourceEvents(),
        partitionsConsumedConcurrently: this.config.get('submitter', { infer: true })
          .partitionsConcurrency,
        onError: (error, message) => {
          this.metrics.handlerErrors.inc({
            reason: (error as { reason?: string }).reason ?? 'unexpected',
          });
          this.log.error(
            {
              err: error,
              customerId: customerIdFromKey(message?.key),
              topic: message?.topic,
              partition: message?.partition,
              offset: message?.offset,
            },
            'message left uncommitted for redelivery',
          );
        },
      },
      (message) => this.handle(message),
    );
    const loop = this.loop;
    this.readiness.register('source-events-consumer', () =>
      loop.isHealthy() ? Promise.resolve() : Promise.reject(new Error('consumer is not running')),
    );
    await loop.start();
    this.metrics.consumerRunning.set({ group: this.groupId }, 1);
    this.log.info(
      { topics: this.topics.allSourceEvents().length, groupId: this.groupId },
      'consuming source topics',
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop?.stop();
    this.metrics.consumerRunning.set({ group: this.groupId }, 0);
    this.log.info('stopped consuming; handled offsets committed');
  }

  private async handle(message: ConsumedMessage): Promise<void> {
    const customerId = customerIdFromKey(message.key) ?? 'unknown';
    const decoded = await this.codec.decode(message.value);
    if (decoded.ok) {
      const { event } = decoded;
      this.metrics.eventsConsumed.inc({
        customer_id: event.customerId,
        source: event.source,
        resource: event.resource,
        outcome: 'decoded',
      });
      this.log.debug(
        {
          customerId: event.customerId,
          eventId: event.eventId,
          resource: event.resource,
          topic: message.topic,
          offset: message.offset,
        },
        'received source event',
      );
      return;
    }
    if (decoded.error.retriable) {
      throw decoded.error; // e.g. registry down: leave uncommitted, try again
    }
    await this.producer.publishRaw(this.topics.deadLetters, [
      {
        key: message.key,
        value: message.value,
        headers: {
          ...message.headers,
          ...deadLetterHeaders({
            reason: decoded.error.reason,
            message: decoded.error.message,
            attempts: 1,
            originalTopic: message.topic,
            originalPartition: message.partition,
            originalOffset: message.offset,
            firstFailedAt: new Date(),
            customerId,
          }),
        },
      },
    ]);
    this.metrics.eventsConsumed.inc({
      customer_id: customerId,
      source: 'unknown',
      resource: 'unknown',
      outcome: 'undecodable',
    });
    this.metrics.deadLetters.inc({ customer_id: customerId, reason: decoded.error.reason });
    this.log.warn(
      {
        customerId,
        reason: decoded.error.reason,
        error: decoded.error.message,
        topic: message.topic,
        partition: message.partition,
        offset: message.offset,
      },
      'dead-lettered undecodable message',
    );
  }
}

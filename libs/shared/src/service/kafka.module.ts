import {
  Global,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { PinoLogger } from 'nestjs-pino';
import type { SharedConfig } from '../config/shared.config';
import { EventCodec } from '../kafka/codec';
import { allSourceResources } from '../events/source-event';
import { pipelineTopicSpecs } from '../kafka/admin';
import {
  BatchConsumer,
  type BatchConsumerOptions,
  type BatchHandler,
} from '../kafka/batch-consumer';
import { KafkaConnection } from '../kafka/connection';
import { EventProducer } from '../kafka/producer';
import { topicsFor, type Topics } from '../kafka/topics';
import { ReadinessService, within } from './readiness.service';
import type { PipelineMetrics } from '../observability/metrics';
import {
  kafkaCheck,
  logWaiting,
  registryCheck,
  waitForDependency,
  type WaitingInfo,
} from './startup-dependencies';
import { PIPELINE_METRICS, SERVICE_NAME, TOPICS } from './tokens';

/**
 * Connects this service to Kafka and the schema registry at startup (each tried for
 * STARTUP_DEPENDENCY_TIMEOUT_MS, then a DependencyUnreachableError): creates the pipeline's
 * topics (explicit partitions), registers the event schemas, connects the idempotent producer,
 * and registers readiness checks. Disconnects last on shutdown, after consumers have stopped.
 */
@Injectable()
export class KafkaLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly kafka: KafkaConnection,
    @Inject(TOPICS) private readonly topics: Topics,
    private readonly codec: EventCodec,
    private readonly producer: EventProducer,
    private readonly config: ConfigService<SharedConfig, true>,
    private readonly readiness: ReadinessService,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('kafka');
  }

  async onModuleInit(): Promise<void> {
    const kafka = this.config.get('kafka', { infer: true });
    const registry = this.config.get('registry', { infer: true });
    // Fail fast, naming the variable, instead of the client's retries (45 s and stack traces).
    const startup = {
      timeoutMs: this.config.get('startupDependencyTimeoutMs', { infer: true }),
      onWaiting: (info: WaitingInfo) => logWaiting(this.log, info),
    };
    await waitForDependency(kafkaCheck(kafka.brokers, 'raise-sync-startup-check'), startup);
    await waitForDependency(registryCheck(registry.url), startup);
    const result = await this.kafka.ensureTopics(
      pipelineTopicSpecs(this.topics, {
        sourcePartitions: kafka.sourcePartitions,
        replicationFactor: kafka.replicationFactor,
        minInsyncReplicas: Math.max(1, kafka.replicationFactor - 1),
      }),
    );
    if (result.created.length > 0) {
      this.log.info({ topics: result.created }, 'created topics');
    }
    if (result.underPartitioned.length > 0) {
      this.log.warn(
        { topics: result.underPartitioned },
        'topics have fewer partitions than configured',
      );
    }
    // Each step says when it is done, so a start that hangs on a slow registry or broker names it.
    let since = Date.now();
    for (const { source, resource } of allSourceResources()) {
      await this.codec.registerEventSchema(this.topics.sourceEvents(source, resource), resource);
      await this.codec.registerEventSchema(this.topics.bulkEvents(source, resource), resource);
    }
    this.log.info({ ms: Date.now() - since }, 'registered event schemas');
    since = Date.now();
    await this.producer.connect();
    this.log.info({ ms: Date.now() - since }, 'producer connected');
    this.readiness.register('kafka', async () => {
      await within(3000, 'Kafka', this.kafka.ping());
      if (!this.producer.isConnected()) {
        throw new Error('producer is not connected');
      }
    });
    // A producer whose sends keep failing takes the service out of rotation until a send
    // succeeds again (it is recreated meanwhile; see EventProducer).
    this.readiness.register('kafka-producer', () => {
      const health = this.producer.health();
      return health.healthy
        ? Promise.resolve()
        : Promise.reject(
            new Error(
              `producer failed ${health.consecutiveFailures} sends in a row: ${health.lastError ?? 'unknown'}`,
            ),
          );
    });
    this.readiness.register('schema-registry', async () => {
      const response = await within(3000, 'schema registry', fetch(`${registry.url}/subjects`));
      if (!response.ok) {
        throw new Error(`schema registry answered ${response.status}`);
      }
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producer.disconnect();
    await this.kafka.close();
    this.log.info('disconnected from Kafka');
  }
}

/** Builds consumer-group loops on this service's Kafka connection. */
@Injectable()
export class ConsumerLoopFactory {
  constructor(private readonly kafka: KafkaConnection) {}

  createBatch(options: BatchConsumerOptions, handler: BatchHandler): BatchConsumer {
    return new BatchConsumer(this.kafka, options, handler);
  }
}

@Global()
@Module({
  providers: [
    {
      provide: KafkaConnection,
      inject: [ConfigService, SERVICE_NAME, PinoLogger],
      useFactory: (config: ConfigService<SharedConfig, true>, service: string, log: PinoLogger) =>
        KafkaConnection.create({
          brokers: config.get('kafka', { infer: true }).brokers,
          clientId: `raise-sync-${service}`,
          logger: log.logger,
        }),
    },
    {
      provide: TOPICS,
      inject: [ConfigService],
      useFactory: (config: ConfigService<SharedConfig, true>) =>
        topicsFor(config.get('kafka', { infer: true }).topicPrefix),
    },
    {
      provide: EventCodec,
      inject: [ConfigService],
      useFactory: (config: ConfigService<SharedConfig, true>) =>
        new EventCodec(config.get('registry', { infer: true }).url),
    },
    {
      provide: EventProducer,
      inject: [KafkaConnection, EventCodec, ConfigService, PIPELINE_METRICS, PinoLogger],
      useFactory: (
        kafka: KafkaConnection,
        codec: EventCodec,
        config: ConfigService<SharedConfig, true>,
        metrics: PipelineMetrics,
        log: PinoLogger,
      ) => {
        metrics.producerHealthy.set(1);
        return new EventProducer(kafka, codec, {
          maxMessageBytes: config.get('kafka', { infer: true }).maxMessageBytes,
          onHealth: ({ healthy, recreated, error }) => {
            metrics.producerHealthy.set(healthy ? 1 : 0);
            if (recreated) {
              metrics.producerRecreated.inc();
              log.logger.warn({ component: 'kafka' }, 'replaced the failing Kafka producer');
            } else if (healthy) {
              log.logger.info({ component: 'kafka' }, 'Kafka producer writes again');
            } else {
              log.logger.error(
                { component: 'kafka', err: error instanceof Error ? error.message : String(error) },
                'Kafka producer keeps failing: not ready, recreating it',
              );
            }
          },
        });
      },
    },
    KafkaLifecycle,
    ConsumerLoopFactory,
  ],
  exports: [KafkaConnection, TOPICS, EventCodec, EventProducer, ConsumerLoopFactory],
})
export class KafkaPlumbingModule {}

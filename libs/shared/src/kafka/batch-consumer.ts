import type { Consumer, Kafka } from 'kafkajs';
import { connectAndSubscribe, toConsumedMessage, type ConsumedMessage } from './consumer-loop';

/** What a batch handler may do while it works through one partition's batch. */
export interface BatchControl {
  /** Marks `offset` (and everything before it in this partition) as done; committed periodically. */
  resolveOffset(offset: string): void;
  /** Keeps the group membership alive during long work; call at least every few seconds. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping or the partition was reassigned: stop and return. */
  shouldContinue(): boolean;
}

export interface PartitionBatch {
  topic: string;
  partition: number;
  messages: ConsumedMessage[];
}

export type BatchHandler = (batch: PartitionBatch, control: BatchControl) => Promise<void>;

export interface BatchConsumerOptions {
  groupId: string;
  topics: string[];
  fromBeginning?: boolean;
  /** Partitions worked at the same time (each partition's batches stay in order). */
  partitionsConsumedConcurrently?: number;
  sessionTimeoutMs?: number;
  /** Most bytes fetched per partition per request (bounds a batch). */
  maxBytesPerPartition?: number;
  onError?: (error: unknown) => void;
}

/**
 * A consumer-group loop that hands whole partition batches to the handler, so it can work on
 * different keys concurrently while keeping each key's messages in order. Offsets are resolved
 * by the handler only for messages whose work is finished; only resolved offsets are committed.
 * A handler that throws leaves the unresolved rest of the batch for redelivery. `stop()` stops
 * fetching, lets running handlers finish, commits and leaves the group.
 */
export class BatchConsumer {
  private readonly consumer: Consumer;
  private state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  private crashed = false;
  private stopping?: Promise<void>;

  constructor(
    kafka: Kafka,
    private readonly options: BatchConsumerOptions,
    private readonly handler: BatchHandler,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 10000,
      heartbeatInterval: 3000,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      retry: { retries: 10, initialRetryTime: 300 },
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.crashed = !payload.restart;
      this.options.onError?.(payload.error);
    });
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') {
      throw new Error(`batch consumer for group ${this.options.groupId} was already started`);
    }
    this.state = 'running';
    const { joined } = await connectAndSubscribe(this.consumer, this.options);
    await this.consumer.run({
      autoCommit: true,
      autoCommitInterval: 1000,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const messages = batch.messages.map((m) =>
          toConsumedMessage(batch.topic, batch.partition, m),
        );
        try {
          await this.handler(
            { topic: batch.topic, partition: batch.partition, messages },
            {
              resolveOffset: (offset) => payload.resolveOffset(offset),
              heartbeat: () => payload.heartbeat(),
              shouldContinue: () => payload.isRunning() && !payload.isStale(),
            },
          );
        } catch (error) {
          this.options.onError?.(error);
          throw error;
        }
      },
    });
    await joined;
  }

  isHealthy(): boolean {
    return this.state === 'running' && !this.crashed;
  }

  stop(): Promise<void> {
    if (this.state === 'idle') {
      this.state = 'stopped';
      return Promise.resolve();
    }
    this.stopping ??= (async () => {
      this.state = 'stopping';
      await this.consumer.stop();
      await this.consumer.disconnect();
      this.state = 'stopped';
    })();
    return this.stopping;
  }
}

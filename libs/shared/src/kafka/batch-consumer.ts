import type { ConsumerRunConfig, Kafka } from 'kafkajs';
import { toConsumedMessage, type ConsumedMessage } from './consumer-loop';
import { GroupConsumer, type GroupConsumerOptions } from './group-consumer';

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

export interface BatchConsumerOptions extends GroupConsumerOptions {
  /** Most bytes fetched per partition per request (bounds a batch). */
  maxBytesPerPartition?: number;
}

/**
 * A consumer-group loop that hands whole partition batches to the handler, so it can work on
 * different keys concurrently while keeping each key's messages in order. Offsets are resolved
 * by the handler only for messages whose work is finished; only resolved offsets are committed.
 * A handler that throws leaves the unresolved rest of the batch for redelivery. `stop()` stops
 * fetching, lets running handlers finish, commits and leaves the group.
 */
export class BatchConsumer extends GroupConsumer {
  constructor(
    kafka: Kafka,
    private readonly options: BatchConsumerOptions,
    private readonly handler: BatchHandler,
  ) {
    // A shorter session than the default: a killed replica's partitions move on within seconds.
    super(
      kafka,
      { ...options, sessionTimeoutMs: options.sessionTimeoutMs ?? 10000 },
      {
        heartbeatInterval: 3000,
        maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      },
    );
  }

  protected runConfig(): ConsumerRunConfig {
    return {
      eachBatchAutoResolve: false,
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
    };
  }
}

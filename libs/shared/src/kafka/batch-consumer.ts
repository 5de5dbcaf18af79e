import type { ConsumerRunConfig } from 'kafkajs';
import type { KafkaConnection } from './connection';
import { toConsumedMessage, type ConsumedMessage } from './consumed-message';
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
  /** How many messages the batch holds. */
  size: number;
  /**
   * Messages [start, end) as handlers see them, converted when asked: a handler that works a
   * chunk at a time holds the converted form of one chunk, not of the whole fetch.
   */
  slice(start: number, end?: number): ConsumedMessage[];
  /** Only the values of messages [start, end), for a reader that needs nothing else (a floor). */
  values(start: number, end?: number): Array<Buffer | null>;
}

export type BatchHandler = (batch: PartitionBatch, control: BatchControl) => Promise<void>;

export interface BatchConsumerOptions extends GroupConsumerOptions {
  /** Most bytes fetched per partition per request (bounds a batch). Default 1 MiB. */
  maxBytesPerPartition?: number;
  /**
   * Most bytes of one fetch response. Default: maxBytesPerPartition times the partitions handled
   * at once (at most 10 MiB), so what a consumer holds follows its concurrency.
   */
  maxBytes?: number;
}

const MIB = 1024 * 1024;

/** The bytes one fetch of this consumer may hold (see BatchConsumerOptions). */
export function fetchBytesFor(options: BatchConsumerOptions): {
  maxBytesPerPartition: number;
  maxBytes: number;
} {
  const maxBytesPerPartition = options.maxBytesPerPartition ?? MIB;
  const concurrency = Math.max(1, options.partitionsConsumedConcurrently ?? 1);
  return {
    maxBytesPerPartition,
    maxBytes:
      options.maxBytes ??
      Math.max(maxBytesPerPartition, Math.min(10 * MIB, maxBytesPerPartition * concurrency)),
  };
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
    connection: KafkaConnection,
    private readonly options: BatchConsumerOptions,
    private readonly handler: BatchHandler,
  ) {
    // A shorter session than the default: a killed replica's partitions move on within seconds.
    super(
      connection,
      { ...options, sessionTimeoutMs: options.sessionTimeoutMs ?? 10000 },
      { heartbeatInterval: 3000, ...fetchBytesFor(options) },
    );
  }

  protected runConfig(): ConsumerRunConfig {
    return {
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const { topic, partition, messages } = batch;
        try {
          await this.handler(
            {
              topic,
              partition,
              size: messages.length,
              slice: (start, end) =>
                messages.slice(start, end).map((m) => toConsumedMessage(topic, partition, m)),
              values: (start, end) => messages.slice(start, end).map((m) => m.value),
            },
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

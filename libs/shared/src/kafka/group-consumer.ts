import type { Consumer, ConsumerConfig, ConsumerRunConfig } from 'kafkajs';
import { clientOf, type KafkaConnection } from './connection';

/** What every consumer-group loop of ours is configured with. */
export interface GroupConsumerOptions {
  groupId: string;
  topics: string[];
  fromBeginning?: boolean;
  /** Partitions handled at the same time; one partition's messages are always handled in order. */
  partitionsConsumedConcurrently?: number;
  sessionTimeoutMs?: number;
  /** Called when the handler throws or the consumer crashes (for logs and metrics). */
  onError?: (error: unknown) => void;
}

/**
 * The lifecycle of a consumer-group loop: one client consumer per group, crash tracking for
 * readiness, `start()` that resolves once the group is joined, and a graceful `stop()` (stop
 * fetching, let running handlers finish, commit resolved offsets, leave the group, disconnect).
 */
export abstract class GroupConsumer {
  protected readonly consumer: Consumer;
  private state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  private crashed = false;
  private stopping?: Promise<void>;

  protected constructor(
    connection: KafkaConnection,
    private readonly groupOptions: GroupConsumerOptions,
    config: Partial<ConsumerConfig> = {},
  ) {
    this.consumer = clientOf(connection).consumer({
      groupId: groupOptions.groupId,
      sessionTimeout: groupOptions.sessionTimeoutMs ?? 30000,
      allowAutoTopicCreation: false,
      retry: { retries: 10, initialRetryTime: 300 },
      ...config,
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.crashed = !payload.restart;
      this.groupOptions.onError?.(payload.error);
    });
  }

  /** How this loop hands messages to its handler (eachMessage or eachBatch). */
  protected abstract runConfig(): ConsumerRunConfig;

  /** Connects, subscribes, runs and resolves once the consumer has joined its group. */
  async start(): Promise<void> {
    if (this.state !== 'idle') {
      throw new Error(`consumer for group ${this.groupOptions.groupId} was already started`);
    }
    this.state = 'running';
    const joined = new Promise<void>((resolve) => {
      const off = this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
        off();
        resolve();
      });
    });
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: this.groupOptions.topics,
      fromBeginning: this.groupOptions.fromBeginning ?? true,
    });
    await this.consumer.run({
      autoCommit: true,
      autoCommitInterval: 1000,
      partitionsConsumedConcurrently: this.groupOptions.partitionsConsumedConcurrently ?? 1,
      ...this.runConfig(),
    });
    await joined;
  }

  /** False once the consumer crashed for good (kafkajs gave up restarting). */
  isHealthy(): boolean {
    return this.state === 'running' && !this.crashed;
  }

  /** Graceful stop; safe to call more than once. */
  stop(): Promise<void> {
    if (this.state === 'idle') {
      this.state = 'stopped';
      return Promise.resolve();
    }
    this.stopping ??= (async () => {
      this.state = 'stopping';
      // kafkajs stop(): stops fetching, waits for running handlers, commits resolved offsets
      // and leaves the group.
      await this.consumer.stop();
      await this.consumer.disconnect();
      this.state = 'stopped';
    })();
    return this.stopping;
  }
}

import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';

/** One Kafka message as handlers see it: headers decoded to strings, offset as a string. */
export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: string;
}

export type MessageHandler = (message: ConsumedMessage) => Promise<void>;

export interface ConsumerLoopOptions {
  groupId: string;
  topics: string[];
  fromBeginning?: boolean;
  /** Partitions handled at the same time; messages of one partition are always handled in order. */
  partitionsConsumedConcurrently?: number;
  sessionTimeoutMs?: number;
  /** Called when the handler throws or the consumer crashes (for logs and metrics). */
  onError?: (error: unknown, message?: ConsumedMessage) => void;
}

/**
 * A consumer-group loop with at-least-once delivery:
 * - messages of a partition reach the handler one at a time, in offset order;
 * - an offset is committed only after the handler resolved for that message (and all before it);
 * - a handler that throws does not lose the message: the offsets before it are committed, the
 *   consumer restarts and the message is delivered again. Handlers should therefore turn bad
 *   input into an outcome (e.g. a dead letter) and throw only for failures worth retrying;
 * - `stop()` is graceful: no new fetches, the in-flight handler calls finish, their offsets are
 *   committed, then the consumer leaves the group and disconnects.
 */
export class ConsumerLoop {
  private readonly consumer: Consumer;
  private state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  private crashed = false;
  private inFlight = 0;
  private stopping?: Promise<void>;

  constructor(
    kafka: Kafka,
    private readonly options: ConsumerLoopOptions,
    private readonly handler: MessageHandler,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30000,
      allowAutoTopicCreation: false,
      retry: { retries: 10, initialRetryTime: 300 },
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.crashed = !payload.restart;
      this.options.onError?.(payload.error);
    });
  }

  /** Connects, subscribes and resolves once the consumer has joined its group. */
  async start(): Promise<void> {
    if (this.state !== 'idle') {
      throw new Error(`consumer loop for group ${this.options.groupId} was already started`);
    }
    this.state = 'running';
    const { joined } = await connectAndSubscribe(this.consumer, this.options);
    await this.consumer.run({
      autoCommit: true,
      autoCommitInterval: 1000,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachMessage: async ({ topic, partition, message }) => {
        const consumed = toConsumedMessage(topic, partition, message);
        this.inFlight += 1;
        try {
          await this.handler(consumed);
        } catch (error) {
          this.options.onError?.(error, consumed);
          throw error;
        } finally {
          this.inFlight -= 1;
        }
      },
    });
    await joined;
  }

  /** False once the consumer crashed for good (kafkajs gave up restarting). */
  isHealthy(): boolean {
    return this.state === 'running' && !this.crashed;
  }

  inFlightCount(): number {
    return this.inFlight;
  }

  /** Graceful stop; safe to call more than once. */
  stop(): Promise<void> {
    if (this.state === 'idle') {
      this.state = 'stopped';
      return Promise.resolve();
    }
    this.stopping ??= this.stopGracefully();
    return this.stopping;
  }

  private async stopGracefully(): Promise<void> {
    this.state = 'stopping';
    // kafkajs stop(): stops fetching, waits for the running eachMessage calls, commits the
    // resolved offsets and leaves the group.
    await this.consumer.stop();
    await this.consumer.disconnect();
    this.state = 'stopped';
  }
}

/** A kafkajs message as handlers see it (headers as strings). */
export function toConsumedMessage(
  topic: string,
  partition: number,
  message: KafkaMessage,
): ConsumedMessage {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: Object.fromEntries(
      Object.entries(message.headers ?? {}).flatMap(([name, value]) =>
        value === undefined
          ? []
          : [[name, Array.isArray(value) ? value.join(',') : value.toString()]],
      ),
    ),
    timestamp: message.timestamp,
  };
}

/** Connects and subscribes; the returned promise resolves once the consumer joined its group. */
export async function connectAndSubscribe(
  consumer: Consumer,
  options: { topics: string[]; fromBeginning?: boolean },
): Promise<{ joined: Promise<void> }> {
  const joined = new Promise<void>((resolve) => {
    const off = consumer.on(consumer.events.GROUP_JOIN, () => {
      off();
      resolve();
    });
  });
  await consumer.connect();
  await consumer.subscribe({
    topics: options.topics,
    fromBeginning: options.fromBeginning ?? true,
  });
  return { joined };
}

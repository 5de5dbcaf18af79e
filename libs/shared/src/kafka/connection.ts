import { Kafka, logLevel, type Admin, type LogEntry, type Producer } from 'kafkajs';
import { isRetriedLeadershipError } from './client-noise';
import { quietIdleRequestQueues } from './request-queue-idle';

quietIdleRequestQueues();

/** The logger shape the client's logs are forwarded to (pino's). */
export interface LoggerLike {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The quietest to the most talkative of the client's own log lines. */
export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

export interface KafkaConnectionOptions {
  brokers: string[];
  clientId: string;
  logger?: LoggerLike;
  /** The client's own log level; WARN unless said otherwise, so normal operation is quiet. */
  level?: KafkaLogLevel;
}

/** The `component` field of the log lines the Kafka client itself writes. */
export const KAFKA_CLIENT_LOG_COMPONENT = 'kafkajs';

/** One message to write, in the form every writer of this folder takes. */
export interface OutgoingMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string | undefined>;
  partition?: number;
  timestamp?: string;
}

/** What the broker answered for the part of a write that went to one partition. */
export interface WriteReceipt {
  topicName: string;
  partition: number;
  errorCode: number;
  baseOffset?: string;
}

/** A partition's first and next offset (its low and high water marks). */
export interface PartitionOffsets {
  partition: number;
  low: number;
  high: number;
}

/** A partition's offset: committed by a group, or found for a time. -1 when there is none. */
export interface PartitionOffset {
  partition: number;
  offset: number;
}

/** A topic to create, with explicit partitions and configs. */
export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
}

const LEVELS: Record<KafkaLogLevel, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

const clients = new WeakMap<KafkaConnection, Kafka>();

/**
 * The client behind a connection, for the consumers, producers and readers of this folder. It is
 * deliberately not exported from the folder's index: nothing outside libs/shared/src/kafka gets
 * to hold the client itself, so a change of Kafka client stays inside this folder.
 */
export function clientOf(connection: KafkaConnection): Kafka {
  const client = clients.get(connection);
  if (!client) {
    throw new Error('not a Kafka connection of this process');
  }
  return client;
}

/**
 * A service's connection to the Kafka cluster: what the apps, the tests and the tools see of
 * Kafka. It builds the consumers, producers and readers of this folder on one client, and
 * answers the few cluster questions callers have (offsets, group lag, topic layout) through one
 * admin connection, opened on first use and reopened after a failure.
 */
export class KafkaConnection {
  private admin?: Promise<Admin>;
  private writer?: Promise<Producer>;

  private constructor(client: Kafka) {
    clients.set(this, client);
  }

  /** @internal A connection on a client made inside this folder (a unit test's stand-in client). */
  static around(client: Kafka): KafkaConnection {
    return new KafkaConnection(client);
  }

  /** A connection whose client logs go to `logger` (nothing is opened until first use). */
  static create(options: KafkaConnectionOptions): KafkaConnection {
    const { logger } = options;
    const client = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: 5000,
      requestTimeout: 30000,
      retry: { initialRetryTime: 200, retries: 8 },
      logLevel: LEVELS[options.level ?? 'warn'],
      logCreator:
        () =>
        ({ level, log, namespace }: LogEntry) => {
          if (!logger) {
            return;
          }
          const { message, timestamp: _timestamp, ...rest } = log;
          const fields = { ...rest, namespace, component: KAFKA_CLIENT_LOG_COMPONENT };
          if (level === logLevel.ERROR && isRetriedLeadershipError(rest)) {
            // kafkajs logs these at error and then retries the request on the new leader.
            logger.warn(fields, message);
          } else if (level === logLevel.ERROR) {
            logger.error(fields, message);
          } else if (level === logLevel.WARN) {
            logger.warn(fields, message);
          } else if (level === logLevel.INFO) {
            logger.info(fields, message);
          } else {
            logger.debug(fields, message);
          }
        },
    });
    return new KafkaConnection(client);
  }

  /** Each partition's low and high water marks. */
  async topicOffsets(topic: string): Promise<PartitionOffsets[]> {
    const offsets = await (await this.connectedAdmin()).fetchTopicOffsets(topic);
    return offsets.map((p) => ({
      partition: p.partition,
      low: Number(p.low),
      high: Number(p.high),
    }));
  }

  /** The messages a topic holds now (high minus low water mark, summed over partitions). */
  async messageCount(topic: string): Promise<number> {
    return (await this.topicOffsets(topic)).reduce((sum, p) => sum + p.high - p.low, 0);
  }

  /** Per partition, the first offset at or after `timestampMs` (-1 when none is). */
  async topicOffsetsAt(topic: string, timestampMs: number): Promise<PartitionOffset[]> {
    const offsets = await (
      await this.connectedAdmin()
    ).fetchTopicOffsetsByTimestamp(topic, timestampMs);
    return offsets.map((p) => ({ partition: p.partition, offset: Number(p.offset) }));
  }

  /** Offsets a group committed on a topic (-1 for a partition without a commit). */
  async committedOffsets(groupId: string, topic: string): Promise<PartitionOffset[]> {
    const committed = await (
      await this.connectedAdmin()
    ).fetchOffsets({ groupId, topics: [topic] });
    return (committed.find((c) => c.topic === topic)?.partitions ?? []).map((p) => ({
      partition: p.partition,
      offset: Number(p.offset),
    }));
  }

  /** Messages of `topics` not yet committed by `groupId` (uncommitted partitions count from their start). */
  async groupLag(groupId: string, topics: string[]): Promise<number> {
    const admin = await this.connectedAdmin();
    const committed = await admin.fetchOffsets({ groupId, topics });
    let lag = 0;
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const end of ends) {
        const offset = Number(mine.find((p) => p.partition === end.partition)?.offset ?? -1);
        const from = offset >= 0 ? offset : Number(end.low);
        lag += Math.max(0, Number(end.high) - from);
      }
    }
    return lag;
  }

  /** How many partitions each named topic has (0 for a topic the cluster does not know). */
  async partitionCounts(topics: string[]): Promise<Map<string, number>> {
    const { topics: found } = await (await this.connectedAdmin()).fetchTopicMetadata({ topics });
    return new Map(topics.map((t) => [t, found.find((m) => m.name === t)?.partitions.length ?? 0]));
  }

  /**
   * Creates the topics that do not exist yet and waits for their leaders. Idempotent. Existing
   * topics are left alone; one with fewer partitions than asked is reported in the result so the
   * caller can log it (partitions are never changed behind an operator's back).
   */
  async ensureTopics(
    specs: TopicSpec[],
  ): Promise<{ created: string[]; underPartitioned: string[] }> {
    const admin = await this.connectedAdmin();
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        // The client's own leader wait fails on KRaft while metadata propagates; we poll instead.
        waitForLeaders: false,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.numPartitions,
          replicationFactor: s.replicationFactor,
          configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
        })),
      });
      await this.waitForLeaders(missing.map((s) => s.topic));
    }
    const present = specs.filter((s) => existing.has(s.topic));
    const underPartitioned: string[] = [];
    if (present.length > 0) {
      const counts = await this.partitionCounts(present.map((s) => s.topic));
      for (const spec of present) {
        if ((counts.get(spec.topic) ?? 0) < spec.numPartitions) {
          underPartitioned.push(spec.topic);
        }
      }
    }
    return { created: missing.map((s) => s.topic), underPartitioned };
  }

  async deleteTopics(topics: string[]): Promise<void> {
    await (await this.connectedAdmin()).deleteTopics({ topics });
  }

  /** Removes consumer groups (best effort is the caller's choice: this throws on failure). */
  async deleteGroups(groupIds: string[]): Promise<void> {
    await (await this.connectedAdmin()).deleteGroups(groupIds);
  }

  /**
   * Waits until every partition of `topics` has a leader. A freshly created topic can briefly be
   * unknown to the broker's metadata cache (UNKNOWN_TOPIC_OR_PARTITION on KRaft), so errors are
   * retried until the deadline.
   */
  async waitForLeaders(topics: string[], timeoutMs = 30_000): Promise<void> {
    const admin = await this.connectedAdmin();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const meta = await admin.fetchTopicMetadata({ topics });
        if (
          meta.topics.every(
            (t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0),
          )
        ) {
          return;
        }
      } catch (error) {
        if (Date.now() >= deadline) {
          throw error;
        }
      }
      if (Date.now() >= deadline) {
        throw new Error(`topics ${topics.join(', ')} have no leader after ${timeoutMs}ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The cluster answers a metadata request (readiness). */
  async ping(): Promise<void> {
    await (await this.connectedAdmin()).describeCluster();
  }

  /**
   * Writes messages as they are (acks=all, no size check, no event encoding): for tools and
   * tests that put bytes of their own on a topic. Services write through EventProducer.
   */
  async write(topic: string, messages: OutgoingMessage[]): Promise<WriteReceipt[]> {
    this.writer ??= (async () => {
      const producer = clientOf(this).producer({ allowAutoTopicCreation: false });
      await producer.connect();
      return producer;
    })();
    this.writer.catch(() => {
      this.writer = undefined;
    });
    return (await this.writer).send({ topic, acks: -1, messages });
  }

  /** Closes the admin connection and the plain writer (consumers and producers close themselves). */
  async close(): Promise<void> {
    const admin = await this.admin?.catch(() => undefined);
    const writer = await this.writer?.catch(() => undefined);
    this.admin = undefined;
    this.writer = undefined;
    await admin?.disconnect().catch(() => undefined);
    await writer?.disconnect().catch(() => undefined);
  }

  private connectedAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = clientOf(this).admin();
      await admin.connect();
      return admin;
    })();
    this.admin.catch(() => {
      this.admin = undefined;
    });
    return this.admin;
  }
}

/**
 * One attempt to reach a broker of `brokers` (a metadata request, no retries, no client logs):
 * the startup check that names KAFKA_BROKERS when it fails.
 */
export async function probeKafka(
  brokers: readonly string[],
  clientId: string,
  timeoutMs: number,
): Promise<void> {
  const client = new Kafka({
    clientId,
    brokers: [...brokers],
    connectionTimeout: Math.min(timeoutMs, 3000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = client.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    await admin.describeCluster();
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

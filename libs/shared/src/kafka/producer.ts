import {
  Partitioners,
  type Admin,
  type Kafka,
  type PartitionMetadata,
  type Producer,
} from 'kafkajs';
import {
  clientOf,
  type KafkaConnection,
  type OutgoingMessage,
  type WriteReceipt,
} from './connection';
import type { EventCodec } from './codec';
import type { SourceEvent } from '../events/source-event';
import { messageKeyFor } from './topics';

/** Header names a source event carries, so tools can filter without decoding Avro. */
export const EVENT_HEADERS = {
  eventId: 'x-event-id',
  origin: 'x-origin',
  customerId: 'x-customer-id',
} as const;

/** Kafka's own default for `message.max.bytes` (broker) and `max.message.bytes` (topic). */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/**
 * Room kept free in every source event for what later stages add around the same value: retry
 * and dead-letter headers (error text capped at 1,000 characters, topic names, timestamps) and
 * replay headers. A source event that fits leaves this much, so its retry, dead-letter and
 * replay copies always fit too.
 */
export const EVENT_HEADROOM_BYTES = 16 * 1024;

/** Fixed overhead of one record batch (v2 header) plus a margin for the request's framing. */
const BATCH_OVERHEAD_BYTES = 512;

/** Raised before anything is sent when a message cannot fit the broker's record-batch limit. */
export class EventTooLargeError extends Error {
  constructor(
    readonly bytes: number,
    readonly limit: number,
    readonly event?: Pick<
      SourceEvent,
      'customerId' | 'source' | 'resource' | 'recordId' | 'origin'
    >,
  ) {
    super(`event of ${bytes} bytes exceeds the ${limit}-byte Kafka event limit`);
    this.name = 'EventTooLargeError';
  }
}

/**
 * Upper bound of the bytes one message takes inside a record batch (record v2: the lengths are
 * varints of at most 5 bytes; attributes, timestamp and offset deltas at most 11).
 */
export function messageBytes(message: OutgoingMessage): number {
  const len = (value: Buffer | string | null | undefined): number =>
    value === null || value === undefined
      ? 0
      : Buffer.isBuffer(value)
        ? value.length
        : Buffer.byteLength(value);
  let bytes = 5 + 11 + 5 + len(message.key) + 5 + len(message.value) + 5;
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    bytes += 5 + Buffer.byteLength(name) + 5 + len(value);
  }
  return bytes;
}

/**
 * Protocol errors that belong to the messages of one request rather than to the broker or the
 * partition: a request failing with one of these is split so only the guilty message fails.
 */
const MESSAGE_ERRORS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
  'INVALID_REQUIRED_ACKS',
]);

/** Whether `error` (or what it wraps) says a message of the request was at fault. */
export function isMessageError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const { type, cause, originalError } = current as {
      type?: unknown;
      cause?: unknown;
      originalError?: unknown;
    };
    if (typeof type === 'string' && MESSAGE_ERRORS.has(type)) {
      return true;
    }
    current = cause ?? originalError;
  }
  return false;
}

export interface EventProducerOptions {
  /** How long the broker may wait for in-sync replicas per request. */
  ackTimeoutMs?: number;
  /** The broker's `message.max.bytes` (record-batch limit); Kafka's default when unset. */
  maxMessageBytes?: number;
  /** Consecutive failed sends after which the producer reports unhealthy and is recreated. */
  failuresBeforeRecreate?: number;
  /** Least time between two recreations. */
  recreateIntervalMs?: number;
  /** Told when the producer's health changes or it is recreated (metrics, logs). */
  onHealth?: (event: { healthy: boolean; recreated?: boolean; error?: unknown }) => void;
}

export interface ProducerHealth {
  healthy: boolean;
  consecutiveFailures: number;
  lastError?: string;
}

/**
 * Writes source events durably with acks from all in-sync replicas. `publish` resolves only once
 * the broker has acknowledged every message, so a caller may then acknowledge its own input
 * (e.g. answer a webhook 2xx).
 *
 * Idempotence is off, on purpose. kafkajs's idempotent producer keeps one sequence number per
 * partition for the whole process; a failed multi-partition request resets them for every
 * partition in it, including partitions the broker had accepted, after which the broker drops
 * later writes as duplicates (acknowledged but never stored) or refuses them as out of order
 * for minutes. Our events do not need broker-side deduplication: the event ID is derived from
 * source, resource, record ID and modification time, and the submitter skips a version it has
 * already handled, so a copy written twice by a resend is harmless. Per-partition order is kept
 * without it: every caller above this class has at most one request per partition in flight,
 * and kafkajs resends a failed request before that request resolves.
 *
 * Every message is checked against the broker's record-batch limit before it is sent: an event
 * that cannot fit is refused alone (EventTooLargeError) and never joins a request with others.
 */
export class EventProducer {
  private producer: Producer;
  /** Same settings but no resends: shared requests learn of a failure in one round trip. */
  private oneShot: Producer;
  private admin: Admin | undefined;
  private connected = false;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  /** Per topic: a partition list shaped for the partitioner, and when its count was read. */
  private readonly partitionCounts = new Map<
    string,
    { partitions: PartitionMetadata[]; readAt: number }
  >();
  private consecutiveFailures = 0;
  private lastError: string | undefined;
  private lastRecreateAt = 0;
  private recreating: Promise<void> | undefined;
  /** The most bytes of messages one request may carry for one partition. */
  readonly maxRequestBytes: number;
  /** The most bytes one source event may take (leaves EVENT_HEADROOM_BYTES for later headers). */
  readonly maxEventBytes: number;

  private readonly kafka: Kafka;

  constructor(
    connection: KafkaConnection,
    private readonly codec: EventCodec,
    private readonly options: EventProducerOptions = {},
  ) {
    const limit = options.maxMessageBytes ?? KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
    this.kafka = clientOf(connection);
    this.maxRequestBytes = limit - BATCH_OVERHEAD_BYTES;
    this.maxEventBytes = this.maxRequestBytes - EVENT_HEADROOM_BYTES;
    this.producer = this.newProducer(5);
    this.oneShot = this.newProducer(0);
  }

  private newProducer(retries: number): Producer {
    return this.kafka.producer({
      idempotent: false,
      // Several requests per connection, so lanes of different partitions do not queue behind
      // each other. A partition's order does not depend on it: every writer above keeps at most
      // one request per partition outstanding (the batching publisher's lanes; the page-by-page
      // writers), and a request kafkajs resends is still outstanding until it settles.
      maxInFlightRequests: 8,
      allowAutoTopicCreation: false,
      // murmur2 like the Java client: a key lands on the same partition whoever produced it
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries, initialRetryTime: 200, maxRetryTime: 5000 },
    });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    await this.oneShot.connect();
    this.admin = this.kafka.admin();
    await this.admin.connect();
    this.connected = true;
  }

  isConnected(): boolean {
    return this.connected;
  }

  /** Unhealthy after `failuresBeforeRecreate` consecutive failed sends; any success heals. */
  health(): ProducerHealth {
    return {
      healthy: this.consecutiveFailures < this.failureThreshold(),
      consecutiveFailures: this.consecutiveFailures,
      lastError: this.lastError,
    };
  }

  /**
   * Encodes and writes events to `topic`, keyed `<customerId>:<resource>:<recordId>`. An event
   * over the limit fails the call before anything is sent, unless `onTooLarge` is given: then
   * that event is left out (the callback decides how it is counted) and the rest are written.
   */
  async publish(
    topic: string,
    events: SourceEvent[],
    onTooLarge?: (error: EventTooLargeError, event: SourceEvent) => void,
  ): Promise<WriteReceipt[]> {
    if (events.length === 0) {
      return [];
    }
    const messages: OutgoingMessage[] = [];
    for (const event of events) {
      try {
        messages.push(await this.toMessage(topic, event));
      } catch (error) {
        if (error instanceof EventTooLargeError && onTooLarge) {
          onTooLarge(error, event);
          continue;
        }
        throw error;
      }
    }
    return this.publishRaw(topic, messages);
  }

  /**
   * The Kafka message for an event: customer-first key, Avro value, filterable headers. Throws
   * EventTooLargeError when it would not leave the headroom later stages need.
   */
  async toMessage(topic: string, event: SourceEvent): Promise<OutgoingMessage> {
    const message: OutgoingMessage = {
      key: messageKeyFor(event.customerId, event.resource, event.recordId),
      value: await this.codec.encode(topic, event),
      headers: {
        [EVENT_HEADERS.eventId]: event.eventId,
        [EVENT_HEADERS.origin]: event.origin,
        [EVENT_HEADERS.customerId]: event.customerId,
      },
    };
    const bytes = messageBytes(message);
    if (bytes > this.maxEventBytes) {
      throw new EventTooLargeError(bytes, this.maxEventBytes, event);
    }
    return message;
  }

  /**
   * The partition a key lands on (the producer's own murmur2 rule over the topic's partition
   * count, read from the cluster and refreshed every minute), so callers can keep each request
   * to one partition. Undefined when the count cannot be read; callers then group by topic.
   */
  async partitionOf(topic: string, key: Buffer | string | null | undefined): Promise<number> {
    let cached = this.partitionCounts.get(topic);
    if (!cached || Date.now() - cached.readAt > 60_000) {
      try {
        const metadata = await this.admin?.fetchTopicMetadata({ topics: [topic] });
        const count = metadata?.topics[0]?.partitions.length ?? 0;
        if (count > 0) {
          // Built once per count read, not per message: the partitioner only needs the length.
          const partitions = Array.from({ length: count }, (_v, partitionId) => ({
            partitionId,
            leader: 0,
            partitionErrorCode: 0,
            replicas: [],
            isr: [],
            offlineReplicas: [],
          }));
          cached = { partitions, readAt: Date.now() };
          this.partitionCounts.set(topic, cached);
        }
      } catch {
        // keep the last known count; an unknown topic fails at send time with a clear error
      }
    }
    if (!cached) {
      return 0;
    }
    return this.partitioner({
      topic,
      partitionMetadata: cached.partitions,
      message: { key: key ?? null, value: null },
    });
  }

  /**
   * One produce request (acks=all); the caller keeps it within `maxRequestBytes` per partition.
   * With `once`, a failure is not resent by the client: callers that share a request among
   * several partitions use it to learn quickly that something failed, then resend each
   * partition's part on its own (and only those failures count against the producer's health).
   */
  async sendBatch(
    topicMessages: Array<{ topic: string; messages: OutgoingMessage[] }>,
    options: { once?: boolean } = {},
  ): Promise<void> {
    const request = {
      acks: -1,
      timeout: this.options.ackTimeoutMs ?? 30000,
      topicMessages,
    };
    if (options.once) {
      await this.oneShot.sendBatch(request);
      return;
    }
    await this.tracked(() => this.producer.sendBatch(request));
  }

  /**
   * Writes already-encoded messages (retries, dead letters, replays) with the same durability,
   * in requests that each stay within the record-batch limit, in order. A message that alone is
   * over the limit is refused before anything is sent.
   */
  async publishRaw(topic: string, messages: OutgoingMessage[]): Promise<WriteReceipt[]> {
    const sizes = messages.map(messageBytes);
    const tooBig = sizes.findIndex((bytes) => bytes > this.maxRequestBytes);
    if (tooBig >= 0) {
      throw new EventTooLargeError(sizes[tooBig] ?? 0, this.maxRequestBytes);
    }
    const written: WriteReceipt[] = [];
    let start = 0;
    while (start < messages.length) {
      // Without knowing partitions, bound the whole request: then no partition's batch is over.
      let end = start;
      let bytes = 0;
      while (
        end < messages.length &&
        (end === start || bytes + (sizes[end] ?? 0) <= this.maxRequestBytes)
      ) {
        bytes += sizes[end] ?? 0;
        end++;
      }
      const part = messages.slice(start, end);
      written.push(
        ...(await this.tracked(() =>
          this.producer.send({
            topic,
            acks: -1,
            timeout: this.options.ackTimeoutMs ?? 30000,
            messages: part,
          }),
        )),
      );
      start = end;
    }
    return written;
  }

  async disconnect(): Promise<void> {
    this.connected = false;
    await this.recreating?.catch(() => undefined);
    await this.producer.disconnect();
    await this.oneShot.disconnect();
    await this.admin?.disconnect();
  }

  private failureThreshold(): number {
    return this.options.failuresBeforeRecreate ?? 3;
  }

  /** Runs one send and keeps the health count; a message's own fault says nothing of the producer. */
  private async tracked<T>(send: () => Promise<T>): Promise<T> {
    try {
      const result = await send();
      if (this.consecutiveFailures >= this.failureThreshold()) {
        this.options.onHealth?.({ healthy: true });
      }
      this.consecutiveFailures = 0;
      this.lastError = undefined;
      return result;
    } catch (error) {
      if (!isMessageError(error)) {
        this.consecutiveFailures++;
        this.lastError = error instanceof Error ? error.message : String(error);
        if (this.consecutiveFailures === this.failureThreshold()) {
          this.options.onHealth?.({ healthy: false, error });
        }
        if (this.consecutiveFailures >= this.failureThreshold()) {
          this.recreateSoon();
        }
      }
      throw error;
    }
  }

  /**
   * Replaces a producer that keeps failing with a fresh one (new connections, metadata and
   * state), at most once per `recreateIntervalMs`. Sends already running on the old one finish
   * or fail on their own; it is disconnected a little later.
   */
  private recreateSoon(): void {
    const interval = this.options.recreateIntervalMs ?? 10_000;
    if (!this.connected || this.recreating || Date.now() - this.lastRecreateAt < interval) {
      return;
    }
    this.lastRecreateAt = Date.now();
    this.recreating = (async () => {
      const fresh = this.newProducer(5);
      const freshOneShot = this.newProducer(0);
      try {
        await fresh.connect();
        await freshOneShot.connect();
      } catch (error) {
        await fresh.disconnect().catch(() => undefined);
        await freshOneShot.disconnect().catch(() => undefined);
        this.options.onHealth?.({ healthy: false, error });
        return;
      }
      const old = [this.producer, this.oneShot];
      this.producer = fresh;
      this.oneShot = freshOneShot;
      this.partitionCounts.clear();
      this.options.onHealth?.({ healthy: false, recreated: true });
      setTimeout(() => {
        for (const producer of old) {
          void producer.disconnect().catch(() => undefined);
        }
      }, 30_000).unref();
    })().finally(() => {
      this.recreating = undefined;
    });
  }
}

import {
  Partitioners,
  type Kafka,
  type Message,
  type Producer,
  type RecordMetadata,
} from 'kafkajs';
import type { EventCodec } from '../events/codec';
import type { SourceEvent } from '../events/source-event';
import { messageKeyFor } from './topics';

/** Header names a source event carries, so tools can filter without decoding Avro. */
export const EVENT_HEADERS = {
  eventId: 'x-event-id',
  origin: 'x-origin',
  customerId: 'x-customer-id',
} as const;

export interface EventProducerOptions {
  /** How long the broker may wait for in-sync replicas per request. */
  ackTimeoutMs?: number;
}

/**
 * Writes source events durably: idempotent producer, acks from all in-sync replicas. `publish`
 * resolves only once the broker has acknowledged every message, so a caller may then acknowledge
 * its own input (e.g. answer a webhook 2xx).
 */
export class EventProducer {
  private readonly producer: Producer;
  private connected = false;

  constructor(
    kafka: Kafka,
    private readonly codec: EventCodec,
    private readonly options: EventProducerOptions = {},
  ) {
    this.producer = kafka.producer({
      idempotent: true,
      // kafkajs keeps ordering with the idempotent producer only with one request in flight
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // murmur2 like the Java client: a key lands on the same partition whoever produced it
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5000 },
    });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  isConnected(): boolean {
    return this.connected;
  }

  /** Encodes and writes events to `topic`, keyed `<customerId>:<resource>:<recordId>`. */
  async publish(topic: string, events: SourceEvent[]): Promise<RecordMetadata[]> {
    if (events.length === 0) {
      return [];
    }
    const messages = await Promise.all(events.map((event) => this.toMessage(topic, event)));
    return this.publishRaw(topic, messages);
  }

  /** The Kafka message for an event: customer-first key, Avro value, filterable headers. */
  async toMessage(topic: string, event: SourceEvent): Promise<Message> {
    return {
      key: messageKeyFor(event.customerId, event.resource, event.recordId),
      value: await this.codec.encode(topic, event),
      headers: {
        [EVENT_HEADERS.eventId]: event.eventId,
        [EVENT_HEADERS.origin]: event.origin,
        [EVENT_HEADERS.customerId]: event.customerId,
      },
    };
  }

  /** One produce request covering several topics (acks=all), as the batching publisher sends. */
  async sendBatch(topicMessages: Array<{ topic: string; messages: Message[] }>): Promise<void> {
    await this.producer.sendBatch({
      acks: -1,
      timeout: this.options.ackTimeoutMs ?? 30000,
      topicMessages,
    });
  }

  /** Writes already-encoded messages (dead letters, replays) with the same durability. */
  async publishRaw(topic: string, messages: Message[]): Promise<RecordMetadata[]> {
    return this.producer.send({
      topic,
      acks: -1,
      timeout: this.options.ackTimeoutMs ?? 30000,
      messages,
    });
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
    this.connected = false;
  }
}

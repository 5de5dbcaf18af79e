import type { ConsumerRunConfig, Kafka, KafkaMessage } from 'kafkajs';
import { GroupConsumer, type GroupConsumerOptions } from './group-consumer';

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

export interface ConsumerLoopOptions extends Omit<GroupConsumerOptions, 'onError'> {
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
export class ConsumerLoop extends GroupConsumer {
  private inFlight = 0;

  constructor(
    kafka: Kafka,
    private readonly options: ConsumerLoopOptions,
    private readonly handler: MessageHandler,
  ) {
    super(kafka, { ...options, onError: (error) => options.onError?.(error) });
  }

  protected runConfig(): ConsumerRunConfig {
    return {
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
    };
  }

  inFlightCount(): number {
    return this.inFlight;
  }
}

/** A kafkajs message as handlers see it (headers as strings). */
export function toConsumedMessage(
  topic: string,
  partition: number,
  message: KafkaMessage,
): ConsumedMessage {
  // A plain loop: this runs for every consumed message, and the entries/flatMap/fromEntries
  // form allocated three arrays per header.
  const headers: Record<string, string> = {};
  const raw = message.headers;
  if (raw) {
    for (const name in raw) {
      const value = raw[name];
      if (value !== undefined) {
        headers[name] = Array.isArray(value) ? value.join(',') : value.toString();
      }
    }
  }
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers,
    timestamp: message.timestamp,
  };
}

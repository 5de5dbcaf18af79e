import type { KafkaMessage } from 'kafkajs';

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

/** A fetched message as handlers see it (headers as strings). */
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

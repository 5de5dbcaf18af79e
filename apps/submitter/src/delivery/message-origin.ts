import { DEAD_LETTER_HEADERS } from '@raise-sync/shared/kafka';
import type { ConsumedMessage } from '@raise-sync/shared/kafka';

/** Where a message originally came from (the source topic position, kept through retries). */
export function originOf(message: ConsumedMessage): {
  originalTopic: string;
  originalPartition: number;
  originalOffset: string;
} {
  const h = message.headers;
  const fromHeaders = h[DEAD_LETTER_HEADERS.originalTopic];
  return fromHeaders
    ? {
        originalTopic: fromHeaders,
        originalPartition: Number(h[DEAD_LETTER_HEADERS.originalPartition] ?? -1),
        originalOffset: h[DEAD_LETTER_HEADERS.originalOffset] ?? '',
      }
    : {
        originalTopic: message.topic,
        originalPartition: message.partition,
        originalOffset: message.offset,
      };
}

/** The source event headers travel on (event ID, origin, customer); retry bookkeeping is rewritten. */
export function passThroughHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(
      ([name]) => !name.startsWith('x-retry-') && !name.startsWith('x-error-'),
    ),
  );
}

import { retryHeaders, type OutgoingMessage } from '@raise-sync/shared/kafka';

/** A kept copy of an event's message (a dead letter's, a hold's) and why it goes out again. */
export interface KeptMessage {
  destinationId: string;
  messageKey: string | null;
  payload: Buffer;
  headers: Record<string, string>;
  firstFailedAt: Date;
  /** Where the copy was kept when its headers do not say where the event came from. */
  fallbackPosition: { topic: string; partition: number; offset: string };
  lastError: string;
}

/**
 * The message that sends a kept copy through the first retry topic with a fresh attempt budget,
 * due now, for one destination: the copy's own headers without its earlier error and retry
 * headers, and its original source position (the audit trail still names where it came from).
 */
export function resendMessage(kept: KeptMessage): OutgoingMessage {
  const { headers, fallbackPosition } = kept;
  return {
    key: kept.messageKey,
    value: kept.payload,
    headers: {
      ...Object.fromEntries(
        Object.entries(headers).filter(
          ([k]) => !k.startsWith('x-error-') && !k.startsWith('x-retry-'),
        ),
      ),
      ...retryHeaders({
        destinationId: kept.destinationId,
        attempt: 0,
        dueAt: new Date(),
        firstFailedAt: kept.firstFailedAt,
        lastError: kept.lastError,
        originalTopic: headers['x-original-topic'] ?? fallbackPosition.topic,
        originalPartition: Number(headers['x-original-partition'] ?? fallbackPosition.partition),
        originalOffset: headers['x-original-offset'] ?? fallbackPosition.offset,
      }),
    },
  };
}

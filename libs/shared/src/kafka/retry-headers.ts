/**
 * Headers a message carries while it waits in a retry topic: which destination it is for, how
 * many attempts were made, when it is due, and where it first came from.
 */
export const RETRY_HEADERS = {
  destinationId: 'x-retry-destination-id',
  attempt: 'x-retry-attempt',
  dueAt: 'x-retry-due-at',
  firstFailedAt: 'x-retry-first-failed-at',
  lastError: 'x-retry-last-error',
  originalTopic: 'x-original-topic',
  originalPartition: 'x-original-partition',
  originalOffset: 'x-original-offset',
} as const;

export interface RetryInfo {
  destinationId: string;
  /** Attempts made so far (1 after the first failure). */
  attempt: number;
  dueAt: Date;
  firstFailedAt: Date;
  lastError: string;
  originalTopic: string;
  originalPartition: number;
  originalOffset: string;
}

export function retryHeaders(info: RetryInfo): Record<string, string> {
  return {
    [RETRY_HEADERS.destinationId]: info.destinationId,
    [RETRY_HEADERS.attempt]: String(info.attempt),
    [RETRY_HEADERS.dueAt]: String(info.dueAt.getTime()),
    [RETRY_HEADERS.firstFailedAt]: info.firstFailedAt.toISOString(),
    [RETRY_HEADERS.lastError]: info.lastError.slice(0, 500),
    [RETRY_HEADERS.originalTopic]: info.originalTopic,
    [RETRY_HEADERS.originalPartition]: String(info.originalPartition),
    [RETRY_HEADERS.originalOffset]: info.originalOffset,
  };
}

/** The retry info of a message, or null when a required header is missing or malformed. */
export function readRetryHeaders(headers: Record<string, string | undefined>): RetryInfo | null {
  const destinationId = headers[RETRY_HEADERS.destinationId];
  const attempt = Number(headers[RETRY_HEADERS.attempt]);
  const dueAt = new Date(Number(headers[RETRY_HEADERS.dueAt]));
  const firstFailedAt = new Date(headers[RETRY_HEADERS.firstFailedAt] ?? '');
  if (
    !destinationId ||
    !Number.isInteger(attempt) ||
    Number.isNaN(dueAt.getTime()) ||
    Number.isNaN(firstFailedAt.getTime())
  ) {
    return null;
  }
  return {
    destinationId,
    attempt,
    dueAt,
    firstFailedAt,
    lastError: headers[RETRY_HEADERS.lastError] ?? '',
    originalTopic: headers[RETRY_HEADERS.originalTopic] ?? '',
    originalPartition: Number(headers[RETRY_HEADERS.originalPartition] ?? -1),
    originalOffset: headers[RETRY_HEADERS.originalOffset] ?? '',
  };
}

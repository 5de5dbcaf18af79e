/** Headers on every dead-lettered message: why, from where, how often. Names live only here. */
export const DEAD_LETTER_HEADERS = {
  reason: 'x-error-reason',
  message: 'x-error-message',
  attempts: 'x-attempts',
  originalTopic: 'x-original-topic',
  originalPartition: 'x-original-partition',
  originalOffset: 'x-original-offset',
  firstFailedAt: 'x-first-failed-at',
  customerId: 'x-customer-id',
  destination: 'x-destination',
} as const;

export interface DeadLetterInfo {
  reason: string;
  message: string;
  attempts: number;
  originalTopic: string;
  originalPartition: number;
  originalOffset: string;
  firstFailedAt: Date;
  customerId?: string;
  destination?: string;
}

export function deadLetterHeaders(info: DeadLetterInfo): Record<string, string> {
  const headers: Record<string, string> = {
    [DEAD_LETTER_HEADERS.reason]: info.reason,
    // headers are not a place for whole stack traces or payloads
    [DEAD_LETTER_HEADERS.message]: info.message.slice(0, 1000),
    [DEAD_LETTER_HEADERS.attempts]: String(info.attempts),
    [DEAD_LETTER_HEADERS.originalTopic]: info.originalTopic,
    [DEAD_LETTER_HEADERS.originalPartition]: String(info.originalPartition),
    [DEAD_LETTER_HEADERS.originalOffset]: info.originalOffset,
    [DEAD_LETTER_HEADERS.firstFailedAt]: info.firstFailedAt.toISOString(),
  };
  if (info.customerId !== undefined) {
    headers[DEAD_LETTER_HEADERS.customerId] = info.customerId;
  }
  if (info.destination !== undefined) {
    headers[DEAD_LETTER_HEADERS.destination] = info.destination;
  }
  return headers;
}

/** Reads the dead-letter headers back (string values); throws when a required one is missing. */
export function readDeadLetterHeaders(headers: Record<string, string | undefined>): DeadLetterInfo {
  const required = (name: string): string => {
    const value = headers[name];
    if (value === undefined) {
      throw new Error(`dead-letter message lacks header ${name}`);
    }
    return value;
  };
  return {
    reason: required(DEAD_LETTER_HEADERS.reason),
    message: required(DEAD_LETTER_HEADERS.message),
    attempts: Number(required(DEAD_LETTER_HEADERS.attempts)),
    originalTopic: required(DEAD_LETTER_HEADERS.originalTopic),
    originalPartition: Number(required(DEAD_LETTER_HEADERS.originalPartition)),
    originalOffset: required(DEAD_LETTER_HEADERS.originalOffset),
    firstFailedAt: new Date(required(DEAD_LETTER_HEADERS.firstFailedAt)),
    customerId: headers[DEAD_LETTER_HEADERS.customerId],
    destination: headers[DEAD_LETTER_HEADERS.destination],
  };
}

/**
 * Every failure the pipeline classifies. `retriable` decides between a retry and a dead letter;
 * `reason` is short and stable: it is used as a metric label and a dead-letter header.
 */
export abstract class SyncError extends Error {
  abstract readonly retriable: boolean;
  abstract readonly reason: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The other side is down, slow or rate limiting; try again later (after `retryAfterMs` if known).
 * `pacing` marks a wait the destination asked for (429, a used-up request budget): nothing failed,
 * so it spends no delivery attempt.
 */
export class DestinationUnavailableError extends SyncError {
  readonly retriable = true;
  readonly reason = 'destination_unavailable';
  readonly pacing: boolean;
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown; pacing?: boolean },
  ) {
    super(message, options);
    this.pacing = options?.pacing === true;
  }

  /** A wait for a rate budget or a `Retry-After` on 429: not a failure. */
  static pacing(message: string, retryAfterMs?: number): DestinationUnavailableError {
    return new DestinationUnavailableError(message, retryAfterMs, { pacing: true });
  }
}

/** The other side refused this record for good (validation, 4xx): retrying will not help. */
export class RecordRejectedError extends SyncError {
  readonly retriable = false;
  readonly reason = 'record_rejected';
}

/** What is missing in the source that keeps a record out of a destination (bounded: a metric label). */
export const SOURCE_PROBLEMS = [
  /** A donor or VOMO user without an email, for an email-keyed destination. */
  'contact_without_email',
  /** A gift whose donor has no email (the gift itself is fine). */
  'donor_without_email',
  /** A gift with neither a donor nor an email of its own. */
  'gift_without_email',
] as const;
export type SourceProblem = (typeof SOURCE_PROBLEMS)[number];

/**
 * The destination can never take the record as the source has it (CRM+ keys contacts by
 * email, and this donor has none). Not a pipeline failure and nothing a person decides in the
 * pipeline: the submitter holds it (outcome `needs_source_fix`) instead of dead-lettering it,
 * and delivers it on its own once the source is fixed. `waitingFor` (`<resource>:<id>`, e.g.
 * `donor:48213`) names the record whose fix releases it: the record itself, or a gift's donor.
 */
export class NeedsSourceFixError extends SyncError {
  readonly retriable = false;
  readonly reason = 'needs_source_fix';
  constructor(
    message: string,
    readonly problem: SourceProblem,
    readonly waitingFor: string,
  ) {
    super(message);
  }
}

/** A Kafka message that is not Confluent-framed Avro we can read: it goes to the dead-letter topic. */
export class UndecodableMessageError extends SyncError {
  readonly retriable = false;
  readonly reason = 'undecodable';
}

/** Anything unclassified is retried a bounded number of times, so a bug ends in the dead-letter topic. */
export class UnexpectedError extends SyncError {
  readonly retriable = true;
  readonly reason = 'unexpected';
}

/** The schema registry did not answer (network, 5xx): the message is fine, try again later. */
export class RegistryUnavailableError extends SyncError {
  readonly retriable = true;
  readonly reason = 'registry_unavailable';
}

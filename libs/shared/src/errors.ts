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

/**
 * The destination refused the record because data of ANOTHER record is missing (a CRM+ gift
 * without its donor's email). Not retriable as it is, but not the record's own fault either:
 * `waitingFor` (`<resource>:<id>`, e.g. `donor:48213`) names the record whose change makes it
 * deliverable, and the submitter re-drives the dead letter on its own when that record changes.
 */
export class MissingRelatedDataError extends SyncError {
  readonly retriable = false;
  readonly reason = 'missing_related_data';
  constructor(
    message: string,
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

import { SyncError } from '@raise-sync/shared';

/** Which source API a client speaks to; also the rate-budget key next to the customer. */
export type SourceApi = 'raise' | 'vomo';

/** What the source said about a rejected request (RFC 7807 ProblemDetails, or Laravel's `{message, errors}`). */
export interface SourceProblem {
  title?: string;
  detail?: string;
  /** Field errors as the source sent them (`{ field: [messages] }`). */
  errors?: Record<string, unknown>;
}

/**
 * The source is down, slow or rate limiting past our bounded retries (timeouts, network errors,
 * 5xx, repeated 429). Try again later, after `retryAfterMs` when the source named a time.
 */
export class SourceUnavailableError extends SyncError {
  readonly retriable = true;
  readonly reason = 'source_unavailable';
  /** Not a failure of the source: our own time or rate budget for it ran out first. */
  readonly pacing: boolean;
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown; pacing?: boolean },
  ) {
    super(message, options);
    this.pacing = options?.pacing === true;
  }
}

/**
 * 401/403: the customer's token is missing, expired, revoked or lacks rights. Never retried;
 * the caller marks the credential as failing until the customer provides a new one.
 */
export class SourceAuthError extends SyncError {
  readonly retriable = false;
  readonly reason = 'source_auth';
  constructor(
    message: string,
    readonly customerId: string,
    readonly api: SourceApi,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Any other 4xx: the source refused this request for good (bad filter, validation failure). */
export class SourceRequestError extends SyncError {
  readonly retriable = false;
  readonly reason = 'source_rejected';
  constructor(
    message: string,
    readonly status: number,
    readonly problem: SourceProblem = {},
  ) {
    super(message);
  }
}

/**
 * The source answered successfully but not in a shape our paging relies on (no `items` array,
 * pages out of the requested order, a next link to another host, a cursor that does not advance).
 * Retrying the same request would give the same answer, so it is not retriable.
 */
export class SourceContractError extends SyncError {
  readonly retriable = false;
  readonly reason = 'source_contract';
}

/** A record from the source lacks what the pipeline needs (its id, a parsable modified time). */
export class MalformedSourceRecordError extends SyncError {
  readonly retriable = false;
  readonly reason = 'malformed_record';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

import {
  MalformedSourceRecordError,
  SourceAuthError,
  SourceContractError,
  SourceRequestError,
  SourceUnavailableError,
} from '@raise-sync/sources';

/**
 * What to do after a failed planning or range attempt:
 * - `fail-run`: retrying cannot help (token refused, the source rejects or misanswers the query);
 *   the run ends as failed with a message saying what to fix, instead of spinning.
 * - `retry`: the source is down or rate limiting, Kafka or PostgreSQL hiccuped; the lease is
 *   given back and the work is claimable again after `backoffMs`.
 */
export type FailureAction =
  | { action: 'fail-run'; reason: string; message: string }
  | { action: 'retry'; reason: string; message: string; backoffMs: number };

const MAX_BACKOFF_MS = 5 * 60_000;

/** Exponential backoff from 5 s, capped at 5 min; a source's Retry-After wins when it is longer. */
export function backoffMs(consecutiveFailures: number, retryAfterMs?: number): number {
  const exponential = Math.min(MAX_BACKOFF_MS, 5000 * 2 ** Math.max(0, consecutiveFailures - 1));
  return Math.max(exponential, Math.min(MAX_BACKOFF_MS, retryAfterMs ?? 0));
}

export function classifyFailure(
  error: unknown,
  source: string,
  consecutiveFailures: number,
): FailureAction {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof SourceAuthError) {
    return {
      action: 'fail-run',
      reason: 'source_auth',
      message: `${source} refused the customer's API token (HTTP ${error.status}); store a valid token through ingest's admin API, then start a new backfill`,
    };
  }
  if (
    error instanceof SourceRequestError ||
    error instanceof SourceContractError ||
    error instanceof MalformedSourceRecordError
  ) {
    return {
      action: 'fail-run',
      reason: error.reason,
      message: `${source} cannot be backfilled this way: ${message}`,
    };
  }
  if (error instanceof MissingTokenError) {
    return { action: 'fail-run', reason: 'no_token', message };
  }
  if (error instanceof SourceUnavailableError) {
    return {
      action: 'retry',
      reason: error.reason,
      message,
      backoffMs: backoffMs(consecutiveFailures, error.retryAfterMs),
    };
  }
  return {
    action: 'retry',
    reason: 'unexpected',
    message,
    backoffMs: backoffMs(consecutiveFailures),
  };
}

/** The customer has no token for the source (offboarded, or never given one). */
export class MissingTokenError extends Error {
  constructor(customerId: string, source: string) {
    super(
      `customer ${customerId} has no ${source} API token; store one through ingest's admin API`,
    );
    this.name = 'MissingTokenError';
  }
}

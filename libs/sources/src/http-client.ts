import { setTimeout as delay } from 'node:timers/promises';
import { networkErrorCode, parseRetryAfterMs } from '@raise-sync/shared';
import { urlSecrets } from '@raise-sync/shared/observability';
import type { RateBudgets } from './rate-budget';
import {
  SourceAuthError,
  SourceRequestError,
  SourceUnavailableError,
  type SourceApi,
  type SourceProblem,
} from './source-errors';

export type SourceHttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One logical request; the client may send it several times. */
export interface SourceRequest {
  customerId: string;
  api: SourceApi;
  /** The customer's bearer token. Never logged, never part of an error message. */
  token: string;
  method: SourceHttpMethod;
  /** Absolute URL. */
  url: string;
  /** Low-cardinality name for metrics, e.g. `/api/Gift/{id}`: never the URL with IDs in it. */
  route: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Statuses handed back to the caller instead of thrown (e.g. 404 for a lookup). */
  acceptStatuses?: readonly number[];
  /**
   * Whether sending the request twice is harmless. Non-idempotent requests are retried only when
   * they certainly did not reach the source (429, connection refused), never after a timeout or
   * 5xx. Default: true for every method but POST.
   */
  idempotent?: boolean;
  signal?: AbortSignal;
}

export interface SourceResponse {
  status: number;
  /** Parsed JSON, or undefined for an empty body. */
  body: unknown;
  headers: Headers;
}

export type SourceRequestOutcome =
  | 'ok'
  | 'rate_limited'
  | 'auth_failed'
  | 'rejected'
  | 'server_error'
  | 'timeout'
  | 'network_error'
  | 'invalid_body';

export interface SourceRequestInfo {
  customerId: string;
  api: SourceApi;
  method: SourceHttpMethod;
  route: string;
  /** HTTP status, 0 when no response arrived (timeout, network error). */
  status: number;
  outcome: SourceRequestOutcome;
  durationMs: number;
  /** 1 for the first send of a logical request. */
  attempt: number;
}

/** Metric hooks, so the app can count with prom-client without this file importing it. */
export interface SourceHttpObserver {
  onRequest?(info: SourceRequestInfo): void;
  onRateLimited?(info: { customerId: string; api: SourceApi; retryAfterMs: number }): void;
  onAuthFailure?(info: { customerId: string; api: SourceApi; status: number }): void;
}

export interface SourceHttpClientOptions {
  budgets: RateBudgets;
  /** Per attempt, including reading the body. Default 15 s. */
  timeoutMs?: number;
  /** Retries after timeouts, network errors and 5xx. Default 4. */
  maxRetries?: number;
  /** Retries after 429, not counted as errors. Default 8. */
  maxRateLimitRetries?: number;
  /** Exponential backoff with jitter: base * 2^(n-1), capped; a delay is in [half, full]. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** Pause after a 429 without a usable Retry-After. Default 5 s. */
  defaultRetryAfterMs?: number;
  /**
   * A longer Retry-After is not waited out inside the request: the customer's budget is paused
   * and SourceUnavailableError carries retryAfterMs for the caller to reschedule. Default 60 s.
   */
  maxRetryAfterWaitMs?: number;
  observer?: SourceHttpObserver;
  userAgent?: string;
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

type AttemptResult =
  | { kind: 'done'; response: SourceResponse }
  | { kind: 'rate_limited'; retryAfterMs: number }
  | {
      kind: 'retry';
      description: string;
      /** The request certainly did not reach the source (safe to resend even if not idempotent). */
      notSent: boolean;
      retryAfterMs?: number;
      cause?: unknown;
    };

/** Connection errors raised before any byte of the request could have been processed. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);
/** Re-exported: callers and tests import it from here. */
export { parseRetryAfterMs };

const MAX_DETAIL_CHARS = 500;

const asRecord = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;

/**
 * HTTP for the source APIs: one logical request with the customer's rate budget taken before
 * every attempt, a timeout per attempt, Retry-After honoured on 429, bounded jittered retries on
 * timeouts, network errors and 5xx, and errors classified as SyncErrors:
 * SourceUnavailableError (retriable), SourceAuthError and SourceRequestError (not).
 */
export class SourceHttpClient {
  private readonly budgets: RateBudgets;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly maxRateLimitRetries: number;
  private readonly backoffBaseMs: number;
  private readonly backoffCapMs: number;
  private readonly defaultRetryAfterMs: number;
  private readonly maxRetryAfterWaitMs: number;
  private readonly observer: SourceHttpObserver;
  private readonly userAgent?: string;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;

  constructor(options: SourceHttpClientOptions) {
    this.budgets = options.budgets;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.maxRetries = options.maxRetries ?? 4;
    this.maxRateLimitRetries = options.maxRateLimitRetries ?? 8;
    this.backoffBaseMs = options.backoffBaseMs ?? 250;
    this.backoffCapMs = options.backoffCapMs ?? 10_000;
    this.defaultRetryAfterMs = options.defaultRetryAfterMs ?? 5_000;
    this.maxRetryAfterWaitMs = options.maxRetryAfterWaitMs ?? 60_000;
    this.observer = options.observer ?? {};
    this.userAgent = options.userAgent;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms, signal) => delay(ms, undefined, signal ? { signal } : {}));
    this.random = options.random ?? Math.random;
  }

  async request(req: SourceRequest): Promise<SourceResponse> {
    const idempotent = req.idempotent ?? req.method !== 'POST';
    const what = `${req.method} ${req.route} (${req.api}, customer ${req.customerId})`;
    let failures = 0;
    let rateLimited = 0;
    for (let attempt = 1; ; attempt += 1) {
      await this.budgets.acquire(req.customerId, req.api, req.signal);
      const result = await this.attempt(req, attempt, what);
      if (result.kind === 'done') {
        return result.response;
      }
      if (result.kind === 'rate_limited') {
        rateLimited += 1;
        const { retryAfterMs } = result;
        this.budgets.pauseUntil(req.customerId, req.api, this.now() + retryAfterMs);
        this.observer.onRateLimited?.({ customerId: req.customerId, api: req.api, retryAfterMs });
        if (rateLimited > this.maxRateLimitRetries) {
          throw new SourceUnavailableError(
            `${what} still rate limited after ${this.maxRateLimitRetries} retries`,
            retryAfterMs,
          );
        }
        if (retryAfterMs > this.maxRetryAfterWaitMs) {
          throw new SourceUnavailableError(
            `${what} rate limited for ${retryAfterMs} ms, longer than this client waits`,
            retryAfterMs,
          );
        }
        continue;
      }
      failures += 1;
      if (!idempotent && !result.notSent) {
        throw new SourceUnavailableError(
          `${what} failed (${result.description}); not retried because it may have been applied`,
          result.retryAfterMs,
          { cause: result.cause },
        );
      }
      if (failures > this.maxRetries) {
        throw new SourceUnavailableError(
          `${what} failed after ${attempt} attempts, last: ${result.description}`,
          result.retryAfterMs,
          { cause: result.cause },
        );
      }
      const backoffMs = this.backoffMs(failures);
      const waitMs =
        result.retryAfterMs === undefined
          ? backoffMs
          : Math.min(Math.max(backoffMs, result.retryAfterMs), this.maxRetryAfterWaitMs);
      await this.sleep(waitMs, req.signal);
    }
  }

  /** Delay before retry number `failures` (1-based): equal jitter over a capped exponential. */
  backoffMs(failures: number): number {
    const ceiling = Math.min(this.backoffCapMs, this.backoffBaseMs * 2 ** (failures - 1));
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  private async attempt(req: SourceRequest, attempt: number, what: string): Promise<AttemptResult> {
    const startedMs = this.now();
    const report = (status: number, outcome: SourceRequestOutcome): void =>
      this.observer.onRequest?.({
        customerId: req.customerId,
        api: req.api,
        method: req.method,
        route: req.route,
        status,
        outcome,
        durationMs: this.now() - startedMs,
        attempt,
      });

    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout.signal]) : timeout.signal;
    const headers: Record<string, string> = {
      authorization: `Bearer ${req.token}`,
      accept: 'application/json',
    };
    if (req.body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    if (this.userAgent) {
      headers['user-agent'] = this.userAgent;
    }

    let status = 0;
    let text: string;
    let responseHeaders: Headers;
    try {
      const response = await this.fetch(req.url, {
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal,
        // A redirect would carry the bearer token elsewhere: treat it as an error instead.
        redirect: 'manual',
      });
      status = response.status;
      responseHeaders = response.headers;
      text = await response.text();
    } catch (error) {
      if (req.signal?.aborted) {
        throw req.signal.reason;
      }
      if (timeout.signal.aborted) {
        report(status, 'timeout');
        return {
          kind: 'retry',
          description: `timed out after ${this.timeoutMs} ms`,
          notSent: false,
          cause: error,
        };
      }
      report(status, 'network_error');
      const code = networkErrorCode(error);
      return {
        kind: 'retry',
        description: `network error${code ? ` ${code}` : ''}`,
        notSent: code !== undefined && NOT_SENT_CODES.has(code),
        cause: error,
      };
    } finally {
      clearTimeout(timer);
    }

    const accepted = (status >= 200 && status < 300) || req.acceptStatuses?.includes(status);
    if (accepted) {
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch (error) {
        if (status >= 200 && status < 300) {
          report(status, 'invalid_body');
          return {
            kind: 'retry',
            description: `HTTP ${status} with a body that is not JSON`,
            notSent: false,
            cause: error,
          };
        }
      }
      report(status, 'ok');
      return { kind: 'done', response: { status, body, headers: responseHeaders } };
    }

    const retryAfterMs = parseRetryAfterMs(responseHeaders.get('retry-after'), this.now());
    if (status === 429) {
      report(status, 'rate_limited');
      return { kind: 'rate_limited', retryAfterMs: retryAfterMs ?? this.defaultRetryAfterMs };
    }
    if (status >= 500 || status === 408) {
      report(status, 'server_error');
      return { kind: 'retry', description: `HTTP ${status}`, notSent: false, retryAfterMs };
    }
    if (status === 401 || status === 403) {
      report(status, 'auth_failed');
      this.observer.onAuthFailure?.({ customerId: req.customerId, api: req.api, status });
      throw new SourceAuthError(
        `${what} refused the customer's credentials (HTTP ${status})`,
        req.customerId,
        req.api,
        status,
      );
    }
    report(status, 'rejected');
    // The source's own words may quote the request URL: its query values are scrubbed too.
    const problem = problemFrom(text, [req.token, ...urlSecrets(req.url)]);
    const summary = [problem.title, problem.detail].filter(Boolean).join(': ');
    throw new SourceRequestError(
      status >= 300 && status < 400
        ? `${what} answered with an unexpected redirect (HTTP ${status})`
        : `${what} rejected with HTTP ${status}${summary ? `: ${summary}` : ''}`,
      status,
      problem,
    );
  }
}

/** ProblemDetails `{title, detail, errors}` or Laravel `{message, errors}`, with secrets scrubbed. */
function problemFrom(text: string, secrets: readonly string[]): SourceProblem {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text.trim() === '' ? {} : { detail: scrub(text, secrets) };
  }
  const record = asRecord(parsed);
  if (!record) {
    return {};
  }
  const pick = (value: unknown): string | undefined =>
    typeof value === 'string' && value !== '' ? scrub(value, secrets) : undefined;
  const problem: SourceProblem = {};
  const title = pick(record.title) ?? pick(record.message);
  const detail = pick(record.detail);
  const errors = asRecord(record.errors);
  if (title !== undefined) {
    problem.title = title;
  }
  if (detail !== undefined) {
    problem.detail = detail;
  }
  if (errors) {
    problem.errors = scrubDeep(errors, secrets) as Record<string, unknown>;
  }
  return problem;
}

function scrub(text: string, secrets: readonly string[], truncate = true): string {
  let cleaned = text;
  for (const secret of secrets) {
    if (secret.length >= 4) {
      cleaned = cleaned.split(secret).join('[redacted]');
    }
  }
  return truncate && cleaned.length > MAX_DETAIL_CHARS
    ? `${cleaned.slice(0, MAX_DETAIL_CHARS)}…`
    : cleaned;
}

/** Every string (keys too) of a parsed JSON value, scrubbed without truncation. */
function scrubDeep(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') {
    return scrub(value, secrets, false);
  }
  if (Array.isArray(value)) {
    return value.map((item) => scrubDeep(item, secrets));
  }
  const record = asRecord(value);
  return record
    ? Object.fromEntries(
        Object.entries(record).map(([key, item]) => [
          scrub(key, secrets, false),
          scrubDeep(item, secrets),
        ]),
      )
    : value;
}

/** Credentials of one customer at one source API. */
export interface SourceCredentials {
  customerId: string;
  token: string;
}

export interface SourceSendOptions {
  body?: unknown;
  acceptStatuses?: number[];
  idempotent?: boolean;
  signal?: AbortSignal;
}

/** One request to a source API on behalf of a customer: `send(creds, method, path, route, options)`. */
export type SourceSend = (
  creds: SourceCredentials,
  method: SourceHttpMethod,
  path: string,
  route: string,
  options?: SourceSendOptions,
) => Promise<SourceResponse>;

/** Binds the HTTP client to one API and base URL (what RaiseClient and VomoClient send through). */
export function sourceSender(http: SourceHttpClient, api: SourceApi, baseUrl: string): SourceSend {
  const base = baseUrl.replace(/\/+$/, '');
  return (creds, method, path, route, options = {}) =>
    http.request({
      customerId: creds.customerId,
      api,
      token: creds.token,
      method,
      url: `${base}${path}`,
      route,
      ...options,
    });
}

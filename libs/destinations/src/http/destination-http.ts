import {
  DestinationUnavailableError,
  networkErrorCode,
  parseRetryAfterMs,
  RecordRejectedError,
} from '@raise-sync/shared';
import { urlSecrets } from '@raise-sync/shared/observability';

/** Re-exported: the adapters and tests import it from here. */
export { parseRetryAfterMs };

export type DestinationHttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface DestinationHttpOptions {
  /** Per attempt, including reading the body. Default 10 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  userAgent?: string;
}

/** One request, sent exactly once: retries belong to the submitter (retry topics). */
export interface DestinationRequest {
  /** Human name of the destination for messages, e.g. 'CRM+'. */
  destination: string;
  method: DestinationHttpMethod;
  /** Absolute URL. */
  url: string;
  /** Low-cardinality name for messages, e.g. `POST /invoices`: never a URL with IDs or emails. */
  route: string;
  /** Sent as `Authorization: Bearer …` when set. Never part of a message. */
  token?: string;
  /** Further secret strings to scrub from any destination text quoted in a message. */
  secrets?: readonly string[];
  headers?: Readonly<Record<string, string>>;
  /** Serialised as JSON unless `rawBody` is given. */
  body?: unknown;
  /** Exact bytes to send (e.g. a signed body); wins over `body`. */
  rawBody?: string;
  /** Non-2xx statuses handed back instead of thrown (e.g. 404 for a lookup). */
  acceptStatuses?: readonly number[];
  /** Sees the status and headers of every response that arrived, before classification. */
  observe?: (status: number, headers: Headers) => void;
}

export interface DestinationResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or undefined for an empty or non-JSON body. */
  body: unknown;
}

const MAX_DETAIL_CHARS = 500;

const asRecord = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;

function describeDetails(details: unknown): string | undefined {
  if (!Array.isArray(details)) {
    return undefined;
  }
  const parts = details
    .map(asRecord)
    .filter((d): d is Record<string, unknown> => d !== undefined)
    .map((d) =>
      [str(d.field), [str(d.code), str(d.message)].filter(Boolean).join(' ')]
        .filter(Boolean)
        .join(': '),
    )
    .filter((part) => part !== '');
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/**
 * The destination's own words about an error, from the shapes our destinations use:
 * CRM+ `{error:{code,message,details[]}}`, accounting `{error:'…',details[]}`, Mailchimp-like
 * `{title,detail}`, Laravel `{message,errors}`, or plain text.
 */
export function describeErrorBody(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return str(text);
  }
  const record = asRecord(parsed);
  if (!record) {
    return str(text);
  }
  const error = asRecord(record.error);
  const parts: Array<string | undefined> = [];
  if (error) {
    parts.push(str(error.code), str(error.message), describeDetails(error.details));
  } else {
    parts.push(
      str(record.error),
      str(record.title),
      str(record.detail),
      str(record.message),
      describeDetails(record.details),
    );
    const errors = asRecord(record.errors);
    if (errors) {
      parts.push(JSON.stringify(errors));
    }
  }
  const summary = parts.filter((p): p is string => p !== undefined).join(': ');
  return summary === '' ? undefined : summary;
}

function scrub(text: string, secrets: readonly string[]): string {
  let cleaned = text;
  for (const secret of secrets) {
    if (secret.length >= 4) {
      cleaned = cleaned.split(secret).join('[redacted]');
    }
  }
  return cleaned.length > MAX_DETAIL_CHARS ? `${cleaned.slice(0, MAX_DETAIL_CHARS)}…` : cleaned;
}

/**
 * HTTP for destination adapters: one attempt with a timeout, errors classified as SyncErrors.
 * 5xx, 408, timeouts and network errors → DestinationUnavailableError; 429 → the same with
 * `retryAfterMs`; 401/403 → DestinationUnavailableError ("credentials rejected": not the
 * record's fault); other 4xx → RecordRejectedError quoting the destination's detail. Tokens and
 * secrets never appear in a message.
 */
export class DestinationHttp {
  readonly timeoutMs: number;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly userAgent: string;

  constructor(options: DestinationHttpOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.now = options.now ?? Date.now;
    this.userAgent = options.userAgent ?? 'raise-sync';
  }

  async request(req: DestinationRequest): Promise<DestinationResponse> {
    const what = `${req.destination} ${req.route}`;
    // A destination's error text may quote the request URL (a partner webhook URL can carry an
    // API key in its query): the URL's query values and password are scrubbed like the token.
    const secrets = [
      ...(req.token ? [req.token] : []),
      ...(req.secrets ?? []),
      ...urlSecrets(req.url),
    ];
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': this.userAgent,
      ...req.headers,
    };
    if (req.token) {
      headers.authorization = `Bearer ${req.token}`;
    }
    const payload = req.rawBody ?? (req.body === undefined ? undefined : JSON.stringify(req.body));
    if (payload !== undefined) {
      headers['content-type'] ??= 'application/json';
    }

    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.timeoutMs);
    let status: number;
    let responseHeaders: Headers;
    let text: string;
    try {
      const response = await this.fetch(req.url, {
        method: req.method,
        headers,
        body: payload,
        signal: timeout.signal,
        // A redirect would carry the bearer token elsewhere: treat it as an error instead.
        redirect: 'manual',
      });
      status = response.status;
      responseHeaders = response.headers;
      text = await response.text();
    } catch (error) {
      if (timeout.signal.aborted) {
        throw new DestinationUnavailableError(
          `${what} timed out after ${this.timeoutMs} ms`,
          undefined,
          {
            cause: error,
          },
        );
      }
      const code = networkErrorCode(error);
      throw new DestinationUnavailableError(
        `${what} failed: network error${code ? ` ${code}` : ''}`,
        undefined,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
    req.observe?.(status, responseHeaders);

    if ((status >= 200 && status < 300) || req.acceptStatuses?.includes(status)) {
      let body: unknown;
      if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
      }
      return { status, headers: responseHeaders, body };
    }

    const detail = describeErrorBody(text);
    const quoted = detail === undefined ? '' : `: ${scrub(detail, secrets)}`;
    const retryAfterMs = parseRetryAfterMs(responseHeaders.get('retry-after'), this.now());
    if (status === 429) {
      throw DestinationUnavailableError.pacing(
        `${what} rate limited (HTTP 429)${retryAfterMs === undefined ? '' : `, retry after ${retryAfterMs} ms`}`,
        retryAfterMs,
      );
    }
    if (status >= 500 || status === 408) {
      throw new DestinationUnavailableError(
        `${what} answered HTTP ${status}${quoted}`,
        retryAfterMs,
      );
    }
    if (status === 401 || status === 403) {
      throw new DestinationUnavailableError(
        `${what} credentials rejected (HTTP ${status}); check the destination's API token`,
      );
    }
    if (status >= 300 && status < 400) {
      throw new DestinationUnavailableError(
        `${what} answered with a redirect (HTTP ${status}); check the destination's base URL`,
      );
    }
    throw new RecordRejectedError(`${what} rejected the record (HTTP ${status})${quoted}`);
  }
}

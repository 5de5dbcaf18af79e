import type { IncomingMessage, ServerResponse } from 'node:http';

/** A response to send instead of the normal one. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
    readonly contentType = 'application/json; charset=utf-8',
  ) {
    super(`HTTP ${status}`);
  }
}

const MAX_BODY = 16 * 1024 * 1024;

export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY) {
      throw new HttpError(413, { message: 'Payload too large' });
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Parses a JSON body (empty -> undefined). Form-encoded bodies are accepted too, as flat
 * string maps, since Laravel clients often send them. `invalid` builds the error body.
 */
export function parseBody(
  raw: Buffer,
  contentType: string | undefined,
  invalid: (message: string) => HttpError,
): unknown {
  if (raw.length === 0) {
    return undefined;
  }
  const text = raw.toString('utf8');
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid('The request body is not valid JSON.');
  }
}

export function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType = 'application/json; charset=utf-8',
): void {
  if (response.headersSent) {
    return;
  }
  if (body === undefined || status === 204) {
    response.writeHead(status, headers);
    response.end();
    return;
  }
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(payload)),
    ...headers,
  });
  response.end(payload);
}

/** `Authorization: Bearer <token>` -> token, else undefined. */
export function bearerToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (!header) {
    return undefined;
  }
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match ? match[1]!.trim() : undefined;
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

const PROBLEM_TYPES: Record<number, string> = {
  400: 'https://tools.ietf.org/html/rfc9110#section-15.5.1',
  401: 'https://tools.ietf.org/html/rfc9110#section-15.5.2',
  404: 'https://tools.ietf.org/html/rfc9110#section-15.5.5',
  409: 'https://tools.ietf.org/html/rfc9110#section-15.5.10',
  413: 'https://tools.ietf.org/html/rfc9110#section-15.5.14',
  429: 'https://tools.ietf.org/html/rfc6585#section-4',
  500: 'https://tools.ietf.org/html/rfc9110#section-15.6.1',
  503: 'https://tools.ietf.org/html/rfc9110#section-15.6.4',
};

const TITLES: Record<number, string> = {
  400: 'One or more validation errors occurred.',
  401: 'Unauthorized',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'An error occurred while processing your request.',
  503: 'Service Unavailable',
};

export const PROBLEM_JSON = 'application/problem+json; charset=utf-8';

/** An RFC 7807 ProblemDetails error, the shape Raise uses. */
export function problem(
  status: number,
  detail: string,
  errors?: Record<string, string[]>,
  headers: Record<string, string> = {},
): HttpError {
  const body: Record<string, unknown> = {
    type: PROBLEM_TYPES[status] ?? 'about:blank',
    title: TITLES[status] ?? 'Error',
    status,
    detail,
  };
  if (errors) {
    body.errors = errors;
  }
  return new HttpError(status, body, headers, PROBLEM_JSON);
}

/** Matches `path` against route patterns; returns the route and its captured groups. */
export interface Route<C> {
  method: string;
  pattern: RegExp;
  /** Template for stats, e.g. `POST /api/Gift/query`. */
  template: string;
  handler: (context: C, params: string[]) => Promise<RouteResult> | RouteResult;
}

export interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export function matchRoute<C>(
  routes: Array<Route<C>>,
  method: string,
  path: string,
): { route: Route<C>; params: string[]; template: string } | undefined {
  for (const route of routes) {
    if (route.method !== method) {
      continue;
    }
    const match = route.pattern.exec(path);
    if (match) {
      return { route, params: match.slice(1), template: route.template };
    }
  }
  return undefined;
}

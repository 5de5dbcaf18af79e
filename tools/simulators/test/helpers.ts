import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  json: unknown;
  at: number;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

/** What the receiver answers: a status (and optional headers), decided per request. */
export type Responder = (
  request: ReceivedRequest,
  index: number,
) => number | { status: number; headers?: Record<string, string>; delayMs?: number };

/** A local webhook receiver recording every request it gets. */
export async function startReceiver(respond: Responder = () => 200): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        json = undefined;
      }
      const received: ReceivedRequest = {
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        raw,
        json,
        at: Date.now(),
      };
      const index = requests.push(received) - 1;
      const answer = respond(received, index);
      const { status, headers, delayMs } =
        typeof answer === 'number' ? { status: answer, headers: {}, delayMs: 0 } : answer;
      setTimeout(() => {
        response.writeHead(status, headers ?? {});
        response.end(status >= 200 && status < 300 ? 'ok' : 'nope');
      }, delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * fetch with a bearer token and JSON body (or a `raw` string body); returns status, headers and
 * the parsed body (the text itself when it is not JSON).
 */
export async function call<T = Record<string, unknown>>(
  url: string,
  options: {
    method?: string;
    token?: string;
    body?: unknown;
    raw?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; headers: Headers; body: T }> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) {
    headers.authorization = `Bearer ${options.token}`;
  }
  const payload =
    options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(url, {
    method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
    headers: { ...headers, ...options.headers },
    body: payload,
  });
  const text = await response.text();
  let body: unknown = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

/** Polls `check` until it returns true or the time runs out. */
export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

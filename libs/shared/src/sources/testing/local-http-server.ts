import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP server on 127.0.0.1:0 for the source clients' unit tests: the far side of the
 * wire, answering from a handler and recording every request. Test support only.
 */
export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. `/api/Gift/query` or `/users?page=2`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or undefined. */
  body: unknown;
  receivedAtMs: number;
}

export interface Reply {
  status?: number;
  body?: unknown;
  /** Sent as is instead of JSON. */
  rawBody?: string;
  headers?: Record<string, string>;
  /** Answer after this long (the client may give up first). */
  delayMs?: number;
}

export type Handler = (request: RecordedRequest) => Reply | Promise<Reply>;

export interface LocalServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startLocalServer(handler: Handler): Promise<LocalServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        body: text === '' ? undefined : (JSON.parse(text) as unknown),
        receivedAtMs: Date.now(),
      };
      requests.push(recorded);
      void Promise.resolve(handler(recorded)).then((reply) => {
        const send = (): void => {
          if (res.destroyed) {
            return;
          }
          const payload =
            reply.rawBody ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
          res.writeHead(reply.status ?? 200, {
            ...(payload !== '' && reply.rawBody === undefined
              ? { 'content-type': 'application/json' }
              : {}),
            ...reply.headers,
          });
          res.end(payload);
        };
        if (reply.delayMs) {
          const timer = setTimeout(send, reply.delayMs);
          res.on('close', () => clearTimeout(timer));
        } else {
          send();
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

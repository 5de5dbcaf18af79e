import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  newSourceEvent,
  type RecordByResource,
  type Resource,
  type SourceEvent,
} from '@raise-sync/shared/events';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import type { DestinationKind } from '@raise-sync/shared/state';
import type { DestinationContext } from '../src/port';

export const CUSTOMER_ID = '6f1c1c1e-8d7e-4b8e-9a51-0f3f4c2a9b10';
export const OTHER_CUSTOMER_ID = '0b6a5b2e-55f3-4a5e-8f7e-2b7e0e4d6c21';
export const DESTINATION_ID = '9a0e4f1d-2c3b-4a59-8e6f-7d8c9b0a1e2f';

export function contextFor(
  kind: DestinationKind,
  config: Record<string, unknown>,
  secrets: Record<string, string> = { token: 'tok-secret-value-123' },
  overrides: Partial<DestinationContext> = {},
): DestinationContext {
  return {
    customerId: CUSTOMER_ID,
    destinationId: DESTINATION_ID,
    name: kind,
    kind,
    config,
    secrets,
    ...overrides,
  };
}

const SOURCE_OF: Record<Resource, 'raise' | 'vomo'> = {
  donor: 'raise',
  gift: 'raise',
  recurring_gift: 'raise',
  campaign: 'raise',
  user: 'vomo',
};

/** An upsert event carrying SAMPLE_RECORDS[resource] with `changes` applied. */
export function upsertEvent<R extends Resource>(
  resource: R,
  changes: Partial<RecordByResource[R]> = {},
  options: { modifiedAt?: Date; customerId?: string } = {},
): SourceEvent<R> {
  const record: RecordByResource[R] = { ...SAMPLE_RECORDS[resource], ...changes };
  const sourceModifiedAt = options.modifiedAt ?? new Date('2026-11-20T10:00:00.000Z');
  return newSourceEvent<R>({
    customerId: options.customerId ?? CUSTOMER_ID,
    source: SOURCE_OF[resource],
    resource,
    operation: 'upsert',
    origin: 'webhook',
    recordId: record.id,
    sourceModifiedAt,
    record,
  } as never);
}

export function deleteEvent<R extends Resource>(
  resource: R,
  recordId: string,
  options: { modifiedAt?: Date; customerId?: string } = {},
): SourceEvent<R> {
  return newSourceEvent<R>({
    customerId: options.customerId ?? CUSTOMER_ID,
    source: SOURCE_OF[resource],
    resource,
    operation: 'delete',
    origin: 'webhook',
    recordId,
    sourceModifiedAt: options.modifiedAt ?? new Date('2026-11-21T10:00:00.000Z'),
    record: null,
  } as never);
}

export interface RecordedRequest {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  json(): unknown;
}

export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON, strings as they are. */
  body?: unknown;
  /** Wait this long before answering (timeouts). */
  delayMs?: number;
}

export type Responder = (request: RecordedRequest) => FakeResponse | Promise<FakeResponse>;

export interface FakeDestination {
  url: string;
  requests: RecordedRequest[];
  respond(responder: Responder): void;
  close(): Promise<void>;
}

/** A tiny HTTP destination on a free port that records every request. */
export async function startFakeDestination(
  responder: Responder = () => ({ status: 200, body: {} }),
): Promise<FakeDestination> {
  let current = responder;
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        json: () => JSON.parse(body) as unknown,
      };
      requests.push(recorded);
      void Promise.resolve(current(recorded)).then(async (answer) => {
        if (answer.delayMs) {
          await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
        }
        if (res.destroyed) {
          return;
        }
        const text =
          answer.body === undefined
            ? ''
            : typeof answer.body === 'string'
              ? answer.body
              : JSON.stringify(answer.body);
        res.writeHead(answer.status, {
          ...(typeof answer.body === 'object' ? { 'content-type': 'application/json' } : {}),
          ...answer.headers,
        });
        res.end(text);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    respond(next) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

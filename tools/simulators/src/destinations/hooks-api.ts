import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError, type Route, type RouteResult } from '../http/util';
import { AccountBase, isObject, isoNow, text } from './account';
import {
  retryHeaders,
  type DestinationApi,
  type DestinationRequest,
  type DestinationStyle,
} from './gate';
import type { HookDelivery } from './types';

export const HOOK_SIGNATURE_HEADER = 'x-raisesync-signature';
export const HOOK_TIMESTAMP_HEADER = 'x-raisesync-timestamp';

/** `base64(HMAC-SHA256(secret, "<timestamp>.<raw body>"))`, the signature partners verify. */
export function signHook(secret: string, timestamp: string, raw: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(raw).digest('base64');
}

/** A delivery as kept: the raw body, parsed only when inspected (a smaller footprint). */
interface StoredDelivery extends Omit<HookDelivery, 'body'> {
  raw: string;
}

const inflate = ({ raw, ...delivery }: StoredDelivery): HookDelivery => ({
  ...delivery,
  body: JSON.parse(raw) as unknown,
});

/** One partner endpoint: verifies signatures, stores each Idempotency-Key's delivery once. */
export class WebhookAccount extends AccountBase {
  readonly kind = 'webhook' as const;
  private deliveries: StoredDelivery[] = [];
  private duplicates: StoredDelivery[] = [];
  private keys = new Set<string>();
  private seq = 0;

  constructor(
    id: string,
    readonly secret: string,
  ) {
    super(id, null);
  }

  reset(): void {
    this.deliveries = [];
    this.duplicates = [];
    this.keys = new Set();
    this.seq = 0;
  }

  /** Stores the delivery unless its key was seen; returns whether it was a duplicate. */
  receive(delivery: Omit<StoredDelivery, 'seq'>): boolean {
    const stored = { seq: ++this.seq, ...delivery };
    const key = delivery.idempotencyKey;
    if (key !== null && this.keys.has(key)) {
      this.duplicates.push(stored);
      return true;
    }
    if (key !== null) {
      this.keys.add(key);
    }
    this.deliveries.push(stored);
    return false;
  }

  deliveryList(): HookDelivery[] {
    return this.deliveries.map(inflate);
  }

  duplicateList(): HookDelivery[] {
    return this.duplicates.map(inflate);
  }
}

/** A partner's own system: plain `{ "error": "…" }` bodies. */
export const hooksStyle: DestinationStyle = {
  error(status, message, details, headers = {}) {
    return new HttpError(
      status,
      { error: message, ...(details ? { details } : {}) },
      {
        ...retryHeaders(status),
        ...headers,
      },
    );
  },
};

type Request = DestinationRequest<WebhookAccount>;

const header = (request: IncomingMessage, name: string): string | undefined =>
  text(request.headers[name]);

function receive(context: Request): RouteResult {
  let body: unknown;
  try {
    body = JSON.parse(context.raw.toString('utf8'));
  } catch {
    throw hooksStyle.error(400, 'The body must be JSON.');
  }
  const recordId = isObject(body) ? body.recordId : undefined;
  context.rejectIfFaulted([['recordId', recordId]]);
  const duplicate = context.account.receive({
    idempotencyKey: header(context.request, 'idempotency-key') ?? null,
    recordId:
      typeof recordId === 'string' || typeof recordId === 'number' ? String(recordId) : null,
    timestamp: header(context.request, HOOK_TIMESTAMP_HEADER) ?? '',
    receivedAt: isoNow(),
    raw: context.raw.toString('utf8'),
  });
  return { status: 200, body: { received: true, duplicate } };
}

const routes: Array<Route<Request>> = [
  {
    method: 'POST',
    pattern: /^\/([^/]+)\/?$/,
    template: 'POST /hooks/{endpointId}',
    handler: receive,
  },
];

export const hooksApi: DestinationApi<WebhookAccount> = {
  kind: 'webhook',
  routes,
  style: hooksStyle,
  resolve(host, _request, path) {
    const match = /^\/([^/]+)/.exec(path);
    if (!match) {
      return undefined;
    }
    let id: string;
    try {
      id = decodeURIComponent(match[1]!);
    } catch {
      return undefined;
    }
    const account = host.accountWithId(id);
    return account instanceof WebhookAccount ? account : undefined;
  },
  unknownAccount: () => hooksStyle.error(404, 'Unknown webhook endpoint.'),
  verify(account, request, raw) {
    const timestamp = header(request, HOOK_TIMESTAMP_HEADER);
    const signature = header(request, HOOK_SIGNATURE_HEADER);
    if (timestamp === undefined || signature === undefined) {
      throw hooksStyle.error(
        401,
        `Both ${HOOK_TIMESTAMP_HEADER} and ${HOOK_SIGNATURE_HEADER} headers are required.`,
      );
    }
    const expected = Buffer.from(signHook(account.secret, timestamp, raw));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw hooksStyle.error(401, 'The signature does not match the body and timestamp.');
    }
  },
};

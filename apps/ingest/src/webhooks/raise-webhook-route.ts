import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { closeAfterAnswer } from '@raise-sync/shared';
import { WebhookIntake, type WebhookOutcome } from './webhook-intake.service';

const PREFIX = '/webhooks/raise/';

/**
 * The customer ID of a plain `POST /webhooks/raise/<customerId>` (query and one trailing slash
 * ignored, as the Nest route ignores them), or null for anything else. A path that is not plain
 * (other case, escapes, more segments) is left to the Nest route, which answers it as before.
 */
export function raiseWebhookTarget(
  method: string | undefined,
  url: string | undefined,
): string | null {
  if (method !== 'POST' || !url?.startsWith(PREFIX)) {
    return null;
  }
  const query = url.indexOf('?');
  let id = url.slice(PREFIX.length, query === -1 ? undefined : query);
  if (id.endsWith('/')) {
    id = id.slice(0, -1);
  }
  return id === '' || id.includes('/') || id.includes('%') ? null : id;
}

/** Writes a webhook's answer: JSON, Retry-After when set, and the connection closed if unread. */
export function writeWebhookAnswer(
  req: IncomingMessage,
  res: ServerResponse,
  outcome: WebhookOutcome,
): void {
  if (req.destroyed && !req.complete) {
    return; // the client is gone (client_aborted): nobody to answer
  }
  closeAfterAnswer(req, res);
  if (outcome.retryAfterSeconds !== undefined) {
    res.setHeader('Retry-After', String(outcome.retryAfterSeconds));
  }
  const body = JSON.stringify(
    outcome.status < 300
      ? { accepted: true, eventId: outcome.eventId }
      : { error: outcome.reason, message: outcome.message },
  );
  res.writeHead(outcome.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * Mounts Raise's webhook route ahead of the whole HTTP stack: the HTTP server's request listener
 * (Express, then Nest) only sees what this route does not take. At thousands of requests a
 * second the hot path thereby skips Express's request set-up and router, pino-http's per-request
 * logger, guards, pipes and the ETag of a fixed answer. The intake is the same one the Nest
 * route calls (every check, count and log line of WebhookIntake), so only the framework's work
 * per request goes away. Rejections are logged by the intake; accepted webhooks are counted in
 * `raise_sync_webhooks_total`, not logged one by one. Everything else (other sources, CRM+, the
 * admin API, health) goes on to Nest.
 */
export function mountRaiseWebhookRoute(app: INestApplication): void {
  const intake = app.get(WebhookIntake);
  const server = app.getHttpServer() as Server;
  const rest = server.listeners('request') as RequestListener[];
  if (rest.length !== 1) {
    throw new Error(`expected one request listener on the HTTP server, found ${rest.length}`);
  }
  const [framework] = rest as [RequestListener];
  server.removeListener('request', framework);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const customerId = raiseWebhookTarget(req.method, req.url);
    if (customerId === null) {
      framework(req, res);
      return;
    }
    // handle() turns its failures into outcomes (503 at worst); should it still reject, the
    // caller gets the same 503 and never a 500 or no answer.
    void intake
      .handle('raise', customerId, req)
      .catch((): WebhookOutcome => ({
        status: 503,
        reason: 'internal_unavailable',
        message: 'temporarily unable to accept; retry later',
        retryAfterSeconds: 10,
      }))
      .then((outcome) => writeWebhookAnswer(req, res, outcome));
  });
}

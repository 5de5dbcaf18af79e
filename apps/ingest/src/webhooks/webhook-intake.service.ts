import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '@raise-sync/shared/config';
import { newSourceEvent, type SourceEvent } from '@raise-sync/shared/events';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS, PinoLogger } from '@raise-sync/shared/service';
import {
  RAISE_EVENT_TYPES,
  RAISE_MODIFIED_FIELD,
  RAISE_WEBHOOK_HEADERS,
  raiseToRecord,
  verifyRaiseSignature,
} from '@raise-sync/shared/sources';
import { DataSource } from 'typeorm';
import { CustomerDirectory } from '../customers/customer-directory.service';
import { EventPublisher } from '../publish/event-publisher.service';
import { CrossProductArrivals } from './cross-product-arrivals.service';
import { BodyTooLargeError, readRawBody } from './raw-body';

/** What the controller answers; `reason` is also the metric label and the log field. */
export interface WebhookOutcome {
  status: number;
  reason: string;
  message: string;
  retryAfterSeconds?: number;
  eventId?: string;
}

const reject = (status: number, reason: string, message: string): WebhookOutcome => ({
  status,
  reason,
  message,
});

/**
 * Turns one webhook delivery into one Kafka event, in this order: known customer, body within
 * the limit, signature and freshness, JSON and event type, replay check, then the acks=all write;
 * only a successful write is answered 2xx. Every outcome is counted by customer and reason and
 * logged with the customer ID (never the secret, never the body).
 */
@Injectable()
export class WebhookIntake implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly maxBody: number;
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly toleranceSeconds: number;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly customers: CustomerDirectory,
    private readonly publisher: EventPublisher,
    private readonly db: DataSource,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
    private readonly arrivals: CrossProductArrivals,
  ) {
    const ingest = config.get('ingest', { infer: true });
    this.maxBody = ingest.webhookMaxBodyBytes;
    this.toleranceSeconds = ingest.webhookToleranceSeconds;
    this.log.setContext('webhooks');
  }

  /**
   * Replay records are only needed while a signed timestamp is still fresh; older ones are
   * refused as stale anyway, so rows older than twice the tolerance are pruned every minute.
   */
  onApplicationBootstrap(): void {
    this.pruneTimer = setInterval(() => {
      this.db
        .query(
          `DELETE FROM webhook_deliveries WHERE received_at < now() - make_interval(secs => $1)`,
          [this.toleranceSeconds * 2],
        )
        .catch((error: unknown) =>
          this.log.warn({ err: error }, 'pruning webhook deliveries failed'),
        );
    }, 60_000);
    this.pruneTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.pruneTimer);
  }

  async handle(source: string, customerId: string, req: IncomingMessage): Promise<WebhookOutcome> {
    const started = process.hrtime.bigint();
    let label = 'unknown';
    let outcome: WebhookOutcome;
    try {
      const customer = source === 'raise' ? await this.customers.get(customerId) : null;
      if (source !== 'raise') {
        req.resume();
        outcome = reject(404, 'unknown_source', `source '${source}' does not send webhooks`);
      } else if (!customer || customer.status === 'offboarded') {
        req.resume();
        outcome = reject(404, 'unknown_customer', 'unknown customer');
      } else {
        label = customer.id;
        outcome = await this.accept(
          customer.id,
          customer.credentials.raise?.webhookSecret,
          req,
          // Dual-webhook check: only customers with a CRM+ webhook registered need the Raise side.
          Boolean(customer.credentials.crmPlus?.subscriptionId),
        );
      }
    } catch (error) {
      req.resume();
      this.log.error({ customerId: label, err: error }, 'webhook handling failed');
      outcome = {
        ...reject(503, 'internal_unavailable', 'temporarily unable to accept; retry later'),
        retryAfterSeconds: 10,
      };
    }
    const accepted = outcome.status < 300;
    this.metrics.webhooks.inc({
      customer_id: label,
      source,
      outcome: accepted ? 'accepted' : 'rejected',
      reason: outcome.reason,
    });
    this.metrics.webhookAckSeconds.observe(
      { source, outcome: accepted ? 'accepted' : 'rejected' },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
    if (!accepted) {
      this.log.warn(
        { customerId: label, source, status: outcome.status, reason: outcome.reason },
        `webhook rejected: ${outcome.message}`,
      );
    }
    return outcome;
  }

  private async accept(
    customerId: string,
    secret: string | undefined,
    req: IncomingMessage,
    trackArrival = false,
  ): Promise<WebhookOutcome> {
    let body: Buffer;
    try {
      body = await readRawBody(req, this.maxBody);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        return reject(413, 'too_large', `body exceeds ${this.maxBody} bytes`);
      }
      throw error;
    }
    const signature = header(req, RAISE_WEBHOOK_HEADERS.signature);
    const timestampText = header(req, RAISE_WEBHOOK_HEADERS.timestamp);
    if (!secret) {
      return reject(
        401,
        'no_secret_configured',
        'no webhook secret is configured for this customer',
      );
    }
    if (!signature || !timestampText) {
      return reject(401, 'missing_signature', 'signature or timestamp header missing');
    }
    const timestamp = Number(timestampText);
    if (!Number.isInteger(timestamp) || !verifyRaiseSignature(secret, timestamp, body, signature)) {
      return reject(401, 'bad_signature', 'signature does not match');
    }
    if (Math.abs(Date.now() / 1000 - timestamp) > this.toleranceSeconds) {
      return reject(401, 'stale', `signed more than ${this.toleranceSeconds}s away from now`);
    }

    const parsed = parseDelivery(customerId, body);
    if ('status' in parsed) {
      return parsed;
    }

    const signatureHash = createHash('sha256').update(signature).digest('hex');
    const claimed: unknown[] = await this.db.query(
      `INSERT INTO webhook_deliveries (customer_id, source, signature_hash, delivery_id)
       VALUES ($1, 'raise', $2, $3) ON CONFLICT DO NOTHING RETURNING 1`,
      [customerId, signatureHash, header(req, RAISE_WEBHOOK_HEADERS.deliveryId) ?? null],
    );
    if (claimed.length === 0) {
      return reject(409, 'replayed', 'this signed delivery was already accepted');
    }
    try {
      await this.publisher.publish([parsed]);
    } catch (error) {
      // Not written: forget the claim so the source's redelivery of these bytes is accepted.
      await this.db
        .query(
          `DELETE FROM webhook_deliveries WHERE customer_id = $1 AND source = 'raise' AND signature_hash = $2`,
          [customerId, signatureHash],
        )
        .catch(() => undefined);
      this.log.warn(
        { customerId, err: error instanceof Error ? error.message : String(error) },
        'Kafka write failed; answering 503 so the source redelivers',
      );
      return {
        ...reject(503, 'kafka_unavailable', 'event store unavailable; retry later'),
        retryAfterSeconds: 10,
      };
    }
    if (trackArrival) {
      // Not awaited: the arrival row is bookkeeping for the reconciler, not part of the answer.
      void this.arrivals.raiseGiftSeen(parsed);
    }
    return { status: 202, reason: 'accepted', message: 'accepted', eventId: parsed.eventId };
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The event a delivery body describes, or the 400 outcome explaining why it does not. */
function parseDelivery(customerId: string, body: Buffer): SourceEvent | WebhookOutcome {
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    return reject(400, 'malformed_json', 'body is not valid JSON');
  }
  if (typeof payload !== 'object' || payload === null) {
    return reject(400, 'malformed_json', 'body is not a JSON object');
  }
  const { eventType, data } = payload as { eventType?: unknown; data?: unknown };
  const kind = typeof eventType === 'number' ? RAISE_EVENT_TYPES[eventType] : undefined;
  if (!kind) {
    return reject(400, 'unknown_event_type', `event type ${String(eventType)} is not handled`);
  }
  if (typeof data !== 'object' || data === null) {
    return reject(400, 'malformed_record', 'data is missing');
  }
  const record = data as Record<string, unknown>;
  try {
    if (kind.operation === 'delete') {
      const id = record['id'];
      const modifiedValue = record[RAISE_MODIFIED_FIELD[kind.resource]];
      const modified = new Date(typeof modifiedValue === 'string' ? modifiedValue : Number.NaN);
      if ((typeof id !== 'number' && typeof id !== 'string') || Number.isNaN(modified.getTime())) {
        return reject(400, 'malformed_record', 'delete event needs data.id and its modified time');
      }
      return newSourceEvent({
        customerId,
        source: 'raise',
        resource: kind.resource,
        operation: 'delete',
        origin: 'webhook',
        recordId: String(id),
        sourceModifiedAt: modified,
        record: null,
      });
    }
    const mapped = raiseToRecord(kind.resource, record as never);
    return newSourceEvent({
      customerId,
      source: 'raise',
      resource: kind.resource,
      operation: 'upsert',
      origin: 'webhook',
      recordId: mapped.recordId,
      sourceModifiedAt: mapped.sourceModifiedAt,
      record: mapped.record,
    } as never);
  } catch (error) {
    return reject(400, 'malformed_record', error instanceof Error ? error.message : String(error));
  }
}

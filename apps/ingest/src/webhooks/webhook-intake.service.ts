import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { newSourceEvent, type SourceEvent } from '@raise-sync/shared/events';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { EventTooLargeError } from '@raise-sync/shared/kafka';
import { PinoLogger } from 'nestjs-pino';
import {
  isSignatureShaped,
  parseRaiseTimestamp,
  parseRecordId,
  RAISE_EVENT_TYPES,
  RAISE_MODIFIED_FIELD,
  RAISE_WEBHOOK_HEADERS,
  raiseToRecord,
  verifyRaiseSignatureDigest,
} from '@raise-sync/sources';
import type { CustomerScope } from '@raise-sync/shared/state';
import { CustomerDirectory } from '../customers/customer-directory.service';
import { EventPublisher } from '../publish/event-publisher.service';
import { CrossProductArrivals } from './cross-product-arrivals.service';
import { bodyReadRefusal, WebhookBodyReader, type HeldBody } from './raw-body';
import { ReplayClaims } from './replay-claims';
import { WebhookDeliveryRepository } from './webhook-delivery.repository';
import type { IngestConfig } from '../ingest.config';

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

/** The only sources that send webhooks to this route; any other is labelled 'unknown'. */
const WEBHOOK_SOURCES: ReadonlySet<string> = new Set(['raise']);

/**
 * Turns one webhook delivery into one Kafka event, in this order. Before the body is read:
 * known source and customer, a secret configured, exactly one signature and one timestamp header
 * of the right shape, a fresh timestamp. Then the body, within the size limit, the read timeout
 * and the process's budget of unverified bytes; the signature over it; JSON and event type; the
 * replay check; the acks=all write. Only a successful write is answered 2xx. Every outcome is
 * counted by customer and reason and logged with the customer ID (never the secret, never the
 * body); metric labels never carry a value the caller chose (unknown sources and customers are
 * 'unknown').
 */
@Injectable()
export class WebhookIntake {
  private readonly toleranceSeconds: number;

  constructor(
    config: ConfigService<IngestConfig, true>,
    private readonly customers: CustomerDirectory,
    private readonly publisher: EventPublisher,
    private readonly deliveries: WebhookDeliveryRepository,
    private readonly claims: ReplayClaims,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
    private readonly arrivals: CrossProductArrivals,
    private readonly bodies: WebhookBodyReader,
  ) {
    const ingest = config.get('ingest', { infer: true });
    this.toleranceSeconds = ingest.webhookToleranceSeconds;
    this.log.setContext('webhooks');
  }

  async handle(source: string, customerId: string, req: IncomingMessage): Promise<WebhookOutcome> {
    const started = process.hrtime.bigint();
    let label = 'unknown';
    const sourceLabel = WEBHOOK_SOURCES.has(source) ? source : 'unknown';
    let outcome: WebhookOutcome;
    try {
      // Refusals before the body is read leave it unread; the answer closes the connection.
      const customer = sourceLabel === 'raise' ? await this.customers.get(customerId) : null;
      if (sourceLabel !== 'raise') {
        outcome = reject(404, 'unknown_source', 'this source does not send webhooks');
      } else if (!customer || customer.status === 'offboarded') {
        outcome = reject(404, 'unknown_customer', 'unknown customer');
      } else {
        label = customer.id;
        outcome = await this.accept(
          customer.scope,
          customer.credentials.raise?.webhookSecret,
          req,
          // Dual-webhook check: only customers with a CRM+ webhook registered need the Raise side.
          Boolean(customer.credentials.crmPlus?.subscriptionId),
        );
      }
    } catch (error) {
      this.log.error({ customerId: label, err: error }, 'webhook handling failed');
      outcome = {
        ...reject(503, 'internal_unavailable', 'temporarily unable to accept; retry later'),
        retryAfterSeconds: 10,
      };
    }
    const accepted = outcome.status < 300;
    this.metrics.webhooks.inc({
      customer_id: label,
      source: sourceLabel,
      outcome: accepted ? 'accepted' : 'rejected',
      reason: outcome.reason,
    });
    this.metrics.webhookAckSeconds.observe(
      { source: sourceLabel, outcome: accepted ? 'accepted' : 'rejected' },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
    if (outcome.reason === 'client_aborted') {
      // The caller hung up mid-body: nothing failed on our side.
      this.log.debug({ customerId: label, source: sourceLabel }, 'webhook client disconnected');
    } else if (!accepted) {
      this.log.warn(
        {
          customerId: label,
          source: sourceLabel,
          status: outcome.status,
          reason: outcome.reason,
        },
        `webhook rejected: ${outcome.message}`,
      );
    }
    return outcome;
  }

  private async accept(
    scope: CustomerScope,
    secret: string | undefined,
    req: IncomingMessage,
    trackArrival = false,
  ): Promise<WebhookOutcome> {
    if (!secret) {
      return reject(
        401,
        'no_secret_configured',
        'no webhook secret is configured for this customer',
      );
    }
    const signatures = headerValues(req, RAISE_WEBHOOK_HEADERS.signature);
    const timestamps = headerValues(req, RAISE_WEBHOOK_HEADERS.timestamp);
    if (signatures.length > 1 || timestamps.length > 1) {
      return reject(
        400,
        'duplicate_header',
        `send exactly one ${RAISE_WEBHOOK_HEADERS.signature} and one ${RAISE_WEBHOOK_HEADERS.timestamp} header`,
      );
    }
    const [signature] = signatures;
    const [timestampText] = timestamps;
    if (!signature || !timestampText) {
      return reject(401, 'missing_signature', 'signature or timestamp header missing');
    }
    const timestamp = parseRaiseTimestamp(timestampText);
    if (timestamp === null || !isSignatureShaped(signature)) {
      return reject(
        401,
        'bad_signature',
        'signature must be canonical base64 of an HMAC-SHA256 and the timestamp Unix seconds',
      );
    }
    // The timestamp is not verified yet, but refusing a stale one early gives nothing away.
    if (Math.abs(Date.now() / 1000 - timestamp) > this.toleranceSeconds) {
      return reject(401, 'stale', `signed more than ${this.toleranceSeconds}s away from now`);
    }

    let held: HeldBody;
    try {
      held = await this.bodies.read(req);
    } catch (error) {
      return bodyReadRefusal(error);
    }
    const body = held.bytes;
    let digest: Buffer | null;
    try {
      digest = verifyRaiseSignatureDigest(secret, timestamp, body, signature);
    } finally {
      held.release();
    }
    if (!digest) {
      return reject(401, 'bad_signature', 'signature does not match');
    }

    const { customerId } = scope;
    const parsed = parseDelivery(customerId, body);
    if ('status' in parsed) {
      return parsed;
    }

    // Keyed on what was signed (the HMAC digest of timestamp and body), never on the header's
    // text, so no other spelling of the same signature passes as a new delivery.
    const signatureHash = createHash('sha256').update(digest).digest('hex');
    // One statement and one commit for the claims of every webhook arriving meanwhile.
    const claimed = await this.claims.claim(
      scope,
      signatureHash,
      header(req, RAISE_WEBHOOK_HEADERS.deliveryId) ?? null,
    );
    if (!claimed) {
      return reject(409, 'replayed', 'this signed delivery was already accepted');
    }
    try {
      await this.publisher.publish([parsed]);
    } catch (error) {
      // Not written: forget the claim so the source's redelivery of these bytes is accepted.
      await this.deliveries.forget(scope, signatureHash).catch(() => undefined);
      if (error instanceof EventTooLargeError) {
        // Refused alone, before it joined a batch (counted in raise_sync_events_refused_total).
        // 413 says the condition is permanent. Raise's retry schedule is undocumented, so a
        // redelivery is possible; each is refused the same way at no cost to anyone else. The
        // record arrives by poll or reconciliation once it is small enough.
        return reject(
          413,
          'event_too_large',
          `the event is ${error.bytes} bytes, over the ${error.limit}-byte Kafka event limit; it was not stored and will not be accepted in this form`,
        );
      }
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
      void this.arrivals.raiseGiftSeen(scope, parsed);
    }
    return { status: 202, reason: 'accepted', message: 'accepted', eventId: parsed.eventId };
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Every value a header was sent with (Node would join repeated ones with ', '). */
function headerValues(req: IncomingMessage, name: string): string[] {
  return req.headersDistinct[name] ?? [];
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
      const recordId = parseRecordId(record['id'], 'data.id');
      const modifiedValue = record[RAISE_MODIFIED_FIELD[kind.resource]];
      const modified = new Date(typeof modifiedValue === 'string' ? modifiedValue : Number.NaN);
      if (Number.isNaN(modified.getTime())) {
        return reject(400, 'malformed_record', 'delete event needs data.id and its modified time');
      }
      return newSourceEvent({
        customerId,
        source: 'raise',
        resource: kind.resource,
        operation: 'delete',
        origin: 'webhook',
        recordId,
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

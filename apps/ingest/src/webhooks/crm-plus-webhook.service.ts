import type { IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { isSignatureShaped } from '@raise-sync/sources';
import type { CustomerScope } from '@raise-sync/shared/state';
import { CustomerDirectory } from '../customers/customer-directory.service';
import {
  CRM_PLUS_SIGNATURE_HEADER,
  parseCrmPlusDelivery,
  verifyCrmPlusSignature,
} from './crm-plus-delivery';
import { CrossProductArrivals } from './cross-product-arrivals.service';
import { bodyReadRefusal, WebhookBodyReader, type HeldBody } from './raw-body';

export interface CrmPlusOutcome {
  status: number;
  reason: string;
  message: string;
  retryAfterSeconds?: number;
}

const SOURCE = 'crm-plus';

const answer = (status: number, reason: string, message: string): CrmPlusOutcome => ({
  status,
  reason,
  message,
});

/**
 * One CRM+ webhook delivery for one customer. Before the body is read: known customer, a CRM+
 * webhook registered, exactly one signature header of the right shape. Then the body (size
 * limit, read timeout and the budget of unverified bytes shared with the Raise receiver), the
 * signature over the raw bytes with the secret registered for that customer, JSON, then the CRM+
 * side of the arrival row. Nothing goes to Kafka: CRM+ is a destination, and this feed only
 * confirms that the platform's own sync carried a Raise record across. CRM+ signs no timestamp, so
 * there is no replay window to check; a replayed delivery rewrites the same row and keeps the
 * first arrival time.
 * Every outcome is counted in raise_sync_webhooks_total{source="crm-plus"} and every refusal is
 * logged with the customer ID (never the secret or the body).
 */
@Injectable()
export class CrmPlusWebhookIntake {
  constructor(
    private readonly customers: CustomerDirectory,
    private readonly arrivals: CrossProductArrivals,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
    private readonly bodies: WebhookBodyReader,
  ) {
    this.log.setContext('crm-plus-webhooks');
  }

  async handle(customerId: string, req: IncomingMessage): Promise<CrmPlusOutcome> {
    const started = process.hrtime.bigint();
    let label = 'unknown';
    let outcome: CrmPlusOutcome;
    try {
      const customer = await this.customers.get(customerId);
      if (!customer || customer.status === 'offboarded') {
        // Left unread; the answer closes the connection.
        outcome = answer(404, 'unknown_customer', 'unknown customer');
      } else {
        label = customer.id;
        const crmPlus = customer.credentials.crmPlus;
        outcome = await this.accept(customer.scope, req, {
          secret: crmPlus?.webhookSecret,
          transactionSource: crmPlus?.transactionSource ?? 'raise',
          referenceSource: crmPlus?.referenceSource ?? 'raise',
        });
      }
    } catch (error) {
      this.log.error({ customerId: label, err: error }, 'CRM+ webhook handling failed');
      outcome = {
        ...answer(503, 'internal_unavailable', 'temporarily unable to accept; retry later'),
        retryAfterSeconds: 10,
      };
    }
    const accepted = outcome.status < 300;
    this.metrics.webhooks.inc({
      customer_id: label,
      source: SOURCE,
      outcome: accepted ? 'accepted' : 'rejected',
      reason: outcome.reason,
    });
    this.metrics.webhookAckSeconds.observe(
      { source: SOURCE, outcome: accepted ? 'accepted' : 'rejected' },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
    if (outcome.reason === 'client_aborted') {
      this.log.debug({ customerId: label, source: SOURCE }, 'CRM+ webhook client disconnected');
    } else if (!accepted) {
      this.log.warn(
        { customerId: label, source: SOURCE, status: outcome.status, reason: outcome.reason },
        `CRM+ webhook rejected: ${outcome.message}`,
      );
    }
    return outcome;
  }

  private async accept(
    scope: CustomerScope,
    req: IncomingMessage,
    settings: { secret: string | undefined; transactionSource: string; referenceSource: string },
  ): Promise<CrmPlusOutcome> {
    if (!settings.secret) {
      return answer(401, 'no_secret_configured', 'no CRM+ webhook is registered for this customer');
    }
    const signatures = req.headersDistinct[CRM_PLUS_SIGNATURE_HEADER] ?? [];
    if (signatures.length > 1) {
      return answer(
        400,
        'duplicate_header',
        `send exactly one ${CRM_PLUS_SIGNATURE_HEADER} header`,
      );
    }
    const [given] = signatures;
    if (!given) {
      return answer(401, 'missing_signature', `${CRM_PLUS_SIGNATURE_HEADER} header missing`);
    }
    if (!isSignatureShaped(given)) {
      return answer(401, 'bad_signature', 'signature must be canonical base64 of an HMAC-SHA256');
    }
    let held: HeldBody;
    try {
      held = await this.bodies.read(req);
    } catch (error) {
      return bodyReadRefusal(error);
    }
    const body = held.bytes;
    let verified: boolean;
    try {
      verified = verifyCrmPlusSignature(settings.secret, body, given);
    } finally {
      held.release();
    }
    if (!verified) {
      return answer(401, 'bad_signature', 'signature does not match');
    }
    const parsed = parseCrmPlusDelivery(body, settings);
    if (parsed === null) {
      return answer(200, 'ignored_event', 'event not tracked');
    }
    if ('status' in parsed) {
      return parsed;
    }
    if (parsed.raiseId === null) {
      return answer(200, 'not_from_raise', 'record did not come from Raise; nothing to confirm');
    }
    await this.arrivals.crmSeen(scope, { ...parsed, raiseId: parsed.raiseId });
    return answer(200, 'recorded', 'recorded');
  }
}

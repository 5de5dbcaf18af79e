import type { IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '@raise-sync/shared/config';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS, PinoLogger } from '@raise-sync/shared/service';
import { CustomerDirectory } from '../customers/customer-directory.service';
import {
  CRM_PLUS_SIGNATURE_HEADER,
  parseCrmPlusDelivery,
  verifyCrmPlusSignature,
} from './crm-plus-delivery';
import { CrossProductArrivals } from './cross-product-arrivals.service';
import { BodyTooLargeError, readRawBody } from './raw-body';

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
 * One CRM+ webhook delivery for one customer: known customer, body within the limit, signature
 * over the raw bytes with the secret registered for that customer, JSON, then the CRM+ side of the
 * arrival row. Nothing goes to Kafka: CRM+ is a destination, and this feed only confirms that the
 * platform's own sync carried a Raise record across. CRM+ signs no timestamp, so there is no replay
 * window to check; a replayed delivery rewrites the same row and keeps the first arrival time.
 * Every outcome is counted in raise_sync_webhooks_total{source="crm-plus"} and every refusal is
 * logged with the customer ID (never the secret or the body).
 */
@Injectable()
export class CrmPlusWebhookIntake {
  private readonly maxBody: number;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly customers: CustomerDirectory,
    private readonly arrivals: CrossProductArrivals,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.maxBody = config.get('ingest', { infer: true }).webhookMaxBodyBytes;
    this.log.setContext('crm-plus-webhooks');
  }

  async handle(customerId: string, req: IncomingMessage): Promise<CrmPlusOutcome> {
    const started = process.hrtime.bigint();
    let label = 'unknown';
    let outcome: CrmPlusOutcome;
    try {
      const customer = await this.customers.get(customerId);
      if (!customer || customer.status === 'offboarded') {
        req.resume();
        outcome = answer(404, 'unknown_customer', 'unknown customer');
      } else {
        label = customer.id;
        const crmPlus = customer.credentials.crmPlus;
        outcome = await this.accept(customer.id, req, {
          secret: crmPlus?.webhookSecret,
          transactionSource: crmPlus?.transactionSource ?? 'raise',
          referenceSource: crmPlus?.referenceSource ?? 'raise',
        });
      }
    } catch (error) {
      req.resume();
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
    if (!accepted) {
      this.log.warn(
        { customerId: label, source: SOURCE, status: outcome.status, reason: outcome.reason },
        `CRM+ webhook rejected: ${outcome.message}`,
      );
    }
    return outcome;
  }

  private async accept(
    customerId: string,
    req: IncomingMessage,
    settings: { secret: string | undefined; transactionSource: string; referenceSource: string },
  ): Promise<CrmPlusOutcome> {
    let body: Buffer;
    try {
      body = await readRawBody(req, this.maxBody);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        return answer(413, 'too_large', `body exceeds ${this.maxBody} bytes`);
      }
      throw error;
    }
    if (!settings.secret) {
      return answer(401, 'no_secret_configured', 'no CRM+ webhook is registered for this customer');
    }
    const signature = req.headers[CRM_PLUS_SIGNATURE_HEADER];
    const given = Array.isArray(signature) ? signature[0] : signature;
    if (!given) {
      return answer(401, 'missing_signature', `${CRM_PLUS_SIGNATURE_HEADER} header missing`);
    }
    if (!verifyCrmPlusSignature(settings.secret, body, given)) {
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
    await this.arrivals.crmSeen(customerId, { ...parsed, raiseId: parsed.raiseId });
    return answer(200, 'recorded', 'recorded');
  }
}

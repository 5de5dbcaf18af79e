import { Inject, Injectable, Optional } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { networkErrorCode } from '@raise-sync/shared';
import { redactUrl, type PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import {
  customerScope,
  type AlertDeliveryStatus,
  type AlertSeverity,
} from '@raise-sync/shared/state';
import { AlertRepository } from './alert.repository';
import { backoffMs, runAlertDetails, webhookBody } from './alert-format';
import type { ReconcilerConfig } from '../reconciler.config';

/** Delivery tuning; tests and other checks may pass their own through OPS_ALERTER_OPTIONS. */
export interface OpsAlerterOptions {
  /** POST attempts per alert. Default 3. */
  attempts: number;
  /** Per attempt. Default 5 s. */
  timeoutMs: number;
  /** Wait before the second attempt; the third waits three times as long. Default 500 ms. */
  backoffBaseMs: number;
  /** Actionable records listed in one alert (the total is always given). Default 100. */
  maxRecords: number;
}

export const OPS_ALERTER_OPTIONS = Symbol('OPS_ALERTER_OPTIONS');

const DEFAULTS: OpsAlerterOptions = {
  attempts: 3,
  timeoutMs: 5000,
  backoffBaseMs: 500,
  maxRecords: 100,
};

export interface AlertInput {
  runId: string;
  customerId: string;
  severity: AlertSeverity;
  title: string;
  details: Record<string, unknown>;
}

export interface RunAlertInput {
  runId: string;
  customerId: string;
  kind: string;
  windowStart: Date;
  windowEnd: Date;
  counts: Record<string, number>;
  /** Given the number of actionable records and the customer's name. */
  title: (actionable: number, customerName: string) => string;
  severity?: AlertSeverity;
}

export interface RaisedAlert {
  id: string;
  deliveryStatus: AlertDeliveryStatus;
  attempts: number;
  lastError: string | null;
}

const MAX_ERROR_CHARS = 300;

/**
 * Ops alerts for reconciliation runs. An alert is first stored (reconciliation_alerts), then,
 * when RECONCILER_OPS_WEBHOOK_URL is set, POSTed there as JSON: up to `attempts` tries with a
 * timeout and backoff; any 2xx counts as delivered. The outcome (delivered / failed /
 * not_configured, attempts, last error) is written back to the row, counted in
 * `reconciliation_alerts_total{delivery}` and logged with the customer ID. Alerts carry record
 * IDs, amounts, campaigns and links, never credentials; the ops URL itself is logged by host only.
 * Any check can use it: `raiseForRun` for "the actionable discrepancies of this run", `raise` for
 * an alert of its own (e.g. "CRM+ unreachable").
 */
@Injectable()
export class OpsAlerter {
  private readonly url: string | null;
  private readonly options: OpsAlerterOptions;

  constructor(
    private readonly alerts: AlertRepository,
    config: ConfigService<ReconcilerConfig, true>,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
    @Optional() @Inject(OPS_ALERTER_OPTIONS) options?: Partial<OpsAlerterOptions>,
  ) {
    this.url = config.get('reconciler', { infer: true }).opsWebhookUrl;
    this.options = { ...DEFAULTS, ...options };
    this.log.setContext('ops-alerter');
  }

  /**
   * One alert listing the run's actionable discrepancies (as stored by the check), capped at
   * `maxRecords` with the total; null when the run has none.
   */
  async raiseForRun(input: RunAlertInput): Promise<RaisedAlert | null> {
    const customer = customerScope(input.customerId);
    const total = await this.alerts.actionableCount(customer, input.runId);
    if (total === 0) {
      return null;
    }
    const rows = await this.alerts.actionable(customer, input.runId, this.options.maxRecords);
    const customerName = await this.alerts.customerName(customer);
    return this.raise({
      runId: input.runId,
      customerId: input.customerId,
      severity: input.severity ?? 'warning',
      title: input.title(total, customerName ?? input.customerId),
      details: {
        ...runAlertDetails({
          customerId: input.customerId,
          customerName,
          kind: input.kind,
          runId: input.runId,
          windowStart: input.windowStart,
          windowEnd: input.windowEnd,
          counts: input.counts,
          total,
          rows,
        }),
      },
    });
  }

  /** Stores the alert, then delivers it to the ops URL (never throws for a delivery failure). */
  async raise(input: AlertInput): Promise<RaisedAlert> {
    const customer = customerScope(input.customerId);
    const row = await this.alerts.create(customer, {
      runId: input.runId,
      severity: input.severity,
      title: input.title,
      details: input.details,
    });
    const outcome = await this.deliver({ ...input, id: row.id, createdAt: row.created_at });
    await this.alerts.recordDelivery(customer, row.id, outcome);
    this.metrics.reconciliationAlerts.inc({
      customer_id: input.customerId,
      delivery: outcome.deliveryStatus,
    });
    const fields = {
      customerId: input.customerId,
      runId: input.runId,
      alertId: row.id,
      severity: input.severity,
      delivery: outcome.deliveryStatus,
      attempts: outcome.attempts,
    };
    if (outcome.deliveryStatus === 'failed') {
      this.log.error(
        {
          ...fields,
          err: outcome.lastError,
          opsUrl: this.url ? redactUrl(this.url, { originOnly: true }) : null,
        },
        `ops alert could not be delivered: ${input.title}`,
      );
    } else {
      this.log.warn(fields, `ops alert: ${input.title}`);
    }
    return { id: row.id, ...outcome };
  }

  private async deliver(
    alert: AlertInput & { id: string; createdAt: Date },
  ): Promise<Omit<RaisedAlert, 'id'>> {
    if (!this.url) {
      return { deliveryStatus: 'not_configured', attempts: 0, lastError: null };
    }
    const body = JSON.stringify(webhookBody(alert));
    let lastError: string | null = null;
    for (let attempt = 1; attempt <= this.options.attempts; attempt += 1) {
      if (attempt > 1) {
        await new Promise((resolve) =>
          setTimeout(resolve, backoffMs(attempt, this.options.backoffBaseMs)),
        );
      }
      lastError = await this.post(body);
      if (lastError === null) {
        return { deliveryStatus: 'delivered', attempts: attempt, lastError: null };
      }
      this.log.warn(
        { customerId: alert.customerId, alertId: alert.id, attempt, err: lastError },
        'ops alert delivery attempt failed',
      );
    }
    return { deliveryStatus: 'failed', attempts: this.options.attempts, lastError };
  }

  /** One POST; null on 2xx, else what went wrong (status or network error, never the URL). */
  private async post(body: string): Promise<string | null> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const response = await fetch(this.url!, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'raise-sync-reconciler' },
        body,
        signal: timeout,
        redirect: 'manual',
      });
      const text = await response.text().catch(() => '');
      if (response.status >= 200 && response.status < 300) {
        return null;
      }
      const snippet = text.trim().slice(0, MAX_ERROR_CHARS);
      return `HTTP ${response.status}${snippet ? `: ${snippet}` : ''}`;
    } catch (error) {
      if (timeout.aborted) {
        return `timed out after ${this.options.timeoutMs} ms`;
      }
      const code = networkErrorCode(error);
      return `network error${code ? ` ${code}` : ''}`;
    }
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { DataSource } from 'typeorm';
import { PinoLogger } from 'nestjs-pino';
import { SourceHttpClient } from '../http-client';
import { RaiseClient } from '../raise-client';
import { RateBudgets } from '../rate-budget';
import { PgSharedBudgetStore } from '../source-budget.repository';
import type { SourcesConfig } from '../sources.config';
import { VomoClient } from '../vomo-client';

/**
 * The source API clients of this process, on per-customer rate budgets (a bucket per customer and
 * API, never one global limiter) backed by the customer-wide budget in PostgreSQL, so polling,
 * backfills and reconciliation in any number of processes share one rate per customer. Every
 * request, 429 and auth failure is counted by customer.
 */
@Injectable()
export class SourceClients {
  readonly budgets: RateBudgets;
  readonly raise: RaiseClient;
  readonly vomo: VomoClient;

  constructor(
    config: ConfigService<SourcesConfig, true>,
    @Inject(PIPELINE_METRICS) metrics: PipelineMetrics,
    db: DataSource,
    log: PinoLogger,
  ) {
    const sources = config.get('sources', { infer: true });
    let lastWarned = 0;
    this.budgets = new RateBudgets({
      rates: sources.rates,
      shared: new PgSharedBudgetStore(db),
      onSharedError: (error) => {
        if (Date.now() - lastWarned > 60_000) {
          lastWarned = Date.now();
          log.warn(
            { err: error instanceof Error ? error.message : String(error) },
            'shared source budget unavailable; using this process budget only',
          );
        }
      },
      onWait: (wait) =>
        metrics.sourceBudgetWaitSeconds.inc(
          { customer_id: wait.customerId, source: wait.api, caller: metrics.service },
          wait.waitedMs / 1000,
        ),
    });
    const http = new SourceHttpClient({
      budgets: this.budgets,
      userAgent: 'raise-sync/0.1',
      observer: {
        onRequest: (info) =>
          metrics.sourceRequests.inc({
            customer_id: info.customerId,
            api: info.api,
            status: info.status === 0 ? info.outcome : String(info.status),
          }),
        onRateLimited: (info) =>
          metrics.sourceRateLimited.inc({ customer_id: info.customerId, api: info.api }),
        onAuthFailure: (info) =>
          metrics.sourceAuthFailures.inc({ customer_id: info.customerId, api: info.api }),
      },
    });
    this.raise = new RaiseClient({ baseUrl: sources.raiseApiUrl, http });
    this.vomo = new VomoClient({ baseUrl: sources.vomoApiUrl, http });
  }
}

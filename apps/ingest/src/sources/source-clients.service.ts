import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '@raise-sync/shared/config';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { RaiseClient, RateBudgets, SourceHttpClient, VomoClient } from '@raise-sync/shared/sources';

/**
 * The source API clients of this process, on one set of per-customer rate budgets (a bucket per
 * customer and API, never one global limiter), with every request, 429 and auth failure counted
 * by customer.
 */
@Injectable()
export class SourceClients {
  readonly budgets: RateBudgets;
  readonly raise: RaiseClient;
  readonly vomo: VomoClient;

  constructor(
    config: ConfigService<AppConfig, true>,
    @Inject(PIPELINE_METRICS) metrics: PipelineMetrics,
  ) {
    const ingest = config.get('ingest', { infer: true });
    this.budgets = new RateBudgets({ rates: ingest.sourceRates });
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
    this.raise = new RaiseClient({ baseUrl: ingest.raiseApiUrl, http });
    this.vomo = new VomoClient({ baseUrl: ingest.vomoApiUrl, http });
  }
}

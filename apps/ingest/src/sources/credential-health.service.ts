import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import type { CustomerScope, SourceName } from '@raise-sync/shared/state';
import { CustomerSourceRepository } from './customer-source.repository';

/**
 * Token health per customer and source. A 401/403 from the source marks the token failing: the
 * poller stops using it (no retrying forever against a revoked token), the alert gauge
 * `raise_sync_source_credential_failing` shows 1, and a new token through the admin API (validated
 * by a test call) clears it.
 */
@Injectable()
export class CredentialHealth implements OnApplicationBootstrap {
  constructor(
    private readonly sources: CustomerSourceRepository,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('credentials');
  }

  /** Restores the gauge after a restart so the alert does not clear by itself. */
  async onApplicationBootstrap(): Promise<void> {
    const failing = await this.sources.failingAcrossCustomers();
    for (const row of failing) {
      this.metrics.credentialFailing.set({ customer_id: row.customerId, source: row.source }, 1);
    }
  }

  async markFailing(scope: CustomerScope, source: SourceName, reason: string): Promise<void> {
    const { customerId } = scope;
    await this.sources.markFailing(scope, source, reason);
    this.metrics.credentialFailing.set({ customer_id: customerId, source }, 1);
    this.log.error(
      { customerId, source, reason },
      'source token rejected: polling for this source is stopped until a new token is set',
    );
  }

  async markValid(scope: CustomerScope, source: SourceName): Promise<void> {
    await this.sources.markValid(scope, source);
    this.metrics.credentialFailing.set({ customer_id: scope.customerId, source }, 0);
  }
}

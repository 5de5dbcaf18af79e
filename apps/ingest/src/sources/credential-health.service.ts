import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS, PinoLogger } from '@raise-sync/shared/service';
import { CustomerSourceEntity, type SourceName } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

/**
 * Token health per customer and source. A 401/403 from the source marks the token failing: the
 * poller stops using it (no retrying forever against a revoked token), the alert gauge
 * `raise_sync_source_credential_failing` shows 1, and a new token through the admin API (validated
 * by a test call) clears it.
 */
@Injectable()
export class CredentialHealth implements OnApplicationBootstrap {
  constructor(
    private readonly db: DataSource,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('credentials');
  }

  /** Restores the gauge after a restart so the alert does not clear by itself. */
  async onApplicationBootstrap(): Promise<void> {
    const failing = await this.db
      .getRepository(CustomerSourceEntity)
      .findBy({ credentialStatus: 'failing' });
    for (const row of failing) {
      this.metrics.credentialFailing.set({ customer_id: row.customerId, source: row.source }, 1);
    }
  }

  async markFailing(customerId: string, source: SourceName, reason: string): Promise<void> {
    await this.db
      .getRepository(CustomerSourceEntity)
      .update(
        { customerId, source },
        { credentialStatus: 'failing', credentialError: reason, credentialCheckedAt: new Date() },
      );
    this.metrics.credentialFailing.set({ customer_id: customerId, source }, 1);
    this.log.error(
      { customerId, source, reason },
      'source token rejected: polling for this source is stopped until a new token is set',
    );
  }

  async markValid(customerId: string, source: SourceName): Promise<void> {
    await this.db
      .getRepository(CustomerSourceEntity)
      .update(
        { customerId, source },
        { credentialStatus: 'valid', credentialError: null, credentialCheckedAt: new Date() },
      );
    this.metrics.credentialFailing.set({ customer_id: customerId, source }, 0);
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { SourceEvent } from '@raise-sync/shared/events';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import type { CustomerScope } from '@raise-sync/shared/state';
import type { CrmArrival } from './crm-plus-delivery';
import { CrossProductArrivalRepository } from '@raise-sync/shared/state';

/**
 * Writes the two sides of the dual-webhook check into `cross_product_arrivals` (seed 001,
 * pattern 2): a Raise gift webhook fills the Raise side, a CRM+ gift or contact webhook that points
 * back to a Raise record fills the CRM+ side of the same row, whichever comes first. The first
 * arrival time of each side is kept; later deliveries (updates, redeliveries) only refresh the
 * details, so replays are harmless.
 */
@Injectable()
export class CrossProductArrivals {
  constructor(
    private readonly repository: CrossProductArrivalRepository,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('cross-product-arrivals');
  }

  /** The CRM+ side. Throws on a database failure: the caller answers 503 so CRM+ retries. */
  async crmSeen(scope: CustomerScope, arrival: CrmArrival & { raiseId: string }): Promise<void> {
    try {
      await this.repository.recordCrmSide(scope, arrival);
    } catch (error) {
      this.count(scope.customerId, 'crm-plus', 'failed');
      throw error;
    }
    this.count(scope.customerId, 'crm-plus', 'recorded');
  }

  /**
   * The Raise side of a gift, after its webhook was accepted and published. Called without
   * awaiting from the Raise webhook path, so it never delays or fails that answer: a failure is
   * logged with the customer and counted (outcome failed), and the reconciler then sees the gift
   * as CRM+-only at worst, which it double-checks against Raise before reporting.
   */
  async raiseGiftSeen(scope: CustomerScope, event: SourceEvent): Promise<void> {
    if (event.resource !== 'gift' || event.operation !== 'upsert' || event.record === null) {
      return;
    }
    const gift = event.record as unknown as Record<string, unknown>;
    const details = {
      raiseAmount: gift.amount ?? null,
      raiseCurrency: gift.currency ?? null,
      isTestMode: gift.isTestMode === true,
      campaignName: gift.campaignName ?? null,
      donorId: gift.donorId ?? null,
    };
    try {
      await this.repository.recordRaiseGift(scope, event.recordId, details);
      this.count(event.customerId, 'raise', 'recorded');
    } catch (error) {
      this.count(event.customerId, 'raise', 'failed');
      this.log.error(
        { customerId: event.customerId, recordId: event.recordId, err: error },
        'could not record the Raise side of a gift arrival',
      );
    }
  }

  private count(customerId: string, side: string, outcome: 'recorded' | 'failed'): void {
    this.metrics.crossProductArrivals.inc({ customer_id: customerId, side, outcome });
  }
}

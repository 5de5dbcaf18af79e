import { Injectable } from '@nestjs/common';
import type { CustomerScope } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';
import type { CrmArrival } from './crm-plus-delivery';

/** The Raise side's details of a gift arrival, merged into the row's `details`. */
export interface RaiseGiftDetails {
  raiseAmount: unknown;
  raiseCurrency: unknown;
  isTestMode: boolean;
  campaignName: unknown;
  donorId: unknown;
}

/**
 * The two sides of the dual-webhook check in `cross_product_arrivals` (seed 001, pattern 2), one
 * row per (customer, resource, Raise ID), whichever side comes first. The first arrival time of
 * each side is kept; later deliveries only refresh the details. The reconciler reads, settles
 * and prunes these rows.
 */
@Injectable()
export class CrossProductArrivalRepository {
  constructor(private readonly db: DataSource) {}

  /** The CRM+ side of a record that points back to a Raise record. */
  async recordCrmSide(
    scope: CustomerScope,
    arrival: CrmArrival & { raiseId: string },
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO cross_product_arrivals
         (customer_id, resource, raise_id, crm_id, crm_seen_at, crm_event, details)
       VALUES ($1, $2, $3, $4, now(), $5, $6::jsonb)
       ON CONFLICT (customer_id, resource, raise_id) WHERE raise_id IS NOT NULL DO UPDATE
         SET crm_id = EXCLUDED.crm_id,
             crm_seen_at = coalesce(cross_product_arrivals.crm_seen_at, EXCLUDED.crm_seen_at),
             crm_event = EXCLUDED.crm_event,
             details = cross_product_arrivals.details || EXCLUDED.details,
             updated_at = now()`,
      [
        scope.customerId,
        arrival.resource,
        arrival.raiseId,
        arrival.crmId,
        arrival.event,
        JSON.stringify(arrival.details),
      ],
    );
  }

  /** The Raise side of a gift. */
  async recordRaiseGift(
    scope: CustomerScope,
    raiseId: string,
    details: RaiseGiftDetails,
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO cross_product_arrivals (customer_id, resource, raise_id, raise_seen_at, details)
       VALUES ($1, 'gift', $2, now(), $3::jsonb)
       ON CONFLICT (customer_id, resource, raise_id) WHERE raise_id IS NOT NULL DO UPDATE
         SET raise_seen_at = coalesce(cross_product_arrivals.raise_seen_at, EXCLUDED.raise_seen_at),
             details = cross_product_arrivals.details || EXCLUDED.details,
             updated_at = now()`,
      [scope.customerId, raiseId, JSON.stringify(details)],
    );
  }
}

import type { DataSource } from 'typeorm';
import type { CustomerScope } from '../customer-scope';

/** The CRM+ side of an arrival: a CRM+ record that points back to a Raise record. */
export interface CrmSideArrival {
  resource: 'gift' | 'contact';
  /** The PascalCase event name, e.g. GiftCreate. */
  event: string;
  crmId: string;
  raiseId: string;
  details: Record<string, unknown>;
}

/** The Raise side's details of a gift arrival, merged into the row's `details`. */
export interface RaiseGiftDetails {
  raiseAmount: unknown;
  raiseCurrency: unknown;
  isTestMode: boolean;
  campaignName: unknown;
  donorId: unknown;
}

/** A gift row of cross_product_arrivals as the one-sided check reads it. */
export interface ArrivalRow {
  id: string;
  raise_id: string;
  crm_id: string | null;
  raise_seen_at: Date | null;
  crm_seen_at: Date | null;
  crm_event: string | null;
  details: Record<string, unknown>;
}

/**
 * The cross_product_arrivals table's one owner: the two sides of the dual-webhook check (seed
 * 001, pattern 2), one row per (customer, resource, Raise ID), whichever side comes first.
 * Ingest records each product's webhook as it arrives (the first arrival time of each side is
 * kept; later deliveries only refresh the details); the reconciler's one-sided check reads the
 * rows a page at a time, fills in the Raise side when it found the gift itself, and prunes old
 * both-sided rows.
 */
export class CrossProductArrivalRepository {
  constructor(private readonly db: DataSource) {}

  /** The CRM+ side of a record that points back to a Raise record. */
  async recordCrmSide(scope: CustomerScope, arrival: CrmSideArrival): Promise<void> {
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

  /**
   * Gift rows only one product reported, first seen in [horizon, cutoff), with IDs after
   * `afterId`, in ID order, at most `limit`.
   */
  async oneSidedGifts(
    { customerId }: CustomerScope,
    cutoff: Date,
    horizon: Date,
    afterId: string,
    limit: number,
  ): Promise<ArrivalRow[]> {
    return this.db.query<ArrivalRow[]>(
      `SELECT id::text AS id, raise_id, crm_id, raise_seen_at, crm_seen_at, crm_event, details
         FROM cross_product_arrivals
        WHERE customer_id = $1 AND resource = 'gift' AND raise_id IS NOT NULL
          AND (raise_seen_at IS NULL OR crm_seen_at IS NULL)
          AND coalesce(raise_seen_at, crm_seen_at) < $2
          AND coalesce(raise_seen_at, crm_seen_at) >= $3
          AND id > $4::bigint
        ORDER BY id LIMIT $5`,
      [customerId, cutoff, horizon, afterId, limit],
    );
  }

  /** Fills in the Raise side of these rows of the customer (Raise has the gift). */
  async confirmRaiseSide({ customerId }: CustomerScope, ids: readonly string[]): Promise<void> {
    await this.db.query(
      `UPDATE cross_product_arrivals
          SET raise_seen_at = now(), updated_at = now(),
              details = details || '{"raiseSideFrom":"reconciler lookup"}'::jsonb
        WHERE id = ANY($1::bigint[]) AND raise_seen_at IS NULL AND customer_id = $2`,
      [[...ids], customerId],
    );
  }

  /** Drops the customer's both-sided rows last updated before `horizon`. */
  async pruneBothSided({ customerId }: CustomerScope, horizon: Date): Promise<void> {
    await this.db.query(
      `DELETE FROM cross_product_arrivals
        WHERE customer_id = $1 AND raise_seen_at IS NOT NULL AND crm_seen_at IS NOT NULL
          AND updated_at < $2`,
      [customerId, horizon],
    );
  }
}

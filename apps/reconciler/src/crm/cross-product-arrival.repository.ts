import { Injectable } from '@nestjs/common';
import type { CustomerScope } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

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
 * cross_product_arrivals as the dual-webhook one-sided check uses it (ingest writes the rows as
 * each product's webhook arrives): the one-sided gift rows a page at a time, the Raise side
 * filled in when the reconciler found the gift itself, and the prune of old both-sided rows.
 */
@Injectable()
export class CrossProductArrivalRepository {
  constructor(private readonly db: DataSource) {}

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

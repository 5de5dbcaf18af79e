import { Injectable } from '@nestjs/common';
import type { CustomerScope } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

/**
 * Part of a claim statement, after its `claimed` CTE (the replay records just inserted): moves
 * each customer and source's last delivery in `webhook_last_deliveries` forward, in the same
 * statement and commit as the claim (no extra round trip). One row per customer and source
 * (DISTINCT ON), taken in key order, so two statements never lock the same rows in opposite
 * order; a later delivery already recorded is kept.
 */
const REMEMBER_LAST = `last AS (
         INSERT INTO webhook_last_deliveries AS l (customer_id, source, received_at, delivery_id)
         SELECT DISTINCT ON (customer_id, source) customer_id, source, received_at, delivery_id
           FROM claimed ORDER BY customer_id, source, received_at DESC
         ON CONFLICT (customer_id, source) DO UPDATE
           SET received_at = EXCLUDED.received_at, delivery_id = EXCLUDED.delivery_id
           WHERE l.received_at <= EXCLUDED.received_at
       )`;

/**
 * The Raise webhook receiver's replay records (`webhook_deliveries`): one row per signed delivery
 * accepted, keyed on what was signed, kept for the replay window only (the retention job prunes
 * them). A claim also records the customer's last delivery (`webhook_last_deliveries`, which the
 * console shows and which outlives the replay records). The claim is on the webhook hot path, so
 * its methods hand back the driver's promise as it is (no extra await, no wrapper object).
 */
@Injectable()
export class WebhookDeliveryRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Claims a signed delivery: one row (`[1]`) when it is new, none when it was already accepted.
   * Keyed on what was signed (the HMAC digest of timestamp and body), never on the header's text,
   * so no other spelling of the same signature passes as a new delivery.
   */
  claim(
    scope: CustomerScope,
    signatureHash: string,
    deliveryId: string | null,
  ): Promise<readonly unknown[]> {
    return this.db.query(
      `WITH claimed AS (
         INSERT INTO webhook_deliveries (customer_id, source, signature_hash, delivery_id)
         VALUES ($1, 'raise', $2, $3) ON CONFLICT DO NOTHING
         RETURNING customer_id, source, delivery_id, received_at
       ), ${REMEMBER_LAST}
       SELECT 1 FROM claimed`,
      [scope.customerId, signatureHash, deliveryId],
    );
  }

  /**
   * Claims many signed deliveries in one statement and one commit (the replay check's group
   * commit, see ReplayClaims). Answers the claims that were new, as `customerId` + `signatureHash`
   * pairs; a claim absent from the answer was already accepted. Across customers because one
   * statement carries the claims of every customer whose webhooks arrived in the same moment; each
   * claim still names its own customer by scope. The claims must be distinct.
   */
  claimAcrossCustomers(
    claims: ReadonlyArray<{
      scope: CustomerScope;
      signatureHash: string;
      deliveryId: string | null;
    }>,
  ): Promise<ReadonlyArray<{ customer_id: string; signature_hash: string }>> {
    return this.db.query(
      `WITH claimed AS (
         INSERT INTO webhook_deliveries (customer_id, source, signature_hash, delivery_id)
         SELECT c, 'raise', h, d FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t (c, h, d)
         ON CONFLICT DO NOTHING RETURNING customer_id, source, signature_hash, delivery_id, received_at
       ), ${REMEMBER_LAST}
       SELECT customer_id, signature_hash FROM claimed`,
      [
        claims.map((c) => c.scope.customerId),
        claims.map((c) => c.signatureHash),
        claims.map((c) => c.deliveryId),
      ],
    );
  }

  /** Forgets a claim whose event was not written, so the source's redelivery is accepted. */
  forget(scope: CustomerScope, signatureHash: string): Promise<unknown> {
    return this.db.query(
      `DELETE FROM webhook_deliveries WHERE customer_id = $1 AND source = 'raise' AND signature_hash = $2`,
      [scope.customerId, signatureHash],
    );
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Dual-webhook arrivals (seed 001, pattern 2): one row per logical record seen through Raise's
 * webhooks, CRM+'s webhooks, or both. Ingest writes each side as it arrives; the reconciler reports
 * rows where only one side showed up within the lag window ("one-sided arrivals").
 *
 * A row is keyed by the Raise ID when one is known (the Raise gift itself, or the Raise gift a
 * CRM+ gift points back to through transactionSource/transactionId), so both sides land on the
 * same row whichever arrives first.
 */
export class CreateCrossProductArrivals1763800006000 implements MigrationInterface {
  name = 'CreateCrossProductArrivals1763800006000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE cross_product_arrivals (
        id bigserial PRIMARY KEY,
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        resource text NOT NULL CHECK (resource IN ('gift', 'contact')),
        raise_id text,
        crm_id text,
        raise_seen_at timestamptz,
        crm_seen_at timestamptz,
        crm_event text,
        details jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ck_cross_product_arrivals_side CHECK (
          raise_seen_at IS NOT NULL OR crm_seen_at IS NOT NULL)
      )`);
    await db.query(
      `CREATE UNIQUE INDEX uq_cross_product_arrivals_raise
         ON cross_product_arrivals (customer_id, resource, raise_id) WHERE raise_id IS NOT NULL`,
    );
    // The reconciler's question: "which rows of this customer saw one side only, before time T?"
    await db.query(
      `CREATE INDEX ix_cross_product_arrivals_one_sided
         ON cross_product_arrivals (customer_id, resource, (coalesce(raise_seen_at, crm_seen_at)))
         WHERE raise_seen_at IS NULL OR crm_seen_at IS NULL`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE cross_product_arrivals');
  }
}

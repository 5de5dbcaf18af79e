import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Offboarding's purge record (issue 16): one row per offboarded customer, kept after the purge
 * as the proof that it happened (when, what was removed, how many rows), with nothing of the
 * customer's data in it. No foreign key: the row outlives the customer.
 *
 * Additive only: a new table that replicas of the previous release never touch.
 */
export class CustomerPurges1763800016000 implements MigrationInterface {
  name = 'CustomerPurges1763800016000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE customer_purges (
        customer_id uuid PRIMARY KEY,
        offboarded_at timestamptz NOT NULL DEFAULT now(),
        purge_after timestamptz NOT NULL,
        purge_warehouse boolean NOT NULL DEFAULT false,
        purged_at timestamptz,
        rows_deleted jsonb NOT NULL DEFAULT '{}'::jsonb
      )`);
    await db.query(
      `CREATE INDEX ix_customer_purges_due ON customer_purges (purge_after) WHERE purged_at IS NULL`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE customer_purges`);
  }
}

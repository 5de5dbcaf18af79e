import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Erasure of one person (issue 16): one row per erased donor of a customer, the record that the
 * erasure happened (who asked, when, by which path, how many rows of each table were redacted,
 * what each destination did) with none of the donor's personal data: the Raise donor ID is a
 * source key, not personal data. `status` is 'pending' while a destination call is outstanding
 * (nothing is redacted yet; the erasure is run again) and 'completed' once the state store and
 * the warehouse hold nothing of the donor.
 *
 * Deleted with the customer (ON DELETE CASCADE): a customer purge removes every row of the
 * customer, erased donors included, and its customer_purges row is the record that outlives it.
 *
 * Additive only: a new table that replicas of the previous release never touch.
 */
export class DonorErasures1763800019000 implements MigrationInterface {
  name = 'DonorErasures1763800019000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE donor_erasures (
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        donor_id text NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed')),
        trigger text NOT NULL CHECK (trigger IN ('admin', 'cli', 'isGDPRDeleted')),
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        rows_redacted jsonb NOT NULL DEFAULT '{}'::jsonb,
        destinations jsonb NOT NULL DEFAULT '{}'::jsonb,
        PRIMARY KEY (customer_id, donor_id)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE donor_erasures`);
  }
}

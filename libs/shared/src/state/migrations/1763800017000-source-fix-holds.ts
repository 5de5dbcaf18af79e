import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Records a destination can never take as the source has them (issue 16): a CRM+ contact
 * without an email, a gift whose donor has none. They are not dead letters: each waits in
 * source_fix_holds (with its payload, so it can be sent again without reading Kafka) until the
 * record it waits for (`waiting_for`, `<resource>:<id>`) is fixed in the source, and the ledger
 * counts them as their own outcome, `needs_source_fix`.
 *
 * Additive: a new table, and the ledger's CHECK widened to one more outcome (added NOT VALID and
 * validated after, so the table is not locked while its rows are checked). Replicas of the
 * previous release never write the new outcome; they dead-letter such records as before.
 */
export class SourceFixHolds1763800017000 implements MigrationInterface {
  name = 'SourceFixHolds1763800017000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE source_fix_holds (
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        destination_id uuid NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
        event_id text NOT NULL,
        resource text NOT NULL,
        source_id text NOT NULL,
        source_modified_at timestamptz NOT NULL,
        problem text NOT NULL,
        waiting_for text NOT NULL,
        error_message text NOT NULL,
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'released', 'resolved')),
        payload bytea,
        message_key text,
        headers jsonb NOT NULL DEFAULT '{}'::jsonb,
        held_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (destination_id, event_id)
      )`);
    await db.query(
      `CREATE INDEX ix_source_fix_holds_waiting ON source_fix_holds (customer_id, waiting_for) WHERE status = 'open'`,
    );
    await db.query(
      `CREATE INDEX ix_source_fix_holds_record ON source_fix_holds (customer_id, destination_id, resource, source_id)
        WHERE status = 'open'`,
    );
    await db.query(
      `ALTER TABLE delivery_counts DROP CONSTRAINT IF EXISTS delivery_counts_outcome_check`,
    );
    await db.query(
      `ALTER TABLE delivery_counts ADD CONSTRAINT delivery_counts_outcome_check
         CHECK (outcome IN ('received', 'delivered', 'skipped', 'dead_lettered', 'needs_source_fix')) NOT VALID`,
    );
    await db.query(`ALTER TABLE delivery_counts VALIDATE CONSTRAINT delivery_counts_outcome_check`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DELETE FROM delivery_counts WHERE outcome = 'needs_source_fix'`);
    await db.query(`ALTER TABLE delivery_counts DROP CONSTRAINT delivery_counts_outcome_check`);
    await db.query(
      `ALTER TABLE delivery_counts ADD CONSTRAINT delivery_counts_outcome_check
         CHECK (outcome IN ('received', 'delivered', 'skipped', 'dead_lettered'))`,
    );
    await db.query(`DROP TABLE source_fix_holds`);
  }
}

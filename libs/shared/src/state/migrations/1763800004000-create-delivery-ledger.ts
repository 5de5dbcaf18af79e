import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Submitter bookkeeping: a ledger of delivery outcomes per customer and destination (so
 * "received = delivered + skipped + dead-lettered + in retry" can be checked across restarts and
 * replicas), the retries currently waiting in retry topics (with their due time, for the overdue
 * watchdog), and the dead-lettered payloads so the admin API can retry them.
 */
export class CreateDeliveryLedger1763800004000 implements MigrationInterface {
  name = 'CreateDeliveryLedger1763800004000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE delivery_counts (
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        destination_id uuid NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
        outcome text NOT NULL CHECK (outcome IN ('received', 'delivered', 'skipped', 'dead_lettered')),
        n bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (customer_id, destination_id, outcome)
      )`);
    await db.query(`
      CREATE TABLE retry_entries (
        destination_id uuid NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
        event_id text NOT NULL,
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        resource text NOT NULL,
        source_id text NOT NULL,
        attempt int NOT NULL,
        due_at timestamptz NOT NULL,
        last_error text NOT NULL,
        first_failed_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (destination_id, event_id)
      )`);
    await db.query(`CREATE INDEX ix_retry_entries_due ON retry_entries (due_at)`);
    await db.query(`ALTER TABLE dead_letters ADD COLUMN payload bytea`);
    await db.query(`ALTER TABLE dead_letters ADD COLUMN message_key text`);
    await db.query(`ALTER TABLE dead_letters ADD COLUMN headers jsonb NOT NULL DEFAULT '{}'`);
    await db.query(
      `CREATE INDEX ix_dead_letters_destination ON dead_letters (customer_id, destination_id, status)`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX ix_dead_letters_destination');
    await db.query('ALTER TABLE dead_letters DROP COLUMN headers');
    await db.query('ALTER TABLE dead_letters DROP COLUMN message_key');
    await db.query('ALTER TABLE dead_letters DROP COLUMN payload');
    await db.query('DROP TABLE retry_entries');
    await db.query('DROP TABLE delivery_counts');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Submitter: lanes of waiting deliveries and a breaker per destination.
 * - A retry entry may be *parked* (parked_at set): the event waits in its destination's lane in
 *   PostgreSQL (payload, key and headers kept here, no Kafka retry message) because the
 *   destination's breaker is open or the destination was too slow for its share of a chunk. The
 *   lane drains oldest first (parked_seq) at the destination's pace.
 * - destination_breakers: one row per destination that has tripped or drained: breaker state,
 *   probe schedule, and the lease that lets one replica at a time drain the lane.
 * Only columns and a table are added: replicas of the previous release ignore both, and count a
 * parked entry as an entry in retry, which keeps their ledger balanced.
 */
export class DeliveryLanes1763800012000 implements MigrationInterface {
  name = 'DeliveryLanes1763800012000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE SEQUENCE retry_entries_parked_seq`);
    for (const column of [
      'parked_at timestamptz',
      'parked_seq bigint',
      'park_reason text',
      'payload bytea',
      'message_key text',
      'headers jsonb',
    ]) {
      await db.query(`ALTER TABLE retry_entries ADD COLUMN ${column}`);
    }
    await db.query(
      `CREATE INDEX ix_retry_entries_lane ON retry_entries (destination_id, parked_seq) WHERE parked_at IS NOT NULL`,
    );
    await db.query(`
      CREATE TABLE destination_breakers (
        destination_id uuid PRIMARY KEY REFERENCES destinations (id) ON DELETE CASCADE,
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        state text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open')),
        opened_at timestamptz,
        next_probe_at timestamptz,
        probe_interval_ms int NOT NULL DEFAULT 0,
        probes int NOT NULL DEFAULT 0,
        last_error text,
        lease_owner text,
        lease_until timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE destination_breakers`);
    await db.query(`DROP INDEX ix_retry_entries_lane`);
    for (const column of [
      'headers',
      'message_key',
      'payload',
      'park_reason',
      'parked_seq',
      'parked_at',
    ]) {
      await db.query(`ALTER TABLE retry_entries DROP COLUMN ${column}`);
    }
    await db.query(`DROP SEQUENCE retry_entries_parked_seq`);
  }
}

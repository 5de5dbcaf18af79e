import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sync state and audit trail written at the rate of the destination (issue 14). Measured on
 * 200,000 rows, the per-row costs that bought nothing on the hot path were:
 * - the foreign keys of sync_records and audit_log to customers and destinations: four row-level
 *   checks per delivered event (each locks the customer's or destination's row), 2.0 of the 3.1 s
 *   of a sync_records insert and 1.25 of the 2.45 s of an audit insert. Their one job, removing a
 *   customer's or destination's rows with it, is done by statement-level triggers instead
 *   (deleting a destination still sets audit_log.destination_id to NULL);
 * - the random uuid primary key of sync_records: an index entry on a random key per row. The
 *   natural key (customer, resource, source ID, destination), already unique, becomes the primary
 *   key; the id column stays with its default, so replicas of the previous release that name it
 *   keep working (a later release drops it);
 * - ix_sync_records_status, which no hot read used, and which misled the planner: with stale
 *   statistics (a new customer's first backfill) it chose that index for the delivery decision's
 *   per-record lookups and scanned every row of the customer for each record.
 * Nothing here changes a column the previous release reads or writes, so its replicas run
 * unchanged beside the new ones during a rolling deploy. A row a replica writes for a
 * destination deleted in the same instant may outlive it (no key refuses it any more): such a row
 * is never read (every read joins destinations or names a live one).
 */
export class LeanSyncState1763800013000 implements MigrationInterface {
  name = 'LeanSyncState1763800013000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX IF EXISTS ix_sync_records_status`);
    await db.query(
      `CREATE UNIQUE INDEX pk_sync_records ON sync_records (customer_id, resource, source_id, destination_id)`,
    );
    await db.query(
      `ALTER TABLE sync_records DROP CONSTRAINT sync_records_pkey, DROP CONSTRAINT uq_sync_records_target,
         ADD CONSTRAINT pk_sync_records PRIMARY KEY USING INDEX pk_sync_records`,
    );
    for (const [table, column] of [
      ['sync_records', 'customer_id'],
      ['sync_records', 'destination_id'],
      ['audit_log', 'customer_id'],
      ['audit_log', 'destination_id'],
    ]) {
      await db.query(`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${table}_${column}_fkey`);
    }
    await db.query(`
      CREATE FUNCTION sync_state_remove_customers() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM sync_records s USING gone g WHERE s.customer_id = g.id;
        DELETE FROM audit_log a USING gone g WHERE a.customer_id = g.id;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE TRIGGER tr_customers_remove_sync_state AFTER DELETE ON customers
        REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION sync_state_remove_customers()`);
    await db.query(`
      CREATE FUNCTION sync_state_remove_destinations() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM sync_records s USING gone g
         WHERE s.customer_id = g.customer_id AND s.destination_id = g.id;
        UPDATE audit_log a SET destination_id = NULL FROM gone g
         WHERE a.customer_id = g.customer_id AND a.destination_id = g.id;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE TRIGGER tr_destinations_remove_sync_state AFTER DELETE ON destinations
        REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION sync_state_remove_destinations()`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TRIGGER IF EXISTS tr_destinations_remove_sync_state ON destinations`);
    await db.query(`DROP FUNCTION IF EXISTS sync_state_remove_destinations()`);
    await db.query(`DROP TRIGGER IF EXISTS tr_customers_remove_sync_state ON customers`);
    await db.query(`DROP FUNCTION IF EXISTS sync_state_remove_customers()`);
    // Rows of customers or destinations removed meanwhile would refuse the keys: clear them.
    await db.query(
      `DELETE FROM sync_records s WHERE NOT EXISTS (SELECT 1 FROM destinations d WHERE d.id = s.destination_id)`,
    );
    await db.query(
      `DELETE FROM audit_log a WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = a.customer_id)`,
    );
    await db.query(
      `UPDATE audit_log a SET destination_id = NULL WHERE destination_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM destinations d WHERE d.id = a.destination_id)`,
    );
    await db.query(
      `ALTER TABLE audit_log ADD FOREIGN KEY (destination_id) REFERENCES destinations (id) ON DELETE SET NULL`,
    );
    await db.query(
      `ALTER TABLE audit_log ADD FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE`,
    );
    await db.query(
      `ALTER TABLE sync_records ADD FOREIGN KEY (destination_id) REFERENCES destinations (id) ON DELETE CASCADE`,
    );
    await db.query(
      `ALTER TABLE sync_records ADD FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE`,
    );
    await db.query(
      `ALTER TABLE sync_records DROP CONSTRAINT pk_sync_records, ADD PRIMARY KEY (id),
         ADD CONSTRAINT uq_sync_records_target UNIQUE (customer_id, resource, source_id, destination_id)`,
    );
    await db.query(
      `CREATE INDEX ix_sync_records_status ON sync_records (customer_id, destination_id, status)`,
    );
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The indexes the retention job's pruning statements use: name, table, columns and predicate. */
const PRUNING_INDEXES = [
  ['ix_audit_log_age', 'audit_log (at)'],
  [
    'ix_dead_letters_resolved',
    `dead_letters (resolved_at) WHERE status IN ('retried', 'discarded')`,
  ],
  [
    'ix_backfill_runs_finished',
    `backfill_runs (requested_at) WHERE status IN ('done', 'failed', 'cancelled')`,
  ],
  [
    'ix_replay_runs_finished',
    `replay_runs (requested_at) WHERE status IN ('done', 'failed', 'cancelled')`,
  ],
  [
    'ix_reconciliation_runs_finished',
    `reconciliation_runs (requested_at) WHERE status IN ('done', 'failed', 'skipped')`,
  ],
  ['ix_reconciliation_alerts_run', 'reconciliation_alerts (run_id)'],
] as const;

/**
 * Retention (issue 16).
 * - `webhook_last_deliveries`: the last accepted webhook per customer and source (time and the
 *   source's delivery ID), written by the webhook intake in the statement of its replay claim.
 *   The console reads it for "last webhook": `webhook_deliveries` holds replay records only for
 *   twice the signature tolerance (10 minutes by default), so the console's "last webhook"
 *   vanished 10 minutes after a delivery. Backfilled from the replay records there are.
 * - The indexes the retention job prunes by (age of audit rows, resolved dead letters, finished
 *   runs; alerts by run), built CONCURRENTLY so a live pipeline keeps writing those tables: this
 *   migration runs outside a transaction (`transaction = false`), each statement idempotent, so
 *   a migration interrupted half way is simply run again (an index left invalid is rebuilt).
 *
 * Additive only: a new table and indexes. Replicas of the previous release neither read nor
 * write the table; while they still take webhooks, the console reads the later of this table
 * and the replay records, so the last webhook they accepted shows too.
 */
export class Retention1763800018000 implements MigrationInterface {
  name = 'Retention1763800018000';
  transaction = false;

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE IF NOT EXISTS webhook_last_deliveries (
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        source text NOT NULL,
        received_at timestamptz NOT NULL,
        delivery_id text,
        PRIMARY KEY (customer_id, source)
      )`);
    await db.query(`
      INSERT INTO webhook_last_deliveries AS l (customer_id, source, received_at, delivery_id)
      SELECT DISTINCT ON (customer_id, source) customer_id, source, received_at, delivery_id
        FROM webhook_deliveries ORDER BY customer_id, source, received_at DESC
      ON CONFLICT (customer_id, source) DO UPDATE
        SET received_at = EXCLUDED.received_at, delivery_id = EXCLUDED.delivery_id
        WHERE l.received_at < EXCLUDED.received_at`);
    for (const [name, on] of PRUNING_INDEXES) {
      // An interrupted CREATE INDEX CONCURRENTLY leaves an invalid index behind: drop it first.
      const invalid = (await db.query(
        `SELECT 1 FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
          WHERE c.relname = $1 AND NOT i.indisvalid`,
        [name],
      )) as unknown[];
      if (invalid.length > 0) {
        await db.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
      }
      await db.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${name} ON ${on}`);
    }
  }

  async down(db: QueryRunner): Promise<void> {
    for (const [name] of [...PRUNING_INDEXES].reverse()) {
      await db.query(`DROP INDEX IF EXISTS ${name}`);
    }
    await db.query(`DROP TABLE IF EXISTS webhook_last_deliveries`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

const KINDS_BEFORE = `'window', 'deletion', 'crm-consistency'`;
const KINDS_AFTER = `'window', 'deletion', 'crm-consistency', 'webhook-log'`;

/**
 * Reconciler: a fourth kind of run, `webhook-log` (reads Raise's webhook delivery log and repairs
 * the deliveries that failed). Only the kind CHECKs of reconciliation_runs and
 * reconciliation_schedules widen; the checkpoint lives in the schedule's settings, so no column
 * is added. Replicas of the previous release never create or claim such rows (they ask for the
 * kinds they know), so the change is safe to roll out before the code.
 */
export class WebhookLogReconciliation1763800011000 implements MigrationInterface {
  name = 'WebhookLogReconciliation1763800011000';

  async up(db: QueryRunner): Promise<void> {
    await this.kinds(db, KINDS_AFTER);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DELETE FROM reconciliation_schedules WHERE kind = 'webhook-log'`);
    await db.query(`DELETE FROM reconciliation_runs WHERE kind = 'webhook-log'`);
    await this.kinds(db, KINDS_BEFORE);
  }

  private async kinds(db: QueryRunner, list: string): Promise<void> {
    for (const table of ['reconciliation_runs', 'reconciliation_schedules']) {
      await db.query(`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${table}_kind_check`);
      await db.query(
        `ALTER TABLE ${table} ADD CONSTRAINT ${table}_kind_check CHECK (kind IN (${list}))`,
      );
    }
  }
}

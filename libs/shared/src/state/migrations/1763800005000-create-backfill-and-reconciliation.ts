import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Backfill runs (one request: customer, resource, optional date range) split into leased ID
 * ranges; reconciliation schedules, their on-demand runs, the discrepancies a run found and the
 * ops alerts it raised; and the per-customer source request budget shared by every process that
 * calls a customer's source (poller and backfiller replicas alike).
 */
export class CreateBackfillAndReconciliation1763800005000 implements MigrationInterface {
  name = 'CreateBackfillAndReconciliation1763800005000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE backfill_runs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        source text NOT NULL,
        resource text NOT NULL,
        modified_from timestamptz,
        modified_to timestamptz,
        trigger text NOT NULL CHECK (trigger IN ('onboarding', 'admin', 'cli')),
        status text NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
        lease_owner text,
        lease_expires_at timestamptz,
        ranges int NOT NULL DEFAULT 0,
        records_total bigint,
        high_water_at timestamptz,
        high_water_id bigint,
        last_error text,
        requested_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        CONSTRAINT ck_backfill_run_window CHECK (
          modified_from IS NULL OR modified_to IS NULL OR modified_to > modified_from)
      )`);
    await db.query(
      `CREATE INDEX ix_backfill_runs_claimable ON backfill_runs (status, lease_expires_at) WHERE status = 'pending'`,
    );
    await db.query(
      `CREATE INDEX ix_backfill_runs_customer ON backfill_runs (customer_id, requested_at DESC)`,
    );
    await db.query(
      `ALTER TABLE backfill_jobs ADD COLUMN run_id uuid REFERENCES backfill_runs (id) ON DELETE CASCADE`,
    );
    await db.query(`ALTER TABLE backfill_jobs ADD COLUMN pages_done bigint NOT NULL DEFAULT 0`);
    await db.query(`ALTER TABLE backfill_jobs ADD COLUMN high_water_at timestamptz`);
    await db.query(`ALTER TABLE backfill_jobs ADD COLUMN high_water_id bigint`);
    await db.query(`ALTER TABLE backfill_jobs ADD COLUMN started_at timestamptz`);
    await db.query(`ALTER TABLE backfill_jobs ADD COLUMN finished_at timestamptz`);
    await db.query(`ALTER TABLE backfill_jobs ADD COLUMN last_error text`);
    await db.query(`CREATE INDEX ix_backfill_jobs_run ON backfill_jobs (run_id)`);

    await db.query(`
      CREATE TABLE source_rate_buckets (
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        api text NOT NULL,
        tokens double precision NOT NULL,
        refreshed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (customer_id, api)
      )`);

    await db.query(`
      CREATE TABLE reconciliation_schedules (
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('window', 'deletion', 'crm-consistency')),
        cadence text NOT NULL CHECK (cadence IN ('hourly', 'daily', 'weekly')),
        timezone text NOT NULL DEFAULT 'UTC',
        run_at_minute int NOT NULL DEFAULT 360 CHECK (run_at_minute BETWEEN 0 AND 1439),
        lag_hours int NOT NULL DEFAULT 4 CHECK (lag_hours BETWEEN 0 AND 72),
        enabled boolean NOT NULL DEFAULT true,
        settings jsonb NOT NULL DEFAULT '{}',
        next_run_at timestamptz NOT NULL,
        lease_owner text,
        lease_expires_at timestamptz,
        last_run_id uuid,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (customer_id, kind)
      )`);
    await db.query(
      `CREATE INDEX ix_reconciliation_schedules_due ON reconciliation_schedules (next_run_at) WHERE enabled`,
    );

    await db.query(
      `ALTER TABLE reconciliation_runs DROP CONSTRAINT IF EXISTS reconciliation_runs_status_check`,
    );
    await db.query(
      `ALTER TABLE reconciliation_runs ADD CONSTRAINT reconciliation_runs_status_check
         CHECK (status IN ('pending', 'running', 'done', 'failed', 'skipped'))`,
    );
    await db.query(
      `ALTER TABLE reconciliation_runs ADD COLUMN trigger text NOT NULL DEFAULT 'schedule'
         CHECK (trigger IN ('schedule', 'admin', 'cli'))`,
    );
    await db.query(`ALTER TABLE reconciliation_runs ADD COLUMN resources text[]`);
    await db.query(`ALTER TABLE reconciliation_runs ADD COLUMN lease_owner text`);
    await db.query(`ALTER TABLE reconciliation_runs ADD COLUMN lease_expires_at timestamptz`);
    await db.query(`ALTER TABLE reconciliation_runs ADD COLUMN duration_ms bigint`);
    await db.query(`ALTER TABLE reconciliation_runs ADD COLUMN error text`);
    await db.query(
      `ALTER TABLE reconciliation_runs ADD COLUMN requested_at timestamptz NOT NULL DEFAULT now()`,
    );
    await db.query(`ALTER TABLE reconciliation_runs ALTER COLUMN started_at DROP NOT NULL`);
    await db.query(
      `CREATE INDEX ix_reconciliation_runs_pending ON reconciliation_runs (requested_at) WHERE status = 'pending'`,
    );

    await db.query(`
      CREATE TABLE reconciliation_discrepancies (
        id bigserial PRIMARY KEY,
        run_id uuid NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        resource text NOT NULL,
        source_id text NOT NULL,
        destination_id uuid REFERENCES destinations (id) ON DELETE SET NULL,
        state text NOT NULL,
        actionable boolean NOT NULL,
        republished boolean NOT NULL DEFAULT false,
        details jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(
      `CREATE INDEX ix_reconciliation_discrepancies_run ON reconciliation_discrepancies (run_id, state)`,
    );
    await db.query(
      `CREATE INDEX ix_reconciliation_discrepancies_record ON reconciliation_discrepancies (customer_id, resource, source_id)`,
    );

    await db.query(`
      CREATE TABLE reconciliation_alerts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        run_id uuid NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        severity text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
        title text NOT NULL,
        details jsonb NOT NULL DEFAULT '{}',
        delivery_status text NOT NULL DEFAULT 'pending'
          CHECK (delivery_status IN ('pending', 'delivered', 'failed', 'not_configured')),
        delivery_attempts int NOT NULL DEFAULT 0,
        delivered_at timestamptz,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(
      `CREATE INDEX ix_reconciliation_alerts_customer ON reconciliation_alerts (customer_id, created_at DESC)`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE reconciliation_alerts');
    await db.query('DROP TABLE reconciliation_discrepancies');
    await db.query('DROP INDEX ix_reconciliation_runs_pending');
    for (const column of [
      'requested_at',
      'error',
      'duration_ms',
      'lease_expires_at',
      'lease_owner',
      'resources',
      'trigger',
    ]) {
      await db.query(`ALTER TABLE reconciliation_runs DROP COLUMN ${column}`);
    }
    await db.query(`DELETE FROM reconciliation_runs WHERE started_at IS NULL`);
    await db.query(`ALTER TABLE reconciliation_runs ALTER COLUMN started_at SET NOT NULL`);
    await db.query(
      `ALTER TABLE reconciliation_runs DROP CONSTRAINT reconciliation_runs_status_check`,
    );
    await db.query(
      `UPDATE reconciliation_runs SET status = 'failed' WHERE status IN ('pending', 'skipped')`,
    );
    await db.query(
      `ALTER TABLE reconciliation_runs ADD CONSTRAINT reconciliation_runs_status_check
         CHECK (status IN ('running', 'done', 'failed'))`,
    );
    await db.query('DROP TABLE reconciliation_schedules');
    await db.query('DROP TABLE source_rate_buckets');
    await db.query('DROP INDEX ix_backfill_jobs_run');
    for (const column of [
      'last_error',
      'finished_at',
      'started_at',
      'high_water_id',
      'high_water_at',
      'pages_done',
      'run_id',
    ]) {
      await db.query(`ALTER TABLE backfill_jobs DROP COLUMN ${column}`);
    }
    await db.query('DROP TABLE backfill_runs');
  }
}

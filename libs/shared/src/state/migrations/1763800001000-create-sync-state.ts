import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  BACKFILL_STATUSES,
  CHECKPOINT_DIRECTIONS,
  DEAD_LETTER_STATUSES,
  RECONCILIATION_KINDS,
  RECONCILIATION_STATUSES,
  SYNC_STATUSES,
  sqlList,
} from '../entities/statuses';

/** Per-record sync state, checkpoints, backfill ranges, dead letters, reconciliation, audit, write intents. */
export class CreateSyncState1763800001000 implements MigrationInterface {
  name = 'CreateSyncState1763800001000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE sync_records (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        resource text NOT NULL,
        source_id text NOT NULL,
        destination_id uuid NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
        status text NOT NULL CHECK (status IN (${sqlList(SYNC_STATUSES)})),
        destination_record_id text,
        attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        last_error text,
        last_event_id text,
        source_modified_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_sync_records_target UNIQUE (customer_id, resource, source_id, destination_id)
      )`);
    await db.query(
      `CREATE INDEX ix_sync_records_status ON sync_records (customer_id, destination_id, status)`,
    );

    await db.query(`
      CREATE TABLE checkpoints (
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        resource text NOT NULL,
        direction text NOT NULL CHECK (direction IN (${sqlList(CHECKPOINT_DIRECTIONS)})),
        source text NOT NULL,
        last_processed_at timestamptz NOT NULL,
        last_processed_id text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (customer_id, resource, direction)
      )`);

    await db.query(`
      CREATE TABLE backfill_jobs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        source text NOT NULL,
        resource text NOT NULL,
        modified_from timestamptz,
        modified_to timestamptz,
        range_start bigint NOT NULL,
        range_end bigint,
        cursor bigint,
        status text NOT NULL CHECK (status IN (${sqlList(BACKFILL_STATUSES)})),
        lease_owner text,
        lease_expires_at timestamptz,
        records_done bigint NOT NULL DEFAULT 0,
        records_total bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ck_backfill_range CHECK (range_end IS NULL OR range_end > range_start)
      )`);
    await db.query(
      `CREATE INDEX ix_backfill_jobs_claimable ON backfill_jobs (status, lease_expires_at) WHERE status IN ('pending', 'running')`,
    );
    await db.query(
      `CREATE INDEX ix_backfill_jobs_customer ON backfill_jobs (customer_id, source, resource)`,
    );

    await db.query(`
      CREATE TABLE dead_letters (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id uuid REFERENCES customers (id) ON DELETE CASCADE,
        destination_id uuid REFERENCES destinations (id) ON DELETE SET NULL,
        topic text NOT NULL,
        partition int NOT NULL,
        "offset" bigint NOT NULL,
        event_id text,
        resource text,
        source_id text,
        reason text NOT NULL,
        error_message text NOT NULL,
        attempts int NOT NULL,
        first_failed_at timestamptz NOT NULL,
        status text NOT NULL CHECK (status IN (${sqlList(DEAD_LETTER_STATUSES)})),
        resolved_at timestamptz,
        CONSTRAINT uq_dead_letters_position UNIQUE (topic, partition, "offset")
      )`);
    await db.query(
      `CREATE INDEX ix_dead_letters_open ON dead_letters (customer_id, status, first_failed_at)`,
    );

    await db.query(`
      CREATE TABLE reconciliation_runs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN (${sqlList(RECONCILIATION_KINDS)})),
        window_start timestamptz NOT NULL,
        window_end timestamptz NOT NULL,
        status text NOT NULL CHECK (status IN (${sqlList(RECONCILIATION_STATUSES)})),
        counts jsonb NOT NULL DEFAULT '{}',
        started_at timestamptz NOT NULL,
        finished_at timestamptz,
        CONSTRAINT ck_reconciliation_window CHECK (window_end > window_start)
      )`);
    await db.query(
      `CREATE INDEX ix_reconciliation_runs_customer ON reconciliation_runs (customer_id, kind, started_at DESC)`,
    );

    await db.query(`
      CREATE TABLE audit_log (
        id bigserial PRIMARY KEY,
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        resource text NOT NULL,
        source_id text NOT NULL,
        destination_id uuid REFERENCES destinations (id) ON DELETE SET NULL,
        event_id text,
        action text NOT NULL,
        from_status text,
        to_status text,
        detail jsonb NOT NULL DEFAULT '{}',
        at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(
      `CREATE INDEX ix_audit_log_record ON audit_log (customer_id, resource, source_id, at)`,
    );

    await db.query(`
      CREATE TABLE write_intents (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        resource text NOT NULL,
        source_id text NOT NULL,
        expected_fields jsonb NOT NULL,
        submitted_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        matched_at timestamptz
      )`);
    await db.query(
      `CREATE INDEX ix_write_intents_record ON write_intents (customer_id, resource, source_id, submitted_at DESC)`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of [
      'write_intents',
      'audit_log',
      'reconciliation_runs',
      'dead_letters',
      'backfill_jobs',
      'checkpoints',
      'sync_records',
    ]) {
      await db.query(`DROP TABLE ${table}`);
    }
  }
}

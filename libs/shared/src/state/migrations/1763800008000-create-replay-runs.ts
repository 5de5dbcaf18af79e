import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Topic replays (recovery): one row per request to read a customer's events back out of a source
 * topic between per-partition offsets and publish them again with origin `replay`, optionally
 * for one destination only. `bounds` holds the resolved range of every partition
 * (`[{ "partition": 0, "from": 120, "to": 480 }]`, from inclusive, to exclusive) and `positions`
 * the next offset to read per partition (`{ "0": 300 }`), moved forward after every published page,
 * so a replica that takes over a run whose lease expired resumes where the last page ended.
 */
export class CreateReplayRuns1763800008000 implements MigrationInterface {
  name = 'CreateReplayRuns1763800008000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE replay_runs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        topic text NOT NULL,
        source text NOT NULL,
        resource text NOT NULL,
        destination_id uuid,
        from_time timestamptz,
        to_time timestamptz,
        bounds jsonb NOT NULL,
        positions jsonb NOT NULL DEFAULT '{}'::jsonb,
        status text NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
        trigger text NOT NULL CHECK (trigger IN ('admin', 'cli')),
        requested_by text,
        messages_total bigint NOT NULL DEFAULT 0,
        messages_scanned bigint NOT NULL DEFAULT 0,
        messages_matched bigint NOT NULL DEFAULT 0,
        messages_published bigint NOT NULL DEFAULT 0,
        messages_undecodable bigint NOT NULL DEFAULT 0,
        pages_done bigint NOT NULL DEFAULT 0,
        lease_owner text,
        lease_expires_at timestamptz,
        attempts int NOT NULL DEFAULT 0,
        last_error text,
        requested_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ck_replay_run_window CHECK (
          from_time IS NULL OR to_time IS NULL OR to_time > from_time)
      )`);
    await db.query(
      `CREATE INDEX ix_replay_runs_claimable ON replay_runs (lease_expires_at)
         WHERE status IN ('pending', 'running')`,
    );
    await db.query(
      `CREATE INDEX ix_replay_runs_customer ON replay_runs (customer_id, requested_at DESC)`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE replay_runs');
  }
}

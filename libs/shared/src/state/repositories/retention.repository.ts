import type { DataSource, EntityManager } from 'typeorm';

/**
 * The tables the retention job prunes, in the order one tick visits them: a run's children
 * (backfill ranges, findings, alerts) before the run, so every statement stays bounded and no
 * cascade removes an unbounded number of rows behind it. Also the `table` label of the
 * retention metrics (a fixed list, never a caller's value).
 */
export const RETENTION_TABLES = [
  'audit_log',
  'dead_letters',
  'webhook_deliveries',
  'backfill_jobs',
  'backfill_runs',
  'replay_runs',
  'reconciliation_discrepancies',
  'reconciliation_alerts',
  'reconciliation_runs',
] as const;
export type RetentionTable = (typeof RETENTION_TABLES)[number];

/** `$1` in every statement below: the age in seconds beyond which a row may go. */
const CUTOFF = `now() - make_interval(secs => $1)`;

/**
 * A finished backfill or replay run (alias `r`) older than the cutoff that is not the newest
 * finished run of its customer, source and resource.
 */
const prunableRun = (table: 'backfill_runs' | 'replay_runs'): string => `
  r.status IN ('done', 'failed', 'cancelled')
  AND r.requested_at < ${CUTOFF}
  AND COALESCE(r.finished_at, r.requested_at) < ${CUTOFF}
  AND EXISTS (SELECT 1 FROM ${table} n
               WHERE n.customer_id = r.customer_id AND n.source = r.source
                 AND n.resource = r.resource AND n.status IN ('done', 'failed', 'cancelled')
                 AND (n.requested_at, n.id) > (r.requested_at, r.id))`;

/**
 * A finished reconciliation run (alias `r`) older than the cutoff that is neither the newest
 * finished run of its customer and kind nor the last run of its schedule.
 */
const PRUNABLE_RECONCILIATION_RUN = `
  r.status IN ('done', 'failed', 'skipped')
  AND r.requested_at < ${CUTOFF}
  AND COALESCE(r.finished_at, r.requested_at) < ${CUTOFF}
  AND NOT EXISTS (SELECT 1 FROM reconciliation_schedules s
                   WHERE s.customer_id = r.customer_id AND s.last_run_id = r.id)
  AND EXISTS (SELECT 1 FROM reconciliation_runs n
               WHERE n.customer_id = r.customer_id AND n.kind = r.kind
                 AND n.status IN ('done', 'failed', 'skipped')
                 AND (n.requested_at, n.id) > (r.requested_at, r.id))`;

/**
 * Per table, a SELECT of the physical row IDs of up to `$2` prunable rows, locked with SKIP
 * LOCKED so that replicas pruning at the same time take different rows and never wait on a
 * row a writer holds.
 */
const PRUNABLE: Record<RetentionTable, string> = {
  audit_log: `SELECT ctid FROM audit_log WHERE at < ${CUTOFF} LIMIT $2 FOR UPDATE SKIP LOCKED`,
  // Resolved only (retried or discarded): an open dead letter stays, however old. The payload
  // is a column of the row and goes with it.
  dead_letters: `SELECT ctid FROM dead_letters
    WHERE status IN ('retried', 'discarded') AND resolved_at < ${CUTOFF}
    LIMIT $2 FOR UPDATE SKIP LOCKED`,
  webhook_deliveries: `SELECT ctid FROM webhook_deliveries WHERE received_at < ${CUTOFF}
    LIMIT $2 FOR UPDATE SKIP LOCKED`,
  backfill_jobs: `SELECT j.ctid FROM backfill_jobs j JOIN backfill_runs r ON r.id = j.run_id
    WHERE ${prunableRun('backfill_runs')} LIMIT $2 FOR UPDATE OF j SKIP LOCKED`,
  backfill_runs: `SELECT r.ctid FROM backfill_runs r
    WHERE ${prunableRun('backfill_runs')}
      AND NOT EXISTS (SELECT 1 FROM backfill_jobs j WHERE j.run_id = r.id)
    LIMIT $2 FOR UPDATE OF r SKIP LOCKED`,
  replay_runs: `SELECT r.ctid FROM replay_runs r WHERE ${prunableRun('replay_runs')}
    LIMIT $2 FOR UPDATE OF r SKIP LOCKED`,
  // deleted_in_source findings are kept: the deletion check reads the delete events earlier runs
  // published from them (DiscrepancyRepository.publishedDeletes), so a destination that cannot
  // be asked is not sent the same delete again on every run. Their run stays with them.
  reconciliation_discrepancies: `SELECT d.ctid FROM reconciliation_discrepancies d
    JOIN reconciliation_runs r ON r.id = d.run_id
    WHERE d.state <> 'deleted_in_source' AND ${PRUNABLE_RECONCILIATION_RUN}
    LIMIT $2 FOR UPDATE OF d SKIP LOCKED`,
  reconciliation_alerts: `SELECT a.ctid FROM reconciliation_alerts a
    JOIN reconciliation_runs r ON r.id = a.run_id
    WHERE ${PRUNABLE_RECONCILIATION_RUN} LIMIT $2 FOR UPDATE OF a SKIP LOCKED`,
  reconciliation_runs: `SELECT r.ctid FROM reconciliation_runs r
    WHERE ${PRUNABLE_RECONCILIATION_RUN}
      AND NOT EXISTS (SELECT 1 FROM reconciliation_discrepancies d WHERE d.run_id = r.id)
      AND NOT EXISTS (SELECT 1 FROM reconciliation_alerts a WHERE a.run_id = r.id)
    LIMIT $2 FOR UPDATE OF r SKIP LOCKED`,
};

/**
 * The one owner of the retention job's pruning statements (issue 16). Each call is one
 * statement and so its own short transaction: it deletes at most `limit` rows of one table
 * that are older than the table's retention, by the table's rule:
 * - audit_log: by `at`;
 * - dead_letters: resolved ones (retried or discarded) by `resolved_at`; open ones never;
 * - webhook_deliveries (replay records): by `received_at` (the intake's replay window);
 * - backfill and replay runs: finished ones by their finish, except the newest finished run
 *   per customer, source and resource; a backfill run's ID ranges first, then the run;
 * - reconciliation runs: finished ones, except the newest finished run per customer and kind
 *   and the last run of a schedule; their findings and alerts first, then the run. Findings
 *   of state deleted_in_source are never pruned (the deletion check relies on them), nor the
 *   runs holding them.
 * Across customers: one job prunes every customer's old rows.
 */
export class RetentionRepository {
  constructor(private readonly db: DataSource | EntityManager) {}

  /** Deletes one batch of `table`'s rows older than `ageSeconds`; answers how many went. */
  async pruneBatchAcrossCustomers(
    table: RetentionTable,
    ageSeconds: number,
    limit: number,
  ): Promise<number> {
    // (The table name and statement come from the constants above, never from a caller.)
    const [, deleted] = await this.db.query<[unknown[], number]>(
      `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(${PRUNABLE[table]}))`,
      [ageSeconds, limit],
    );
    return deleted;
  }

  /** On-disk size (table, indexes and TOAST) of every pruned table, in bytes. */
  async tableBytesAcrossCustomers(): Promise<Map<RetentionTable, number>> {
    const rows: Array<{ t: RetentionTable; bytes: string | null }> = await this.db.query(
      `SELECT t, pg_total_relation_size(to_regclass(t)) AS bytes FROM unnest($1::text[]) AS t`,
      [[...RETENTION_TABLES]],
    );
    return new Map(rows.filter((r) => r.bytes !== null).map((r) => [r.t, Number(r.bytes)]));
  }
}

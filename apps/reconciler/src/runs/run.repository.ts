import { Injectable } from '@nestjs/common';
import type {
  CustomerScope,
  DiscrepancyState,
  ReconciliationKind,
  ReconciliationStatus,
  ReconciliationTrigger,
} from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';
import type { RunCounts } from './run-types';

/** A reconciliation run as the API shows it. */
export interface RunView {
  id: string;
  customerId: string;
  kind: ReconciliationKind;
  trigger: ReconciliationTrigger;
  status: ReconciliationStatus;
  windowStart: string;
  windowEnd: string;
  resources: string[] | null;
  counts: RunCounts;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  error: string | null;
  leaseOwner: string | null;
}

export interface DiscrepancyView {
  id: string;
  resource: string;
  sourceId: string;
  destinationId: string | null;
  state: DiscrepancyState;
  actionable: boolean;
  republished: boolean;
  details: Record<string, unknown>;
  createdAt: string;
}

interface RunRow {
  id: string;
  customer_id: string;
  kind: ReconciliationKind;
  trigger: ReconciliationTrigger;
  status: ReconciliationStatus;
  window_start: Date;
  window_end: Date;
  resources: string[] | null;
  counts: RunCounts;
  requested_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  duration_ms: string | null;
  error: string | null;
  lease_owner: string | null;
}

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

export function toRunView(row: RunRow): RunView {
  return {
    id: row.id,
    customerId: row.customer_id,
    kind: row.kind,
    trigger: row.trigger,
    status: row.status,
    windowStart: new Date(row.window_start).toISOString(),
    windowEnd: new Date(row.window_end).toISOString(),
    resources: row.resources,
    counts: row.counts ?? {},
    requestedAt: new Date(row.requested_at).toISOString(),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
    error: row.error,
    leaseOwner: row.lease_owner,
  };
}

const COLUMNS = `id, customer_id, kind, trigger, status, window_start, window_end, resources, counts,
  requested_at, started_at, finished_at, duration_ms, error, lease_owner`;

export interface RunRequest {
  kind: ReconciliationKind;
  windowStart: Date;
  windowEnd: Date;
  resources: string[] | null;
  trigger: ReconciliationTrigger;
}

/** What a finished attempt stores. */
export interface RunResult {
  status: 'done' | 'failed' | 'skipped';
  counts: RunCounts;
  error: string | null;
  durationMs: number;
}

/** A lease renewal: still ours, lost to another replica, or the customer was offboarded. */
export type LeaseRenewal = 'held' | 'lost' | 'offboarded';

/**
 * reconciliation_runs: requested runs wait as 'pending'; a runner claims one with a lease
 * (owner + expiry, renewed while it runs). A run whose lease expired (its replica died) is
 * claimable again and starts over from scratch: republishing is idempotent and the earlier
 * attempt's discrepancies are dropped when it is claimed. Also the run's discrepancies as the
 * admin API pages them, and the customer status a runner checks before a run.
 */
@Injectable()
export class RunRepository {
  constructor(private readonly db: DataSource) {}

  async request({ customerId }: CustomerScope, input: RunRequest): Promise<RunView> {
    const rows: RunRow[] = await this.db.query(
      `INSERT INTO reconciliation_runs (customer_id, kind, window_start, window_end, resources, trigger, status)
       VALUES ($1, $2, $3, $4, $5, $6, 'pending') RETURNING ${COLUMNS}`,
      [
        customerId,
        input.kind,
        input.windowStart.toISOString(),
        input.windowEnd.toISOString(),
        input.resources,
        input.trigger,
      ],
    );
    return toRunView(rows[0] as RunRow);
  }

  /**
   * Claims up to `limit` runs: pending ones, oldest first, and running ones whose lease expired.
   * Runs of the `exceptCustomers` (held by push-back right now) are left for later. Across
   * customers by design: a runner takes the next work of whichever customer it belongs to.
   */
  async claimAcrossCustomers(
    owner: string,
    leaseSeconds: number,
    limit: number,
    exceptCustomers: readonly string[] = [],
  ): Promise<RunView[]> {
    if (limit <= 0) {
      return [];
    }
    const [rows] = await this.db.query<[RunRow[], number]>(
      `UPDATE reconciliation_runs r
          SET status = 'running', lease_owner = $1,
              lease_expires_at = now() + make_interval(secs => $2),
              started_at = now(), finished_at = NULL, duration_ms = NULL, error = NULL, counts = '{}'
         FROM (SELECT id FROM reconciliation_runs
                WHERE (status = 'pending' OR (status = 'running' AND lease_expires_at < now()))
                  AND NOT (customer_id = ANY($4::uuid[]))
                ORDER BY requested_at
                LIMIT $3
                FOR UPDATE SKIP LOCKED) c
        WHERE r.id = c.id
      RETURNING ${COLUMNS.split(',')
        .map((c) => `r.${c.trim()}`)
        .join(', ')}`,
      [owner, leaseSeconds, limit, exceptCustomers],
    );
    // A run restarted after its replica died begins from scratch.
    if (rows.length > 0) {
      await this.db.query(
        `DELETE FROM reconciliation_discrepancies WHERE run_id = ANY($1::uuid[])`,
        [rows.map((r) => r.id)],
      );
    }
    return rows.map(toRunView);
  }

  /** Extends the lease; false when this owner no longer holds it. */
  async renew(
    { customerId }: CustomerScope,
    runId: string,
    owner: string,
    leaseSeconds: number,
  ): Promise<LeaseRenewal> {
    const [rows] = await this.db.query<[Array<{ customer_status: string | null }>, number]>(
      `UPDATE reconciliation_runs r SET lease_expires_at = now() + make_interval(secs => $3)
        WHERE id = $1 AND lease_owner = $2 AND status = 'running' AND customer_id = $4
       RETURNING (SELECT c.status FROM customers c WHERE c.id = r.customer_id) AS customer_status`,
      [runId, owner, leaseSeconds, customerId],
    );
    const row = rows[0];
    if (!row) {
      return 'lost';
    }
    return row.customer_status === null || row.customer_status === 'offboarded'
      ? 'offboarded'
      : 'held';
  }

  /** Stores the outcome; false when the lease was lost (another replica owns the run now). */
  async finish(
    { customerId }: CustomerScope,
    runId: string,
    owner: string,
    result: RunResult,
  ): Promise<boolean> {
    const [rows] = await this.db.query<[unknown[], number]>(
      `UPDATE reconciliation_runs
          SET status = $3, counts = $4::jsonb, error = $5, duration_ms = $6, finished_at = now(),
              lease_owner = NULL, lease_expires_at = NULL
        WHERE id = $1 AND lease_owner = $2 AND status = 'running' AND customer_id = $7 RETURNING 1`,
      [
        runId,
        owner,
        result.status,
        JSON.stringify(result.counts),
        result.error,
        Math.round(result.durationMs),
        customerId,
      ],
    );
    return rows.length > 0;
  }

  /** Hands a run back (graceful shutdown): pending again, claimable at once by another replica. */
  async release({ customerId }: CustomerScope, runId: string, owner: string): Promise<void> {
    await this.db.query(
      `UPDATE reconciliation_runs SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
              started_at = NULL
        WHERE id = $1 AND lease_owner = $2 AND status = 'running' AND customer_id = $3`,
      [runId, owner, customerId],
    );
  }

  /**
   * One run by its ID, whichever customer it belongs to. Across customers by design: the admin
   * API's run view names only the run; the customer is read from the row.
   */
  async getAcrossCustomers(runId: string): Promise<RunView | null> {
    const rows: RunRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM reconciliation_runs WHERE id = $1`,
      [runId],
    );
    return rows[0] ? toRunView(rows[0]) : null;
  }

  /** The customer's runs, newest first. */
  async list(
    { customerId }: CustomerScope,
    kind: ReconciliationKind | null,
    limit: number,
  ): Promise<RunView[]> {
    const rows: RunRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM reconciliation_runs
        WHERE customer_id = $1 AND ($2::text IS NULL OR kind = $2)
        ORDER BY requested_at DESC LIMIT $3`,
      [customerId, kind, limit],
    );
    return rows.map(toRunView);
  }

  /** A page of the run's discrepancies (the run must be the customer's) and their total. */
  async discrepancies(
    { customerId }: CustomerScope,
    runId: string,
    options: { offset: number; limit: number; state: string | null },
  ): Promise<{ total: number; items: DiscrepancyView[] }> {
    const totals: Array<{ n: string }> = await this.db.query(
      `SELECT count(*) AS n FROM reconciliation_discrepancies WHERE run_id = $1 AND ($2::text IS NULL OR state = $2)
          AND customer_id = $3`,
      [runId, options.state, customerId],
    );
    const rows: Array<{
      id: string;
      resource: string;
      source_id: string;
      destination_id: string | null;
      state: DiscrepancyState;
      actionable: boolean;
      republished: boolean;
      details: Record<string, unknown>;
      created_at: Date;
    }> = await this.db.query(
      `SELECT id, resource, source_id, destination_id, state, actionable, republished, details, created_at
         FROM reconciliation_discrepancies
        WHERE run_id = $1 AND ($2::text IS NULL OR state = $2) AND customer_id = $5
        ORDER BY id OFFSET $3 LIMIT $4`,
      [runId, options.state, options.offset, options.limit, customerId],
    );
    return {
      total: Number(totals[0]?.n ?? 0),
      items: rows.map((r) => ({
        id: String(r.id),
        resource: r.resource,
        sourceId: r.source_id,
        destinationId: r.destination_id,
        state: r.state,
        actionable: r.actionable,
        republished: r.republished,
        details: r.details,
        createdAt: new Date(r.created_at).toISOString(),
      })),
    };
  }

  /** The customer's status (null when it does not exist), checked before a run starts. */
  /**
   * The customer's status and where its data starts (`sync_from`, null: all of its history),
   * or null when the customer is gone.
   */
  async customerState({
    customerId,
  }: CustomerScope): Promise<{ status: string; syncFrom: Date | null } | null> {
    const customers: Array<{ status: string; sync_from: Date | null }> = await this.db.query(
      `SELECT status, sync_from FROM customers WHERE id = $1`,
      [customerId],
    );
    const row = customers[0];
    return row ? { status: row.status, syncFrom: row.sync_from } : null;
  }
}

import { Injectable } from '@nestjs/common';
import {
  CheckpointRepository,
  type BackfillTrigger,
  type CheckpointPosition,
  type CustomerScope,
  type SourceName,
} from '@raise-sync/shared/state';
import { DataSource, type EntityManager } from 'typeorm';
import type { PlannedRange } from '../planning/range-split';
import type { RangeStatus, RunView } from '../progress/run-view';

type RunStatus = RunView['status'];

/** A run this worker holds the planning lease of. */
export interface ClaimedRun {
  id: string;
  customer_id: string;
  source: string;
  resource: string;
  modified_from: Date | null;
  modified_to: Date | null;
}

/** A range this worker holds the lease of (backfill_jobs row plus what it needs to read it). */
export interface ClaimedRange {
  id: string;
  run_id: string;
  customer_id: string;
  source: string;
  resource: string;
  modified_from: Date | null;
  modified_to: Date | null;
  range_start: string;
  range_end: string | null;
  cursor: string | null;
  records_done: string;
  pages_done: string;
  high_water_at: Date | null;
  high_water_id: string | null;
}

/** A range to insert at planning: both ends included; end null = open-ended (VOMO). */
export interface RangeToInsert extends Omit<PlannedRange, 'end'> {
  end: number | null;
}

/** What the last finished range handed over to steady state. */
export interface HandOver {
  runDone: boolean;
  /** The poll checkpoint after the hand-over (null: not moved, e.g. nothing was read). */
  checkpoint: CheckpointPosition | null;
  customerLive: boolean;
}

/** One published page's checkpoint. */
export interface PageCheckpoint {
  cursor: string | null;
  records: number;
  highWater: { at: Date; id: string } | null;
}

/** A run as the admin API shows it: the backfill_runs row with its ranges' sums and counts. */
export interface RunRow {
  id: string;
  customer_id: string;
  source: string;
  resource: string;
  trigger: string;
  status: RunStatus;
  modified_from: Date | null;
  modified_to: Date | null;
  requested_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  last_error: string | null;
  records_total: string | null;
  high_water_at: Date | null;
  high_water_id: string | null;
  records_done: string;
  pages_done: string;
  pending: string;
  running: string;
  done: string;
  failed: string;
}

/** One backfill_jobs row as the admin API shows it. */
export interface RangeRow {
  id: string;
  range_start: string;
  range_end: string | null;
  cursor: string | null;
  status: RangeStatus;
  records_done: string;
  records_total: string | null;
  pages_done: string;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  last_error: string | null;
}

/** The newest run per customer and resource, for the progress metrics. */
export interface NewestRunRow {
  id: string;
  customer_id: string;
  resource: string;
  status: string;
  records_total: string | null;
  started_at: Date | null;
  finished_at: Date | null;
  records_done: string;
  pending: string;
  running: string;
  done: string;
  failed: string;
}

/** A run to request: which resource of which source. */
export interface RunTarget {
  source: SourceName;
  resource: string;
}

/** What requesting runs did: created them all, or found one of them already in progress. */
export type RequestedRuns =
  { created: string[] } | { busy: { id: string; resource: string; status: string } };

const RUN_SELECT = `
  SELECT r.id, r.customer_id, r.source, r.resource, r.trigger, r.status, r.modified_from, r.modified_to,
         r.requested_at, r.started_at, r.finished_at, r.last_error, r.records_total,
         r.high_water_at, r.high_water_id,
         COALESCE(sum(j.records_done), 0) AS records_done,
         COALESCE(sum(j.pages_done), 0) AS pages_done,
         count(j.id) FILTER (WHERE j.status = 'pending') AS pending,
         count(j.id) FILTER (WHERE j.status = 'running') AS running,
         count(j.id) FILTER (WHERE j.status = 'done') AS done,
         count(j.id) FILTER (WHERE j.status = 'failed') AS failed
    FROM backfill_runs r
    LEFT JOIN backfill_jobs j ON j.run_id = r.id`;

const secs = (seconds: number): number => Math.max(0, Math.round(seconds * 1000) / 1000);

/**
 * Every statement the backfiller runs against backfill_runs / backfill_jobs. Leases work like
 * the poll scheduler's: claims are one UPDATE over a `FOR UPDATE SKIP LOCKED` selection, and
 * every later write by a worker says `WHERE lease_owner = <me>`, so a worker that lost its lease
 * (it stalled past the expiry and someone else claimed the row) can no longer change the row.
 * Every write after a claim also says `customer_id = <the scope's>`.
 */
@Injectable()
export class BackfillRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * One pending run per target, unless one of the targets' resources already has a run pending
   * or running (then nothing is created and that run is returned as `busy`).
   */
  async requestRuns(
    scope: CustomerScope,
    targets: RunTarget[],
    from: Date | null,
    to: Date | null,
    trigger: BackfillTrigger,
  ): Promise<RequestedRuns> {
    return this.db.transaction(async (tx): Promise<RequestedRuns> => {
      // One request at a time per customer, so two requests cannot both pass the check below.
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [
        `backfill:${scope.customerId}`,
      ]);
      const active = await tx.query<Array<{ id: string; resource: string; status: string }>>(
        `SELECT id, resource, status FROM backfill_runs
          WHERE customer_id = $1 AND status IN ('pending', 'running') AND resource = ANY($2)`,
        [scope.customerId, targets.map((t) => t.resource)],
      );
      const busy = active[0];
      if (busy) {
        return { busy };
      }
      const created: string[] = [];
      for (const target of targets) {
        const rows = await tx.query<Array<{ id: string }>>(
          `INSERT INTO backfill_runs (customer_id, source, resource, modified_from, modified_to, trigger, status)
           VALUES ($1, $2, $3, $4, $5, $6, 'pending') RETURNING id`,
          [scope.customerId, target.source, target.resource, from, to, trigger],
        );
        created.push(rows[0]?.id ?? '');
      }
      return { created };
    });
  }

  /** The customer's runs, newest first. */
  listRuns(scope: CustomerScope): Promise<RunRow[]> {
    return this.db.query<RunRow[]>(
      `${RUN_SELECT} WHERE r.customer_id = $1 GROUP BY r.id ORDER BY r.requested_at DESC, r.resource`,
      [scope.customerId],
    );
  }

  /**
   * A run by its ID (a UUID), whoever's it is. Across customers: the admin API's run routes
   * name the run only; the row says whose it is.
   */
  async findRunAcrossCustomers(runId: string): Promise<RunRow | null> {
    const rows = await this.db.query<RunRow[]>(`${RUN_SELECT} WHERE r.id = $1 GROUP BY r.id`, [
      runId,
    ]);
    return rows[0] ?? null;
  }

  /** A run's ranges, in ID order. */
  ranges(scope: CustomerScope, runId: string): Promise<RangeRow[]> {
    return this.db.query<RangeRow[]>(
      `SELECT id, range_start, range_end, cursor, status, records_done, records_total, pages_done,
              lease_owner, lease_expires_at, started_at, finished_at, last_error
         FROM backfill_jobs WHERE run_id = $1 AND customer_id = $2 ORDER BY range_start`,
      [runId, scope.customerId],
    );
  }

  /**
   * The newest run per customer and resource with its ranges' sums and counts. Across
   * customers: every replica exports the progress metrics of every customer's backfills.
   */
  newestRunsAcrossCustomers(): Promise<NewestRunRow[]> {
    return this.db.query<NewestRunRow[]>(
      `SELECT DISTINCT ON (r.customer_id, r.resource)
              r.id, r.customer_id, r.resource, r.status, r.records_total, r.started_at, r.finished_at,
              COALESCE(sum(j.records_done), 0) AS records_done,
              count(j.id) FILTER (WHERE j.status = 'pending') AS pending,
              count(j.id) FILTER (WHERE j.status = 'running') AS running,
              count(j.id) FILTER (WHERE j.status = 'done') AS done,
              count(j.id) FILTER (WHERE j.status = 'failed') AS failed
         FROM backfill_runs r
         LEFT JOIN backfill_jobs j ON j.run_id = r.id
        GROUP BY r.id
        ORDER BY r.customer_id, r.resource, r.requested_at DESC`,
    );
  }

  /**
   * A pending run nobody is planning (or whose planner died), leased to `owner`. Across
   * customers: the planners take the oldest pending run of any customer.
   */
  async claimRunToPlanAcrossCustomers(
    owner: string,
    leaseSeconds: number,
  ): Promise<ClaimedRun | null> {
    const [rows] = await this.db.query<[ClaimedRun[], number]>(
      `UPDATE backfill_runs r
          SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2)
         FROM (SELECT id FROM backfill_runs
                WHERE status = 'pending'
                  AND (lease_expires_at IS NULL OR lease_expires_at < now())
                  -- History published before any destination is configured would reach no one:
                  -- a run waits (pending) until its customer has an enabled destination.
                  AND EXISTS (SELECT 1 FROM destinations d
                               WHERE d.customer_id = backfill_runs.customer_id AND d.enabled)
                ORDER BY requested_at
                LIMIT 1
                FOR UPDATE SKIP LOCKED) due
        WHERE r.id = due.id
        RETURNING r.id, r.customer_id, r.source, r.resource, r.modified_from, r.modified_to`,
      [owner, secs(leaseSeconds)],
    );
    return rows[0] ?? null;
  }

  /**
   * Stores a run's plan in one transaction: its ranges, its estimated total, status running.
   * Nothing is written unless this worker still holds the planning lease of a pending run, so
   * a crash or a lost lease during planning leaves the run pending, to be planned again whole.
   * A plan without ranges (the source has nothing to backfill) finishes the run right away.
   */
  async savePlan(
    scope: CustomerScope,
    run: ClaimedRun,
    owner: string,
    total: number,
    ranges: RangeToInsert[],
  ): Promise<'planned' | 'lost' | HandOver> {
    return this.db.transaction(async (tx) => {
      const locked = await tx.query<Array<{ id: string }>>(
        `SELECT id FROM backfill_runs
          WHERE id = $1 AND status = 'pending' AND lease_owner = $2 AND customer_id = $3
          FOR UPDATE`,
        [run.id, owner, scope.customerId],
      );
      if (locked.length === 0) {
        return 'lost';
      }
      for (const range of ranges) {
        await tx.query(
          `INSERT INTO backfill_jobs (run_id, customer_id, source, resource, modified_from, modified_to,
                                      range_start, range_end, status, records_total)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9)`,
          [
            run.id,
            scope.customerId,
            run.source,
            run.resource,
            run.modified_from,
            run.modified_to,
            range.start,
            range.end,
            range.recordsTotal,
          ],
        );
      }
      await tx.query(
        `UPDATE backfill_runs
            SET status = 'running', ranges = $2, records_total = $3, started_at = now(),
                lease_owner = NULL, lease_expires_at = NULL, last_error = NULL
          WHERE id = $1 AND customer_id = $4`,
        [run.id, ranges.length, total, scope.customerId],
      );
      if (ranges.length === 0) {
        return this.completeRun(tx, scope, run.id);
      }
      return 'planned';
    });
  }

  /** Gives a run's planning lease back, retried after `backoffSeconds` (0 = at once). */
  async releaseRun(
    scope: CustomerScope,
    runId: string,
    owner: string,
    backoffSeconds: number,
    error: string,
  ): Promise<void> {
    await this.db.query(
      `UPDATE backfill_runs
          SET lease_owner = NULL,
              lease_expires_at = CASE WHEN $3::float8 > 0 THEN now() + make_interval(secs => $3) END,
              last_error = $4
        WHERE id = $1 AND lease_owner = $2 AND status = 'pending' AND customer_id = $5`,
      [runId, owner, secs(backoffSeconds), error, scope.customerId],
    );
  }

  /** Ends a run as failed (no retry: e.g. the token was refused); its unfinished ranges fail too. */
  async failRun(scope: CustomerScope, runId: string, message: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const [rows] = await tx.query<[unknown[], number]>(
        `UPDATE backfill_runs
            SET status = 'failed', last_error = $2, finished_at = now(),
                lease_owner = NULL, lease_expires_at = NULL
          WHERE id = $1 AND status IN ('pending', 'running') AND customer_id = $3
          RETURNING 1`,
        [runId, message, scope.customerId],
      );
      await tx.query(
        `UPDATE backfill_jobs
            SET status = 'failed', last_error = $2, lease_owner = NULL, lease_expires_at = NULL,
                updated_at = now()
          WHERE run_id = $1 AND status IN ('pending', 'running') AND customer_id = $3`,
        [runId, message, scope.customerId],
      );
      return rows.length > 0;
    });
  }

  /**
   * Cancels the pending and running runs of offboarded customers (their unfinished ranges fail
   * as 'cancelled: customer offboarded'); returns how many runs. Across customers by design: the
   * scheduler's sweep after an offboarding, whichever replica ingest's admin API was called on.
   */
  async cancelRunsOfOffboardedAcrossCustomers(): Promise<number> {
    const rows: Array<{ n: string }> = await this.db.query(
      `WITH runs AS (
         UPDATE backfill_runs r
            SET status = 'cancelled', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
                last_error = 'customer offboarded'
           FROM customers c
          WHERE c.id = r.customer_id AND c.status = 'offboarded' AND r.status IN ('pending', 'running')
         RETURNING r.id, r.customer_id
       ), ranges AS (
         UPDATE backfill_jobs j
            SET status = 'failed', last_error = 'cancelled: customer offboarded', lease_owner = NULL,
                lease_expires_at = NULL, updated_at = now()
           FROM runs
          WHERE j.run_id = runs.id AND j.customer_id = runs.customer_id AND j.status IN ('pending', 'running')
         RETURNING 1
       )
       SELECT count(*) AS n FROM runs`,
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Cancels a pending or running run: its unfinished ranges end as failed ('cancelled'), their
   * leases are cleared, so the workers on them stop at their next checkpoint (it no longer
   * matches their lease). Returns false when the run had already finished.
   */
  async cancelRun(scope: CustomerScope, runId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const [rows] = await tx.query<[unknown[], number]>(
        `UPDATE backfill_runs
            SET status = 'cancelled', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL
          WHERE id = $1 AND status IN ('pending', 'running') AND customer_id = $2
          RETURNING 1`,
        [runId, scope.customerId],
      );
      if (rows.length === 0) {
        return false;
      }
      await tx.query(
        `UPDATE backfill_jobs
            SET status = 'failed', last_error = 'cancelled', lease_owner = NULL,
                lease_expires_at = NULL, updated_at = now()
          WHERE run_id = $1 AND status IN ('pending', 'running') AND customer_id = $2`,
        [runId, scope.customerId],
      );
      return true;
    });
  }

  /**
   * Up to `limit` ranges of running runs: pending ones (whose retry backoff, if any, is over) and
   * running ones whose lease expired (their worker died or stalled). Ranges of paused or
   * offboarded customers wait. Customers with fewer ranges in progress go first. Across
   * customers: the workers' slots are shared by every customer's ranges.
   */
  async claimRangesAcrossCustomers(
    owner: string,
    leaseSeconds: number,
    limit: number,
  ): Promise<ClaimedRange[]> {
    if (limit <= 0) {
      return [];
    }
    const [rows] = await this.db.query<[ClaimedRange[], number]>(
      `UPDATE backfill_jobs j
          SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2),
              status = 'running', started_at = COALESCE(j.started_at, now()), updated_at = now()
         FROM (SELECT j2.id
                 FROM backfill_jobs j2
                 JOIN backfill_runs r ON r.id = j2.run_id
                 JOIN customers c ON c.id = j2.customer_id
                WHERE r.status = 'running'
                  AND c.status NOT IN ('paused', 'offboarded')
                  AND j2.status IN ('pending', 'running')
                  AND (j2.lease_expires_at IS NULL OR j2.lease_expires_at < now())
                -- Customers with the fewest ranges in progress first, so one large backfill
                -- does not take every worker while another customer's run waits.
                ORDER BY (SELECT count(*) FROM backfill_jobs x
                           WHERE x.customer_id = j2.customer_id AND x.status = 'running'
                             AND x.lease_expires_at >= now()),
                         r.requested_at, j2.range_start
                LIMIT $3
                FOR UPDATE OF j2 SKIP LOCKED) due
        WHERE j.id = due.id
        RETURNING j.id, j.run_id, j.customer_id, j.source, j.resource, j.modified_from, j.modified_to,
                  j.range_start, j.range_end, j.cursor, j.records_done, j.pages_done,
                  j.high_water_at, j.high_water_id`,
      [owner, secs(leaseSeconds), limit],
    );
    return rows;
  }

  /** Extends a held lease; false when it is no longer this worker's. */
  async renewRange(
    scope: CustomerScope,
    rangeId: string,
    owner: string,
    leaseSeconds: number,
  ): Promise<boolean> {
    const [rows] = await this.db.query<[unknown[], number]>(
      `UPDATE backfill_jobs SET lease_expires_at = now() + make_interval(secs => $3)
        WHERE id = $1 AND lease_owner = $2 AND status = 'running' AND customer_id = $4
        RETURNING 1`,
      [rangeId, owner, secs(leaseSeconds), scope.customerId],
    );
    return rows.length > 0;
  }

  /**
   * After a page was acknowledged by Kafka: moves the range's cursor to the page's last ID, adds
   * its records and page, raises the high-water mark, renews the lease. Only while the lease is
   * still this worker's; false means it was lost (or the run cancelled) and the worker must stop.
   */
  async checkpoint(
    scope: CustomerScope,
    rangeId: string,
    owner: string,
    leaseSeconds: number,
    page: PageCheckpoint,
  ): Promise<boolean> {
    const [rows] = await this.db.query<[unknown[], number]>(
      `UPDATE backfill_jobs
          SET cursor = COALESCE($4::bigint, cursor),
              records_done = records_done + $5,
              pages_done = pages_done + 1,
              high_water_at = CASE WHEN $6::timestamptz IS NOT NULL
                                    AND (high_water_at IS NULL
                                         OR ($6::timestamptz, $7::bigint) > (high_water_at, high_water_id))
                                   THEN $6::timestamptz ELSE high_water_at END,
              high_water_id = CASE WHEN $6::timestamptz IS NOT NULL
                                    AND (high_water_at IS NULL
                                         OR ($6::timestamptz, $7::bigint) > (high_water_at, high_water_id))
                                   THEN $7::bigint ELSE high_water_id END,
              lease_expires_at = now() + make_interval(secs => $3),
              last_error = NULL,
              updated_at = now()
        WHERE id = $1 AND lease_owner = $2 AND status = 'running' AND customer_id = $8
        RETURNING 1`,
      [
        rangeId,
        owner,
        secs(leaseSeconds),
        page.cursor,
        page.records,
        page.highWater?.at ?? null,
        page.highWater?.id ?? null,
        scope.customerId,
      ],
    );
    return rows.length > 0;
  }

  /** Gives a range back after a retriable failure; claimable again after `backoffSeconds`. */
  async releaseRange(
    scope: CustomerScope,
    rangeId: string,
    owner: string,
    backoffSeconds: number,
    error: string | null,
  ): Promise<void> {
    await this.db.query(
      `UPDATE backfill_jobs
          SET status = 'pending', lease_owner = NULL,
              lease_expires_at = CASE WHEN $3::float8 > 0 THEN now() + make_interval(secs => $3) END,
              last_error = COALESCE($4, last_error), updated_at = now()
        WHERE id = $1 AND lease_owner = $2 AND status = 'running' AND customer_id = $5`,
      [rangeId, owner, secs(backoffSeconds), error, scope.customerId],
    );
  }

  /**
   * Marks a range done. With the run row locked, in the same transaction, checks whether it was
   * the run's last unfinished range; if so the run is done and steady state takes over (see
   * completeRun). Two ranges finishing at once queue on the run lock, so exactly one of them
   * sees the other done and completes the run. 'lost' when the lease was no longer ours.
   */
  async finishRange(
    scope: CustomerScope,
    rangeId: string,
    runId: string,
    owner: string,
  ): Promise<'lost' | HandOver> {
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT id FROM backfill_runs WHERE id = $1 AND customer_id = $2 FOR UPDATE`, [
        runId,
        scope.customerId,
      ]);
      const [done] = await tx.query<[unknown[], number]>(
        `UPDATE backfill_jobs
            SET status = 'done', finished_at = now(), lease_expires_at = NULL, updated_at = now()
          WHERE id = $1 AND lease_owner = $2 AND status = 'running' AND customer_id = $3
          RETURNING 1`,
        [rangeId, owner, scope.customerId],
      );
      if (done.length === 0) {
        return 'lost';
      }
      const open = await tx.query<Array<{ n: string }>>(
        `SELECT count(*) AS n FROM backfill_jobs
          WHERE run_id = $1 AND status <> 'done' AND customer_id = $2`,
        [runId, scope.customerId],
      );
      if (Number(open[0]?.n ?? 0) > 0) {
        return { runDone: false, checkpoint: null, customerLive: false };
      }
      return this.completeRun(tx, scope, runId);
    });
  }

  /**
   * The run's hand-over to steady state, inside the caller's transaction (run row locked):
   *
   * 1. The run is done, with the newest (modified time, ID) any of its ranges published.
   * 2. Unless another run of the same customer and resource is still pending or running, the
   *    inbound poll checkpoint moves forward (never back) to that high-water mark, capped at
   *    the moment the run started (and at its modifiedTo): ranges were read one after another,
   *    so a record changed during the backfill in a range already read has a modified time after
   *    the start but may sit below the high-water mark set by a range read later. Capping makes
   *    the poller read everything changed since the start again; nothing falls in between.
   *    Polling of the resource, deferred at onboarding (next_poll_at = infinity), is due now.
   * 3. Unless the customer has another run pending or running, a customer that was backfilling
   *    (or onboarding) goes live; a paused or offboarded customer keeps its status. The
   *    customer row is locked first, so of two runs ending together the later sees the earlier
   *    done.
   */
  private async completeRun(
    tx: EntityManager,
    scope: CustomerScope,
    runId: string,
  ): Promise<HandOver> {
    // The customer row first: runs of the customer that end at the same moment (one per
    // resource, on different workers) hold different run locks, so each would see the others
    // still running and none would make the customer live. Queued on this lock, the last one
    // sees every other run done. (NO KEY UPDATE: rows referencing the customer are still
    // written meanwhile.)
    await tx.query(`SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE`, [scope.customerId]);
    const [runs] = await tx.query<
      [
        Array<{
          customer_id: string;
          source: string;
          resource: string;
          started_at: Date;
          modified_to: Date | null;
          high_water_at: Date | null;
          high_water_id: string | null;
        }>,
        number,
      ]
    >(
      `UPDATE backfill_runs r
          SET status = 'done', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
              high_water_at = hw.at, high_water_id = hw.id
         FROM (SELECT (SELECT high_water_at FROM backfill_jobs WHERE run_id = $1 AND high_water_at IS NOT NULL
                        ORDER BY high_water_at DESC, high_water_id DESC LIMIT 1) AS at,
                      (SELECT high_water_id FROM backfill_jobs WHERE run_id = $1 AND high_water_at IS NOT NULL
                        ORDER BY high_water_at DESC, high_water_id DESC LIMIT 1) AS id) hw
        WHERE r.id = $1 AND r.status = 'running' AND r.customer_id = $2
        RETURNING r.customer_id, r.source, r.resource, r.started_at, r.modified_to,
                  r.high_water_at, r.high_water_id`,
      [runId, scope.customerId],
    );
    const run = runs[0];
    if (!run) {
      return { runDone: false, checkpoint: null, customerLive: false };
    }
    let checkpoint: CheckpointPosition | null = null;
    const sameResource = await tx.query<Array<{ n: string }>>(
      `SELECT count(*) AS n FROM backfill_runs
        WHERE customer_id = $1 AND source = $2 AND resource = $3 AND id <> $4
          AND status IN ('pending', 'running')`,
      [scope.customerId, run.source, run.resource, runId],
    );
    if (Number(sameResource[0]?.n ?? 0) === 0) {
      const handOver = cappedHighWater(run);
      if (handOver) {
        checkpoint = await new CheckpointRepository(tx).advance(
          scope,
          run.source,
          run.resource,
          'inbound',
          handOver,
        );
      }
      await tx.query(
        `UPDATE poll_schedule SET next_poll_at = now()
          WHERE customer_id = $1 AND source = $2 AND resource = $3 AND next_poll_at = 'infinity'`,
        [scope.customerId, run.source, run.resource],
      );
    }
    const [live] = await tx.query<[unknown[], number]>(
      `UPDATE customers SET status = 'live', updated_at = now()
        WHERE id = $1 AND status IN ('backfilling', 'onboarding')
          AND NOT EXISTS (SELECT 1 FROM backfill_runs
                           WHERE customer_id = $1 AND id <> $2 AND status IN ('pending', 'running'))
        RETURNING 1`,
      [scope.customerId, runId],
    );
    return { runDone: true, checkpoint, customerLive: live.length > 0 };
  }
}

/**
 * The poll checkpoint a finished run hands over: its high-water mark, or, when that is later
 * than the run's start (or its modifiedTo), that moment with ID '0' (everything at that
 * instant is read again). Null when the run read nothing.
 */
export function cappedHighWater(run: {
  started_at: Date;
  modified_to: Date | null;
  high_water_at: Date | null;
  high_water_id: string | null;
}): CheckpointPosition | null {
  if (!run.high_water_at || run.high_water_id === null) {
    return null;
  }
  const capMs = Math.min(
    run.started_at.getTime(),
    run.modified_to?.getTime() ?? Number.POSITIVE_INFINITY,
  );
  if (run.high_water_at.getTime() < capMs) {
    return { at: run.high_water_at, id: run.high_water_id };
  }
  return { at: new Date(capMs), id: '0' };
}

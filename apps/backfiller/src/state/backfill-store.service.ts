import { Injectable } from '@nestjs/common';
import {
  CheckpointRepository,
  type CheckpointPosition,
  customerScope,
} from '@raise-sync/shared/state';
import { DataSource, type EntityManager } from 'typeorm';
import type { PlannedRange } from '../planning/range-split';

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

const secs = (seconds: number): number => Math.max(0, Math.round(seconds * 1000) / 1000);

/**
 * Every statement the backfiller runs against backfill_runs / backfill_jobs. Leases work like
 * the poll scheduler's: claims are one UPDATE over a `FOR UPDATE SKIP LOCKED` selection, and
 * every later write by a worker says `WHERE lease_owner = <me>`, so a worker that lost its lease
 * (it stalled past the expiry and someone else claimed the row) can no longer change the row.
 */
@Injectable()
export class BackfillStore {
  constructor(private readonly db: DataSource) {}

  /** A pending run nobody is planning (or whose planner died), leased to `owner`. */
  async claimRunToPlan(owner: string, leaseSeconds: number): Promise<ClaimedRun | null> {
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
    run: ClaimedRun,
    owner: string,
    total: number,
    ranges: RangeToInsert[],
  ): Promise<'planned' | 'lost' | HandOver> {
    return this.db.transaction(async (tx) => {
      const locked = await tx.query<Array<{ id: string }>>(
        `SELECT id FROM backfill_runs WHERE id = $1 AND status = 'pending' AND lease_owner = $2 FOR UPDATE`,
        [run.id, owner],
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
            run.customer_id,
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
          WHERE id = $1`,
        [run.id, ranges.length, total],
      );
      if (ranges.length === 0) {
        return this.completeRun(tx, run.id);
      }
      return 'planned';
    });
  }

  /** Gives a run's planning lease back, retried after `backoffSeconds` (0 = at once). */
  async releaseRun(
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
        WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`,
      [runId, owner, secs(backoffSeconds), error],
    );
  }

  /** Ends a run as failed (no retry: e.g. the token was refused); its unfinished ranges fail too. */
  async failRun(runId: string, message: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const [rows] = await tx.query<[unknown[], number]>(
        `UPDATE backfill_runs
            SET status = 'failed', last_error = $2, finished_at = now(),
                lease_owner = NULL, lease_expires_at = NULL
          WHERE id = $1 AND status IN ('pending', 'running')
          RETURNING 1`,
        [runId, message],
      );
      await tx.query(
        `UPDATE backfill_jobs
            SET status = 'failed', last_error = $2, lease_owner = NULL, lease_expires_at = NULL,
                updated_at = now()
          WHERE run_id = $1 AND status IN ('pending', 'running')`,
        [runId, message],
      );
      return rows.length > 0;
    });
  }

  /**
   * Cancels a pending or running run: its unfinished ranges end as failed ('cancelled'), their
   * leases are cleared, so the workers on them stop at their next checkpoint (it no longer
   * matches their lease). Returns false when the run had already finished.
   */
  async cancelRun(runId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const [rows] = await tx.query<[unknown[], number]>(
        `UPDATE backfill_runs
            SET status = 'cancelled', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL
          WHERE id = $1 AND status IN ('pending', 'running')
          RETURNING 1`,
        [runId],
      );
      if (rows.length === 0) {
        return false;
      }
      await tx.query(
        `UPDATE backfill_jobs
            SET status = 'failed', last_error = 'cancelled', lease_owner = NULL,
                lease_expires_at = NULL, updated_at = now()
          WHERE run_id = $1 AND status IN ('pending', 'running')`,
        [runId],
      );
      return true;
    });
  }

  /**
   * Up to `limit` ranges of running runs: pending ones (whose retry backoff, if any, is over) and
   * running ones whose lease expired (their worker died or stalled). Ranges of paused or
   * offboarded customers wait. Customers with fewer ranges in progress go first.
   */
  async claimRanges(owner: string, leaseSeconds: number, limit: number): Promise<ClaimedRange[]> {
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
  async renewRange(rangeId: string, owner: string, leaseSeconds: number): Promise<boolean> {
    const [rows] = await this.db.query<[unknown[], number]>(
      `UPDATE backfill_jobs SET lease_expires_at = now() + make_interval(secs => $3)
        WHERE id = $1 AND lease_owner = $2 AND status = 'running'
        RETURNING 1`,
      [rangeId, owner, secs(leaseSeconds)],
    );
    return rows.length > 0;
  }

  /**
   * After a page was acknowledged by Kafka: moves the range's cursor to the page's last ID, adds
   * its records and page, raises the high-water mark, renews the lease. Only while the lease is
   * still this worker's; false means it was lost (or the run cancelled) and the worker must stop.
   */
  async checkpoint(
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
        WHERE id = $1 AND lease_owner = $2 AND status = 'running'
        RETURNING 1`,
      [
        rangeId,
        owner,
        secs(leaseSeconds),
        page.cursor,
        page.records,
        page.highWater?.at ?? null,
        page.highWater?.id ?? null,
      ],
    );
    return rows.length > 0;
  }

  /** Gives a range back after a retriable failure; claimable again after `backoffSeconds`. */
  async releaseRange(
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
        WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
      [rangeId, owner, secs(backoffSeconds), error],
    );
  }

  /**
   * Marks a range done. With the run row locked, in the same transaction, checks whether it was
   * the run's last unfinished range; if so the run is done and steady state takes over (see
   * completeRun). Two ranges finishing at once queue on the run lock, so exactly one of them
   * sees the other done and completes the run. 'lost' when the lease was no longer ours.
   */
  async finishRange(rangeId: string, runId: string, owner: string): Promise<'lost' | HandOver> {
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT id FROM backfill_runs WHERE id = $1 FOR UPDATE`, [runId]);
      const [done] = await tx.query<[unknown[], number]>(
        `UPDATE backfill_jobs
            SET status = 'done', finished_at = now(), lease_expires_at = NULL, updated_at = now()
          WHERE id = $1 AND lease_owner = $2 AND status = 'running'
          RETURNING 1`,
        [rangeId, owner],
      );
      if (done.length === 0) {
        return 'lost';
      }
      const open = await tx.query<Array<{ n: string }>>(
        `SELECT count(*) AS n FROM backfill_jobs WHERE run_id = $1 AND status <> 'done'`,
        [runId],
      );
      if (Number(open[0]?.n ?? 0) > 0) {
        return { runDone: false, checkpoint: null, customerLive: false };
      }
      return this.completeRun(tx, runId);
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
   *    (or onboarding) goes live; a paused or offboarded customer keeps its status.
   */
  private async completeRun(tx: EntityManager, runId: string): Promise<HandOver> {
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
        WHERE r.id = $1 AND r.status = 'running'
        RETURNING r.customer_id, r.source, r.resource, r.started_at, r.modified_to,
                  r.high_water_at, r.high_water_id`,
      [runId],
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
      [run.customer_id, run.source, run.resource, runId],
    );
    if (Number(sameResource[0]?.n ?? 0) === 0) {
      const handOver = cappedHighWater(run);
      if (handOver) {
        checkpoint = await new CheckpointRepository(tx).advance(
          customerScope(run.customer_id),
          run.source,
          run.resource,
          'inbound',
          handOver,
        );
      }
      await tx.query(
        `UPDATE poll_schedule SET next_poll_at = now()
          WHERE customer_id = $1 AND source = $2 AND resource = $3 AND next_poll_at = 'infinity'`,
        [run.customer_id, run.source, run.resource],
      );
    }
    const [live] = await tx.query<[unknown[], number]>(
      `UPDATE customers SET status = 'live', updated_at = now()
        WHERE id = $1 AND status IN ('backfilling', 'onboarding')
          AND NOT EXISTS (SELECT 1 FROM backfill_runs
                           WHERE customer_id = $1 AND id <> $2 AND status IN ('pending', 'running'))
        RETURNING 1`,
      [run.customer_id, runId],
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

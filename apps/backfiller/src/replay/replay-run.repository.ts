import { Injectable } from '@nestjs/common';
import type {
  CustomerScope,
  ReplayPartitionBounds,
  ReplayRunStatus,
  ReplayTrigger,
} from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

/** A replay_runs row as the worker and the admin API read it. */
export interface ReplayRunRow {
  id: string;
  customer_id: string;
  topic: string;
  source: string;
  resource: string;
  destination_id: string | null;
  from_time: Date | null;
  to_time: Date | null;
  bounds: ReplayPartitionBounds[];
  positions: Record<string, number>;
  status: ReplayRunStatus;
  trigger: ReplayTrigger;
  requested_by: string | null;
  messages_total: string;
  messages_scanned: string;
  messages_matched: string;
  messages_published: string;
  messages_undecodable: string;
  pages_done: string;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  attempts: number;
  last_error: string | null;
  requested_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

/** A run to store (the customer is the scope's). */
export interface NewReplayRun {
  topic: string;
  source: string;
  resource: string;
  destinationId: string | null;
  fromTime: Date | null;
  toTime: Date | null;
  bounds: ReplayPartitionBounds[];
  total: number;
  trigger: ReplayTrigger;
  requestedBy: string | null;
}

/** One published page of one partition. */
export interface ReplayPage {
  /** The partition's key in `positions` (`positionKey`: `<partition>` or `<topic>:<partition>`). */
  key: string;
  /** The next offset to read in that partition after this page. */
  position: number;
  scanned: number;
  matched: number;
  published: number;
  undecodable: number;
}

const secs = (seconds: number): number => Math.max(0, Math.round(seconds * 1000) / 1000);

/**
 * Every statement on replay_runs. Leases work like the backfill ranges': a claim is one UPDATE
 * over a `FOR UPDATE SKIP LOCKED` selection, and each later write of the worker says
 * `WHERE lease_owner = <me>`, so a worker that lost its lease (or whose run was cancelled) can no
 * longer move the checkpoint and stops at its next page. Every write after a claim also says
 * `customer_id = <the scope's>`.
 */
@Injectable()
export class ReplayRunRepository {
  constructor(private readonly db: DataSource) {}

  async create(scope: CustomerScope, run: NewReplayRun): Promise<string> {
    const rows = await this.db.query<Array<{ id: string }>>(
      `INSERT INTO replay_runs (customer_id, topic, source, resource, destination_id, from_time, to_time,
                                bounds, status, trigger, requested_by, messages_total)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, 'pending', $9, $10, $11) RETURNING id`,
      [
        scope.customerId,
        run.topic,
        run.source,
        run.resource,
        run.destinationId,
        run.fromTime,
        run.toTime,
        JSON.stringify(run.bounds),
        run.trigger,
        run.requestedBy,
        run.total,
      ],
    );
    return rows[0]?.id ?? '';
  }

  async get(scope: CustomerScope, runId: string): Promise<ReplayRunRow | null> {
    const rows = await this.db.query<ReplayRunRow[]>(
      `SELECT * FROM replay_runs WHERE id = $1 AND customer_id = $2`,
      [runId, scope.customerId],
    );
    return rows[0] ?? null;
  }

  /**
   * A run by its ID (a UUID), whoever's it is. Across customers: the admin API's run routes
   * name the run only; the row says whose it is.
   */
  async findAcrossCustomers(runId: string): Promise<ReplayRunRow | null> {
    const rows = await this.db.query<ReplayRunRow[]>(`SELECT * FROM replay_runs WHERE id = $1`, [
      runId,
    ]);
    return rows[0] ?? null;
  }

  list(scope: CustomerScope): Promise<ReplayRunRow[]> {
    return this.db.query<ReplayRunRow[]>(
      `SELECT * FROM replay_runs WHERE customer_id = $1 ORDER BY requested_at DESC`,
      [scope.customerId],
    );
  }

  /**
   * Up to `limit` runs to work: pending ones, and running ones whose lease expired (their worker
   * died, or gave the run back with a backoff that is over). Runs of paused or offboarded
   * customers wait. Across customers: a replica's replay slots are shared by every customer's
   * runs.
   */
  async claimAcrossCustomers(
    owner: string,
    leaseSeconds: number,
    limit: number,
  ): Promise<ReplayRunRow[]> {
    if (limit <= 0) {
      return [];
    }
    const [rows] = await this.db.query<[ReplayRunRow[], number]>(
      `UPDATE replay_runs r
          SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2),
              status = 'running', started_at = COALESCE(r.started_at, now()),
              attempts = r.attempts + 1, updated_at = now()
         FROM (SELECT x.id FROM replay_runs x JOIN customers c ON c.id = x.customer_id
                WHERE x.status IN ('pending', 'running')
                  AND (x.lease_expires_at IS NULL OR x.lease_expires_at < now())
                  AND c.status NOT IN ('paused', 'offboarded')
                ORDER BY x.requested_at
                LIMIT $3
                FOR UPDATE OF x SKIP LOCKED) due
        WHERE r.id = due.id
        RETURNING r.*`,
      [owner, secs(leaseSeconds), limit],
    );
    return rows;
  }

  async renew(
    scope: CustomerScope,
    runId: string,
    owner: string,
    leaseSeconds: number,
  ): Promise<boolean> {
    const [rows] = await this.db.query<[unknown[], number]>(
      `UPDATE replay_runs SET lease_expires_at = now() + make_interval(secs => $3)
        WHERE id = $1 AND lease_owner = $2 AND status = 'running' AND customer_id = $4
        RETURNING 1`,
      [runId, owner, secs(leaseSeconds), scope.customerId],
    );
    return rows.length > 0;
  }

  /**
   * After a page was acknowledged by Kafka: moves the partition's position forward (never back),
   * adds the page's counts and renews the lease. False when the lease is no longer ours or the
   * run was cancelled: the worker stops.
   */
  async checkpoint(
    scope: CustomerScope,
    runId: string,
    owner: string,
    leaseSeconds: number,
    page: ReplayPage,
  ): Promise<boolean> {
    const [rows] = await this.db.query<[unknown[], number]>(
      `UPDATE replay_runs
          SET positions = positions || jsonb_build_object($4::text,
                GREATEST($5::bigint, COALESCE((positions ->> $4::text)::bigint, 0))),
              messages_scanned = messages_scanned + $6,
              messages_matched = messages_matched + $7,
              messages_published = messages_published + $8,
              messages_undecodable = messages_undecodable + $9,
              pages_done = pages_done + 1,
              lease_expires_at = now() + make_interval(secs => $3),
              last_error = NULL, updated_at = now()
        WHERE id = $1 AND lease_owner = $2 AND status = 'running' AND customer_id = $10
        RETURNING 1`,
      [
        runId,
        owner,
        secs(leaseSeconds),
        page.key,
        page.position,
        page.scanned,
        page.matched,
        page.published,
        page.undecodable,
        scope.customerId,
      ],
    );
    return rows.length > 0;
  }

  /** Every partition reached its end: done. */
  async finish(scope: CustomerScope, runId: string, owner: string): Promise<boolean> {
    const [rows] = await this.db.query<[unknown[], number]>(
      `UPDATE replay_runs
          SET status = 'done', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
              last_error = NULL, updated_at = now()
        WHERE id = $1 AND lease_owner = $2 AND status = 'running' AND customer_id = $3 RETURNING 1`,
      [runId, owner, scope.customerId],
    );
    return rows.length > 0;
  }

  /** Gives the run back (still running) to be resumed after `backoffSeconds` (0 = at once). */
  async release(
    scope: CustomerScope,
    runId: string,
    owner: string,
    backoffSeconds: number,
    error: string | null,
  ): Promise<void> {
    await this.db.query(
      `UPDATE replay_runs
          SET lease_owner = NULL,
              lease_expires_at = CASE WHEN $3::float8 > 0 THEN now() + make_interval(secs => $3) END,
              last_error = COALESCE($4, last_error), updated_at = now()
        WHERE id = $1 AND lease_owner = $2 AND status = 'running' AND customer_id = $5`,
      [runId, owner, secs(backoffSeconds), error, scope.customerId],
    );
  }

  /** Ends a run that cannot succeed (its destination or topic is gone). */
  async fail(scope: CustomerScope, runId: string, message: string): Promise<boolean> {
    const [rows] = await this.db.query<[unknown[], number]>(
      `UPDATE replay_runs
          SET status = 'failed', last_error = $2, finished_at = now(), lease_owner = NULL,
              lease_expires_at = NULL, updated_at = now()
        WHERE id = $1 AND status IN ('pending', 'running') AND customer_id = $3 RETURNING 1`,
      [runId, message, scope.customerId],
    );
    return rows.length > 0;
  }

  /**
   * Cancels the pending and running replays of offboarded customers; returns how many. Across
   * customers by design: the replay scheduler's sweep after an offboarding.
   */
  async cancelOfOffboardedAcrossCustomers(): Promise<number> {
    const [, n] = await this.db.query<[unknown[], number]>(
      `UPDATE replay_runs r
          SET status = 'cancelled', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
              last_error = 'customer offboarded', updated_at = now()
         FROM customers c
        WHERE c.id = r.customer_id AND c.status = 'offboarded' AND r.status IN ('pending', 'running')`,
    );
    return n;
  }

  /** Cancels a pending or running run; its worker stops at its next page. False once finished. */
  async cancel(scope: CustomerScope, runId: string): Promise<boolean> {
    const [rows] = await this.db.query<[unknown[], number]>(
      `UPDATE replay_runs
          SET status = 'cancelled', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
              updated_at = now()
        WHERE id = $1 AND status IN ('pending', 'running') AND customer_id = $2 RETURNING 1`,
      [runId, scope.customerId],
    );
    return rows.length > 0;
  }

  /** Runs per status, for the runs gauge. Across customers: the gauge counts every run. */
  async countByStatusAcrossCustomers(): Promise<Record<string, number>> {
    const rows = await this.db.query<Array<{ status: string; n: string }>>(
      `SELECT status, count(*) AS n FROM replay_runs GROUP BY status`,
    );
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}

import { Injectable } from '@nestjs/common';
import type { CustomerScope } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

/** A lane with waiting events or an open breaker, as every replica reads it. */
export interface LaneRow {
  destination_id: string;
  customer_id: string;
  waiting: string;
  open: boolean;
  next_probe_at: Date | null;
}

/** One parked event of a lane, oldest first. */
export interface ParkedEventRow {
  event_id: string;
  attempt: number;
  first_failed_at: Date;
  payload: Buffer | null;
  message_key: string | null;
  headers: Record<string, string> | null;
  parked_seq: string;
  /** False while an earlier write of it may still be in flight (its due time is ahead). */
  ready: boolean;
}

/**
 * The destination lanes' state: destination_breakers (breaker state, probe schedule, the lease
 * that lets one replica at a time drain a lane) and the parked retry_entries (parked_at set) that
 * make up each lane. A lane is one destination's, so of that destination's customer: the scope.
 */
@Injectable()
export class LaneRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Every lane with waiting events or an open breaker. Across customers: each replica's drainer
   * picks the lanes it drains from all of them.
   */
  async lanesAcrossCustomers(): Promise<LaneRow[]> {
    return this.db.query(
      `WITH w AS (
         SELECT destination_id, min(customer_id::text)::uuid AS customer_id, count(*) AS waiting
           FROM retry_entries WHERE parked_at IS NOT NULL GROUP BY destination_id
       )
       SELECT COALESCE(w.destination_id, b.destination_id) AS destination_id,
              COALESCE(w.customer_id, b.customer_id) AS customer_id,
              COALESCE(w.waiting, 0) AS waiting,
              COALESCE(b.state = 'open', false) AS open, b.next_probe_at
         FROM w FULL JOIN (SELECT * FROM destination_breakers WHERE state = 'open') b
           ON b.destination_id = w.destination_id`,
    );
  }

  /**
   * Takes the lease on a destination's lane for leaseMs for `owner` (renewing its own lease).
   * Null when another owner holds it.
   */
  async claim(
    { customerId }: CustomerScope,
    destinationId: string,
    owner: string,
    leaseMs: number,
  ): Promise<{ state: string; next_probe_at: Date | null } | null> {
    const rows: Array<{ state: string; next_probe_at: Date | null }> = await this.db.query(
      `INSERT INTO destination_breakers AS b (destination_id, customer_id, lease_owner, lease_until)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4))
       ON CONFLICT (destination_id) DO UPDATE
         SET lease_owner = EXCLUDED.lease_owner, lease_until = EXCLUDED.lease_until
         WHERE b.lease_until IS NULL OR b.lease_until < now() OR b.lease_owner = EXCLUDED.lease_owner
       RETURNING b.state, b.next_probe_at`,
      [destinationId, customerId, owner, leaseMs / 1000],
    );
    return rows[0] ?? null;
  }

  async release(
    { customerId }: CustomerScope,
    destinationId: string,
    owner: string,
  ): Promise<void> {
    await this.db.query(
      `UPDATE destination_breakers SET lease_owner = NULL, lease_until = NULL
        WHERE destination_id = $1 AND lease_owner = $2 AND customer_id = $3`,
      [destinationId, owner, customerId],
    );
  }

  /** Opens the destination's breaker (unless it is open already), first probe after probeMs. */
  async openBreaker(
    { customerId }: CustomerScope,
    destinationId: string,
    probeMs: number,
    error: string,
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO destination_breakers AS b (destination_id, customer_id, state, opened_at, next_probe_at,
                                              probe_interval_ms, probes, last_error, updated_at)
       VALUES ($1, $2, 'open', now(), now() + make_interval(secs => $3), $4, 0, $5, now())
       ON CONFLICT (destination_id) DO UPDATE
         SET state = 'open', opened_at = COALESCE(b.opened_at, now()), next_probe_at = EXCLUDED.next_probe_at,
             probe_interval_ms = EXCLUDED.probe_interval_ms, probes = 0, last_error = EXCLUDED.last_error,
             updated_at = now()
         WHERE b.state <> 'open'`,
      [destinationId, customerId, probeMs / 1000, probeMs, error.slice(0, 500)],
    );
  }

  /** A failed probe doubles the interval to the next one (up to probeMaxMs); answers it. */
  async probeFailed(
    { customerId }: CustomerScope,
    destinationId: string,
    probeMs: number,
    probeMaxMs: number,
    error: string,
  ): Promise<number | undefined> {
    const rows: Array<{ probe_interval_ms: number }> = await this.db.query(
      `UPDATE destination_breakers
          SET probe_interval_ms = LEAST(GREATEST(probe_interval_ms, $2) * 2, $3),
              next_probe_at = now() + make_interval(secs => LEAST(GREATEST(probe_interval_ms, $2) * 2, $3) / 1000.0),
              probes = probes + 1, last_error = $4, updated_at = now()
        WHERE destination_id = $1 AND state = 'open' AND customer_id = $5
        RETURNING probe_interval_ms`,
      [destinationId, probeMs, probeMaxMs, error.slice(0, 500), customerId],
    );
    return rows[0]?.probe_interval_ms;
  }

  async closeBreaker({ customerId }: CustomerScope, destinationId: string): Promise<void> {
    await this.db.query(
      `UPDATE destination_breakers
          SET state = 'closed', opened_at = NULL, next_probe_at = NULL, probe_interval_ms = 0,
              last_error = NULL, updated_at = now()
        WHERE destination_id = $1 AND state = 'open' AND customer_id = $2`,
      [destinationId, customerId],
    );
  }

  /** The oldest `limit` parked events of the destination's lane. */
  async parkedEvents(
    { customerId }: CustomerScope,
    destinationId: string,
    limit: number,
  ): Promise<ParkedEventRow[]> {
    return this.db.query(
      `SELECT event_id, attempt, first_failed_at, payload, message_key, headers, parked_seq,
              due_at <= now() AS ready
         FROM retry_entries WHERE destination_id = $1 AND parked_at IS NOT NULL AND customer_id = $3
        ORDER BY parked_seq LIMIT $2`,
      [destinationId, limit, customerId],
    );
  }
}

import { Injectable } from '@nestjs/common';
import type { Resource } from '@raise-sync/shared/events';
import type { CustomerScope, SourceName } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

/** A due customer-resource this replica now holds the lease of. */
export interface ClaimedPoll {
  customer_id: string;
  source: SourceName;
  resource: Resource;
  poll_interval_seconds: number;
}

/** One leased customer-resource of `poll_schedule`. */
export interface PollLease {
  source: SourceName;
  resource: Resource;
  owner: string;
}

/**
 * The `poll_schedule` leases: due customer-resources are claimed with a lease (`FOR UPDATE SKIP
 * LOCKED`, lease owner + expiry), so two ingest replicas never poll the same customer-resource at
 * once, and a crashed replica's lease simply expires. Rows are created at onboarding
 * (OnboardingRepository).
 */
@Injectable()
export class PollScheduleRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Leases up to `limit` due customer-resources of live customers with polling on and a token
   * not failing. Across customers: the scheduler picks due work from every customer.
   */
  async claimDueAcrossCustomers(
    owner: string,
    leaseSeconds: number,
    limit: number,
  ): Promise<ClaimedPoll[]> {
    // TypeORM returns [rows, affected] for UPDATE ... RETURNING on PostgreSQL.
    const [claimed] = await this.db.query<[ClaimedPoll[], number]>(
      `UPDATE poll_schedule p
          SET lease_owner = $1,
              lease_expires_at = now() + make_interval(secs => $2),
              last_started_at = now()
         FROM (SELECT ps.customer_id, ps.source, ps.resource, cs.poll_interval_seconds
                 FROM poll_schedule ps
                 JOIN customer_sources cs USING (customer_id, source)
                 JOIN customers c ON c.id = ps.customer_id
                WHERE ps.next_poll_at <= now()
                  AND (ps.lease_expires_at IS NULL OR ps.lease_expires_at < now())
                  AND cs.polling_enabled
                  AND cs.credential_status <> 'failing'
                  AND c.status IN ('onboarding', 'backfilling', 'live')
                ORDER BY ps.next_poll_at
                LIMIT $3
                FOR UPDATE OF ps SKIP LOCKED) due
        WHERE p.customer_id = due.customer_id AND p.source = due.source AND p.resource = due.resource
        RETURNING p.customer_id, p.source, p.resource, due.poll_interval_seconds`,
      [owner, leaseSeconds, limit],
    );
    return claimed;
  }

  /** Extends a lease this owner still holds; false when it was lost. */
  async renew(
    { customerId }: CustomerScope,
    lease: PollLease,
    leaseSeconds: number,
  ): Promise<boolean> {
    const [rows] = await this.db.query<[unknown[], number]>(
      `UPDATE poll_schedule SET lease_expires_at = now() + make_interval(secs => $5)
        WHERE customer_id = $1 AND source = $2 AND resource = $3 AND lease_owner = $4
        RETURNING 1`,
      [customerId, lease.source, lease.resource, lease.owner, leaseSeconds],
    );
    return rows.length > 0;
  }

  /** Releases a lease this owner holds, with the row's next due time and the pass's error. */
  async release(
    { customerId }: CustomerScope,
    lease: PollLease,
    nextInSeconds: number,
    lastError: string | null,
  ): Promise<void> {
    await this.db.query(
      `UPDATE poll_schedule
          SET lease_owner = NULL, lease_expires_at = NULL, last_finished_at = now(),
              next_poll_at = now() + make_interval(secs => $5), last_error = $6
        WHERE customer_id = $1 AND source = $2 AND resource = $3 AND lease_owner = $4`,
      [customerId, lease.source, lease.resource, lease.owner, nextInSeconds, lastError],
    );
  }
}

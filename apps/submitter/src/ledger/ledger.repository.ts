import { Injectable } from '@nestjs/common';
import type { CustomerScope } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

export interface LedgerRow {
  customerId: string;
  destinationId: string;
  destination: string;
  received: number;
  delivered: number;
  skipped: number;
  deadLettered: number;
  /** Held until the source is fixed (a CRM+ contact without an email): no failure of ours. */
  needsSourceFix: number;
  inRetry: number;
  /** Parked in the destination's lane (breaker open, or the destination was too slow). */
  waiting: number;
  /** 'open' while the destination's breaker is open. */
  breaker: 'open' | 'closed';
  retriesOverdue: number;
  /** received - (delivered + skipped + dead_lettered + needs_source_fix + in_retry + waiting): 0 when nothing was lost. */
  imbalance: number;
}

const OVERDUE_GRACE_SECONDS = 60;

/** Open dead letters per customer and destination name, with the age of the oldest (seconds). */
export interface OpenDeadLetterRow {
  customer_id: string;
  name: string;
  n: string;
  oldest: string;
}

/**
 * The delivery ledger as it is read: delivery_counts per customer and destination with the retry
 * entries (in retry, waiting in a lane, overdue) and the breaker of each destination; and the
 * open dead letters. Only reads (the delivery path writes the ledger: DeliveryRepository).
 */
@Injectable()
export class LedgerRepository {
  constructor(private readonly db: DataSource) {}

  /** One customer's ledger rows, one per destination. */
  async snapshot({ customerId }: CustomerScope): Promise<LedgerRow[]> {
    return this.rows(customerId);
  }

  /** Every customer's ledger rows: the metrics export and the operator's unfiltered view. */
  async snapshotAcrossCustomers(): Promise<LedgerRow[]> {
    return this.rows(null);
  }

  /** Open dead letters of every customer (the metrics export). */
  async openDeadLettersAcrossCustomers(): Promise<OpenDeadLetterRow[]> {
    return this.db.query(
      `SELECT l.customer_id, d.name, count(*) AS n,
              EXTRACT(EPOCH FROM now() - min(l.first_failed_at)) AS oldest
         FROM dead_letters l JOIN destinations d ON d.id = l.destination_id
        WHERE l.status = 'open' GROUP BY l.customer_id, d.name`,
    );
  }

  /** $1 is one customer's ID, or null for all of them. */
  private async rows(customerId: string | null): Promise<LedgerRow[]> {
    const rows: Array<Record<string, string | number>> = await this.db.query(
      `SELECT d.customer_id, d.id AS destination_id, d.name,
              COALESCE(SUM(c.n) FILTER (WHERE c.outcome = 'received'), 0)::bigint AS received,
              COALESCE(SUM(c.n) FILTER (WHERE c.outcome = 'delivered'), 0)::bigint AS delivered,
              COALESCE(SUM(c.n) FILTER (WHERE c.outcome = 'skipped'), 0)::bigint AS skipped,
              COALESCE(SUM(c.n) FILTER (WHERE c.outcome = 'dead_lettered'), 0)::bigint AS dead_lettered,
              COALESCE(SUM(c.n) FILTER (WHERE c.outcome = 'needs_source_fix'), 0)::bigint AS needs_source_fix,
              (SELECT count(*) FROM retry_entries r WHERE r.destination_id = d.id AND r.parked_at IS NULL) AS in_retry,
              (SELECT count(*) FROM retry_entries r WHERE r.destination_id = d.id AND r.parked_at IS NOT NULL) AS waiting,
              (SELECT count(*) FROM retry_entries r WHERE r.destination_id = d.id AND r.parked_at IS NULL
                  AND r.due_at < now() - make_interval(secs => ${OVERDUE_GRACE_SECONDS})) AS overdue,
              COALESCE((SELECT b.state FROM destination_breakers b WHERE b.destination_id = d.id), 'closed') AS breaker
         FROM destinations d LEFT JOIN delivery_counts c ON c.destination_id = d.id
        WHERE ($1::uuid IS NULL OR d.customer_id = $1)
        GROUP BY d.customer_id, d.id, d.name
        ORDER BY d.customer_id, d.name`,
      [customerId],
    );
    return rows.map((r) => {
      const n = (k: string): number => Number(r[k] ?? 0);
      return {
        customerId: String(r['customer_id']),
        destinationId: String(r['destination_id']),
        destination: String(r['name']),
        received: n('received'),
        delivered: n('delivered'),
        skipped: n('skipped'),
        deadLettered: n('dead_lettered'),
        needsSourceFix: n('needs_source_fix'),
        inRetry: n('in_retry'),
        waiting: n('waiting'),
        breaker: r['breaker'] === 'open' ? 'open' : 'closed',
        retriesOverdue: n('overdue'),
        imbalance:
          n('received') -
          n('delivered') -
          n('skipped') -
          n('dead_lettered') -
          n('needs_source_fix') -
          n('in_retry') -
          n('waiting'),
      };
    });
  }
}

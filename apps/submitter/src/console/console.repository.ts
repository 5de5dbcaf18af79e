import { Injectable } from '@nestjs/common';
import { auditDetailSql, type CustomerScope } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

/** A customer's summary row: health inputs for the verdict. */
export interface CustomerSummaryRow {
  id: string;
  name: string;
  status: string;
  last_success: Date | null;
  open_dead: string;
  oldest_dead: Date | null;
  failing_credentials: string;
  latest_actionable: string;
  failed_backfills: string;
  lanes: Array<{
    name: string;
    open: boolean;
    openedAt: string | null;
    waiting: number;
  }> | null;
}

/** The customer itself. */
export interface CustomerRow {
  id: string;
  name: string;
  status: string;
  onboarding_mode: string | null;
  sync_from: Date | null;
  created_at: Date;
}

/** A destination with its breaker and lane depth. */
export interface DestinationHealthRow {
  id: string;
  name: string;
  kind: string;
  enabled: boolean;
  open: boolean;
  opened_at: Date | null;
  waiting: string;
}

/** Records synced per resource and destination (UTC periods). */
export interface SyncVolumeRow {
  resource: string;
  destination_id: string;
  last_success: Date | null;
  today: string;
  week: string;
  month: string;
  failing: string;
}

/** Open dead letters per destination. */
export interface OpenDeadLettersRow {
  destination_id: string | null;
  open: string;
  oldest: Date;
}

/** A source's credential, webhook and polling state. */
export interface SourceHealthRow {
  source: string;
  credential_status: string;
  credential_error: string | null;
  credential_checked_at: Date | null;
  webhook_subscription_id: string | null;
  polling_enabled: boolean;
  last_webhook: Date | null;
}

/** A backfill run with its records done. */
export interface BackfillRow {
  id: string;
  resource: string;
  status: string;
  done: string;
  records_total: string | null;
  requested_at: Date;
  finished_at: Date | null;
  last_error: string | null;
}

/** A reconciliation run (the latest few per kind). */
export interface ReconciliationRunRow {
  id: string;
  kind: string;
  status: string;
  window_start: Date;
  window_end: Date;
  finished_at: Date | null;
  counts: Record<string, number> | null;
  error: string | null;
}

/** A record's sync state at one destination. */
export interface RecordStateRow {
  resource: string;
  destination_id: string;
  name: string | null;
  kind: string | null;
  status: string;
  destination_record_id: string | null;
  attempts: number;
  last_error: string | null;
  source_modified_at: Date;
  updated_at: Date;
}

/** One audit row of a record. */
export interface RecordHistoryRow {
  resource: string;
  destination_id: string | null;
  event_id: string | null;
  from_status: string | null;
  to_status: string | null;
  detail: Record<string, unknown>;
  at: Date;
}

/** A dead letter of a record. */
export interface RecordDeadLetterRow {
  id: string;
  resource: string;
  destination_id: string | null;
  reason: string;
  error_message: string;
  status: string;
  first_failed_at: Date;
}

/**
 * The console's reads, straight from the state store (customers, sync_records, dead_letters,
 * destinations, destination_breakers, retry_entries, customer_sources, webhook_last_deliveries
 * (and, for one release, webhook_deliveries),
 * backfill_runs/jobs, reconciliation_runs, audit_log): one customer's at a time, the customer of
 * the console token or the one the admin token asks about. Each is an indexed query.
 */
@Injectable()
export class ConsoleRepository {
  constructor(private readonly db: DataSource) {}

  /** The customer's row of the customer list (none once offboarded). */
  async customerSummary({ customerId }: CustomerScope): Promise<CustomerSummaryRow[]> {
    return this.customerSummaries(customerId);
  }

  /** Every current customer's row: the admin token's customer list. */
  async customerSummariesAcrossCustomers(): Promise<CustomerSummaryRow[]> {
    return this.customerSummaries(null);
  }

  /** Whether the customer exists. */
  async customerExists({ customerId }: CustomerScope): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(`SELECT 1 FROM customers WHERE id = $1`, [
      customerId,
    ]);
    return rows.length > 0;
  }

  async customer({ customerId }: CustomerScope): Promise<CustomerRow | undefined> {
    const [customer] = await this.db.query<CustomerRow[]>(
      `SELECT id, name, status, onboarding_mode, sync_from, created_at FROM customers WHERE id = $1`,
      [customerId],
    );
    return customer;
  }

  /** The customer's destinations, each with its breaker and the events waiting in its lane. */
  async destinations({ customerId }: CustomerScope): Promise<DestinationHealthRow[]> {
    return this.db.query(
      `SELECT d.id, d.name, d.kind, d.enabled, COALESCE(b.state = 'open', false) AS open, b.opened_at,
                (SELECT count(*) FROM retry_entries r WHERE r.destination_id = d.id AND r.parked_at IS NOT NULL) AS waiting
           FROM destinations d LEFT JOIN destination_breakers b ON b.destination_id = d.id
          WHERE d.customer_id = $1 ORDER BY d.name, d.id`,
      [customerId],
    );
  }

  /** Per resource and destination: last success and records synced today, this week and month. */
  async syncVolumes({ customerId }: CustomerScope): Promise<SyncVolumeRow[]> {
    return this.db.query(
      `SELECT resource, destination_id,
                max(updated_at) FILTER (WHERE status = 'confirmed') AS last_success,
                count(*) FILTER (WHERE status = 'confirmed' AND updated_at >= date_trunc('day', now())) AS today,
                count(*) FILTER (WHERE status = 'confirmed' AND updated_at >= date_trunc('week', now())) AS week,
                count(*) FILTER (WHERE status = 'confirmed' AND updated_at >= date_trunc('month', now())) AS month,
                count(*) FILTER (WHERE status = 'failed' AND NOT EXISTS (
                  SELECT 1 FROM source_fix_holds h
                   WHERE h.customer_id = s.customer_id AND h.destination_id = s.destination_id
                     AND h.resource = s.resource AND h.source_id = s.source_id AND h.status = 'open')) AS failing
           FROM sync_records s WHERE customer_id = $1
          GROUP BY resource, destination_id ORDER BY resource, destination_id`,
      [customerId],
    );
  }

  /** Open dead letters per destination, with the oldest. */
  async openDeadLetters({ customerId }: CustomerScope): Promise<OpenDeadLettersRow[]> {
    return this.db.query(
      `SELECT destination_id, count(*) AS open, min(first_failed_at) AS oldest
           FROM dead_letters WHERE customer_id = $1 AND status = 'open'
          GROUP BY destination_id ORDER BY destination_id`,
      [customerId],
    );
  }

  /**
   * The customer's sources: credentials, webhook subscription, polling, last webhook. The last
   * webhook is the intake's record of it (webhook_last_deliveries, kept as long as the source);
   * the replay records (webhook_deliveries, kept for minutes) only count while an ingest of the
   * previous release, which does not write that record, may still take webhooks.
   */
  async sources({ customerId }: CustomerScope): Promise<SourceHealthRow[]> {
    return this.db.query(
      `SELECT cs.source, cs.credential_status, cs.credential_error, cs.credential_checked_at,
                cs.webhook_subscription_id, cs.polling_enabled,
                GREATEST(
                  (SELECT l.received_at FROM webhook_last_deliveries l
                    WHERE l.customer_id = cs.customer_id AND l.source = cs.source),
                  (SELECT max(w.received_at) FROM webhook_deliveries w
                    WHERE w.customer_id = cs.customer_id AND w.source = cs.source)) AS last_webhook
           FROM customer_sources cs WHERE cs.customer_id = $1 ORDER BY cs.source`,
      [customerId],
    );
  }

  /** The latest ten backfill runs with their records done. */
  async backfills({ customerId }: CustomerScope): Promise<BackfillRow[]> {
    return this.db.query(
      `SELECT r.id, r.resource, r.status, COALESCE(sum(j.records_done), 0) AS done, r.records_total,
                r.requested_at, r.finished_at, r.last_error
           FROM backfill_runs r LEFT JOIN backfill_jobs j ON j.run_id = r.id
          WHERE r.customer_id = $1
          GROUP BY r.id ORDER BY r.requested_at DESC LIMIT 10`,
      [customerId],
    );
  }

  /** The latest `perKind` reconciliation runs of each kind, newest first. */
  async reconciliationRuns(
    { customerId }: CustomerScope,
    perKind: number,
  ): Promise<ReconciliationRunRow[]> {
    return this.db.query(
      `SELECT id, kind, status, window_start, window_end, finished_at, counts, error FROM (
           SELECT *, row_number() OVER (PARTITION BY kind ORDER BY requested_at DESC) AS n
             FROM reconciliation_runs WHERE customer_id = $1) latest
          WHERE n <= $2 ORDER BY kind, requested_at DESC`,
      [customerId, perKind],
    );
  }

  /** The record's sync state at every destination. */
  async recordStates(
    { customerId }: CustomerScope,
    resources: string[],
    sourceId: string,
  ): Promise<RecordStateRow[]> {
    return this.db.query(
      `SELECT s.resource, s.destination_id, d.name, d.kind, s.status, s.destination_record_id,
                s.attempts, s.last_error, s.source_modified_at, s.updated_at
           FROM sync_records s LEFT JOIN destinations d ON d.id = s.destination_id
          WHERE s.customer_id = $1 AND s.resource = ANY($2::text[]) AND s.source_id = $3
          ORDER BY s.resource, d.name, s.destination_id`,
      [customerId, resources, sourceId],
    );
  }

  /** The record's audit trail, oldest first. */
  async recordHistory(
    { customerId }: CustomerScope,
    resources: string[],
    sourceId: string,
  ): Promise<RecordHistoryRow[]> {
    return this.db.query(
      `SELECT a.resource, a.destination_id, a.event_id, a.from_status, a.to_status,
              ${auditDetailSql('a')} AS detail, a.at
           FROM audit_log a
          WHERE a.customer_id = $1 AND a.resource = ANY($2::text[]) AND a.source_id = $3
          ORDER BY a.id`,
      [customerId, resources, sourceId],
    );
  }

  /** The record's dead letters, oldest first. */
  async recordDeadLetters(
    { customerId }: CustomerScope,
    resources: string[],
    sourceId: string,
  ): Promise<RecordDeadLetterRow[]> {
    return this.db.query(
      `SELECT id, resource, destination_id, reason, error_message, status, first_failed_at
           FROM dead_letters
          WHERE customer_id = $1 AND resource = ANY($2::text[]) AND source_id = $3
          ORDER BY first_failed_at`,
      [customerId, resources, sourceId],
    );
  }

  /** $1: one customer's ID, or null for every customer. */
  private async customerSummaries(onlyCustomerId: string | null): Promise<CustomerSummaryRow[]> {
    return this.db.query(
      `SELECT c.id, c.name, c.status,
              (SELECT max(s.updated_at) FROM sync_records s
                WHERE s.customer_id = c.id AND s.status = 'confirmed') AS last_success,
              (SELECT count(*) FROM dead_letters d
                WHERE d.customer_id = c.id AND d.status = 'open') AS open_dead,
              (SELECT min(d.first_failed_at) FROM dead_letters d
                WHERE d.customer_id = c.id AND d.status = 'open') AS oldest_dead,
              (SELECT count(*) FROM customer_sources cs
                WHERE cs.customer_id = c.id AND cs.credential_status = 'failing') AS failing_credentials,
              (SELECT COALESCE(sum((x.counts->>'actionable')::int), 0) FROM (
                 SELECT DISTINCT ON (r.kind) r.counts FROM reconciliation_runs r
                  WHERE r.customer_id = c.id AND r.status = 'done'
                  ORDER BY r.kind, r.requested_at DESC) x) AS latest_actionable,
              (SELECT count(*) FROM (
                 SELECT DISTINCT ON (b.resource) b.status FROM backfill_runs b
                  WHERE b.customer_id = c.id ORDER BY b.resource, b.requested_at DESC) x
                WHERE x.status = 'failed') AS failed_backfills,
              (SELECT json_agg(json_build_object('name', d.name, 'open', true, 'openedAt', b.opened_at, 'waiting', 0))
                 FROM destination_breakers b JOIN destinations d ON d.id = b.destination_id
                WHERE b.customer_id = c.id AND b.state = 'open') AS lanes
         FROM customers c
        WHERE c.status <> 'offboarded' AND ($1::uuid IS NULL OR c.id = $1::uuid)
        ORDER BY c.name, c.id`,
      [onlyCustomerId],
    );
  }
}

import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type {
  CustomerScope,
  ReconciliationCadence,
  ReconciliationKind,
} from '@raise-sync/shared/state';
import { DataSource, type EntityManager } from 'typeorm';
import { formatRunAt, nextRunAt, scheduledWindow, type ScheduleTiming } from './windows';
import type { ReconcilerConfig } from '../reconciler.config';

export interface ScheduleView {
  customerId: string;
  kind: ReconciliationKind;
  cadence: ReconciliationCadence;
  timezone: string;
  runAt: string;
  lagHours: number;
  enabled: boolean;
  settings: Record<string, unknown>;
  nextRunAt: string;
  lastRunId: string | null;
  updatedAt: string;
}

interface ScheduleRow {
  customer_id: string;
  kind: ReconciliationKind;
  cadence: ReconciliationCadence;
  timezone: string;
  run_at_minute: number;
  lag_hours: number;
  enabled: boolean;
  settings: Record<string, unknown>;
  next_run_at: Date;
  last_run_id: string | null;
  updated_at: Date;
}

export interface ScheduleChange {
  cadence?: ReconciliationCadence;
  timezone?: string;
  runAtMinute?: number;
  lagHours?: number;
  enabled?: boolean;
  settings?: Record<string, unknown>;
  nextRunAt?: Date;
}

/** A run the scheduler created for a due schedule. */
export interface ScheduledRun {
  runId: string;
  customerId: string;
  kind: ReconciliationKind;
  due: Date;
  windowStart: Date;
  windowEnd: Date;
  nextRunAt: Date;
}

const toView = (row: ScheduleRow): ScheduleView => ({
  customerId: row.customer_id,
  kind: row.kind,
  cadence: row.cadence,
  timezone: row.timezone,
  runAt: formatRunAt(row.run_at_minute),
  lagHours: row.lag_hours,
  enabled: row.enabled,
  settings: row.settings ?? {},
  nextRunAt: new Date(row.next_run_at).toISOString(),
  lastRunId: row.last_run_id,
  updatedAt: new Date(row.updated_at).toISOString(),
});

export const timingOf = (row: {
  kind: ReconciliationKind;
  cadence: ReconciliationCadence;
  timezone: string;
  run_at_minute: number;
  lag_hours: number;
  settings: Record<string, unknown> | null;
}): ScheduleTiming => {
  const weekday = row.settings?.weekday;
  return {
    kind: row.kind,
    cadence: row.cadence,
    timezone: row.timezone,
    runAtMinute: row.run_at_minute,
    lagHours: row.lag_hours,
    weekday: typeof weekday === 'number' && Number.isInteger(weekday) ? weekday : undefined,
    intervalSeconds: row.kind === 'webhook-log' ? intervalOf(row.settings) : undefined,
  };
};

/** `settings.intervalSeconds` of a webhook-log schedule: a whole number of seconds, at least 1. */
function intervalOf(settings: Record<string, unknown> | null): number | undefined {
  const value = settings?.intervalSeconds;
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : undefined;
}

/** The kinds every live customer gets a schedule for. */
export const SCHEDULED_KINDS: ReconciliationKind[] = [
  'window',
  'deletion',
  'crm-consistency',
  'webhook-log',
];

const COLUMNS = `customer_id, kind, cadence, timezone, run_at_minute, lag_hours, enabled, settings,
  next_run_at, last_run_id, updated_at`;

/**
 * reconciliation_schedules: one row per customer and kind. Rows are created with defaults from
 * the configuration for every live or backfilling customer; the tick turns due rows into pending
 * runs for their closed window and moves next_run_at on, in one transaction per tick.
 */
@Injectable()
export class ScheduleRepository {
  private readonly defaults: ReconcilerConfig['reconciler'];

  constructor(
    private readonly db: DataSource,
    config: ConfigService<ReconcilerConfig, true>,
  ) {
    this.defaults = config.get('reconciler', { infer: true });
  }

  /**
   * The default timing of each kind: window checks daily (or hourly), deletion daily (weekly
   * before issue 12; a missed delete webhook must not wait a week), crmKey daily, the webhook
   * delivery log hourly.
   */
  private defaultTiming(kind: ReconciliationKind): ScheduleTiming {
    const cadence: ReconciliationCadence =
      kind === 'window'
        ? this.defaults.defaultCadence
        : kind === 'webhook-log'
          ? 'hourly'
          : 'daily';
    return {
      kind,
      cadence,
      timezone: this.defaults.defaultTimezone,
      runAtMinute: this.defaults.runAtMinute,
      lagHours: this.defaults.hourlyLagHours,
    };
  }

  /**
   * Creates the customer's missing default schedules, whatever its status (unless offboarded).
   * Returns how many rows were created.
   */
  async ensure({ customerId }: CustomerScope): Promise<number> {
    return this.createDefaults(customerId);
  }

  /**
   * Creates the missing default schedules of every live/backfilling customer. Across customers
   * by design: the scheduler gives each new live customer its schedules. Returns how many rows
   * were created.
   */
  async ensureAcrossCustomers(): Promise<number> {
    return this.createDefaults();
  }

  /** Of one customer when given, else of every live/backfilling customer. */
  private async createDefaults(customerId?: string): Promise<number> {
    const now = new Date();
    const kinds = SCHEDULED_KINDS;
    const timings = kinds.map((k) => this.defaultTiming(k));
    // INSERT … RETURNING comes back as the rows themselves (UPDATE would give [rows, count]).
    const rows: unknown[] = await this.db.query(
      `INSERT INTO reconciliation_schedules (customer_id, kind, cadence, timezone, run_at_minute, lag_hours, next_run_at)
       SELECT c.id, k.kind, k.cadence, $1, $2, $3, k.next_run_at
         FROM customers c
         CROSS JOIN unnest($4::text[], $5::text[], $6::timestamptz[]) AS k(kind, cadence, next_run_at)
        WHERE ${customerId ? `c.id = $7 AND c.status <> 'offboarded'` : `c.status IN ('live', 'backfilling')`}
       ON CONFLICT (customer_id, kind) DO NOTHING
       RETURNING 1`,
      [
        this.defaults.defaultTimezone,
        this.defaults.runAtMinute,
        this.defaults.hourlyLagHours,
        kinds,
        timings.map((t) => t.cadence),
        timings.map((t) => nextRunAt(t, now).toISOString()),
        ...(customerId ? [customerId] : []),
      ],
    );
    return rows.length;
  }

  async list({ customerId }: CustomerScope): Promise<ScheduleView[]> {
    const rows: ScheduleRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM reconciliation_schedules WHERE customer_id = $1 ORDER BY kind`,
      [customerId],
    );
    return rows.map(toView);
  }

  /** The schedule's settings for a run of this kind ({} when there is no schedule). */
  async settings(
    { customerId }: CustomerScope,
    kind: ReconciliationKind,
  ): Promise<Record<string, unknown>> {
    const rows: Array<{ settings: Record<string, unknown> | null }> = await this.db.query(
      `SELECT settings FROM reconciliation_schedules WHERE customer_id = $1 AND kind = $2`,
      [customerId, kind],
    );
    return rows[0]?.settings ?? {};
  }

  /**
   * In one transaction: drops what the run stored so far (a CRM+ check finding a single-product
   * customer) and merges `mark` into the settings of
   * the customer's schedule of this kind (created with `defaults` when missing).
   */
  async markSingleProduct(
    { customerId }: CustomerScope,
    runId: string,
    kind: ReconciliationKind,
    mark: Record<string, unknown>,
    defaults: { timezone: string; runAtMinute: number },
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `DELETE FROM reconciliation_discrepancies WHERE run_id = $1 AND customer_id = $2`,
        [runId, customerId],
      );
      await tx.query(
        `INSERT INTO reconciliation_schedules
           (customer_id, kind, cadence, timezone, run_at_minute, next_run_at, settings)
         VALUES ($1, $2, 'daily', $3, $4, now() + interval '1 day', $5::jsonb)
         ON CONFLICT (customer_id, kind) DO UPDATE
           SET settings = reconciliation_schedules.settings || EXCLUDED.settings,
               updated_at = now()`,
        [customerId, kind, defaults.timezone, defaults.runAtMinute, JSON.stringify(mark)],
      );
    });
  }

  /**
   * Merges `patch` into the schedule's settings without touching its timing (a check keeping
   * its checkpoint there). False when the customer has no schedule of that kind.
   */
  async mergeSettings(
    { customerId }: CustomerScope,
    kind: ReconciliationKind,
    patch: Record<string, unknown>,
  ): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>(
      `UPDATE reconciliation_schedules SET settings = settings || $3::jsonb
        WHERE customer_id = $1 AND kind = $2`,
      [customerId, kind, JSON.stringify(patch)],
    );
    return count > 0;
  }

  /** The timezone the customer's dates are read in (its window schedule's, else the default). */
  async timezone({ customerId }: CustomerScope): Promise<string> {
    const rows: Array<{ timezone: string }> = await this.db.query(
      `SELECT timezone FROM reconciliation_schedules WHERE customer_id = $1 AND kind = 'window'`,
      [customerId],
    );
    return rows[0]?.timezone ?? this.defaults.defaultTimezone;
  }

  /**
   * Applies a change; a new cadence, zone or run time moves next_run_at to the next run after
   * now unless the change sets next_run_at itself.
   */
  async update(
    { customerId }: CustomerScope,
    kind: ReconciliationKind,
    change: ScheduleChange,
  ): Promise<ScheduleView | null> {
    return this.db.transaction(async (tx) => {
      const rows: ScheduleRow[] = await tx.query(
        `SELECT ${COLUMNS} FROM reconciliation_schedules WHERE customer_id = $1 AND kind = $2 FOR UPDATE`,
        [customerId, kind],
      );
      const row = rows[0];
      if (!row) {
        return null;
      }
      const next: ScheduleRow = {
        ...row,
        cadence: change.cadence ?? row.cadence,
        timezone: change.timezone ?? row.timezone,
        run_at_minute: change.runAtMinute ?? row.run_at_minute,
        lag_hours: change.lagHours ?? row.lag_hours,
        enabled: change.enabled ?? row.enabled,
        settings: change.settings ?? row.settings,
      };
      const timingChanged =
        next.cadence !== row.cadence ||
        next.timezone !== row.timezone ||
        next.run_at_minute !== row.run_at_minute ||
        next.settings?.weekday !== row.settings?.weekday ||
        next.settings?.intervalSeconds !== row.settings?.intervalSeconds;
      const nextRun =
        change.nextRunAt ??
        (timingChanged ? nextRunAt(timingOf(next), new Date()) : new Date(row.next_run_at));
      const [updated] = await tx.query<[ScheduleRow[], number]>(
        `UPDATE reconciliation_schedules
            SET cadence = $3, timezone = $4, run_at_minute = $5, lag_hours = $6, enabled = $7,
                settings = $8::jsonb, next_run_at = $9, updated_at = now()
          WHERE customer_id = $1 AND kind = $2
        RETURNING ${COLUMNS}`,
        [
          customerId,
          kind,
          next.cadence,
          next.timezone,
          next.run_at_minute,
          next.lag_hours,
          next.enabled,
          JSON.stringify(next.settings ?? {}),
          nextRun.toISOString(),
        ],
      );
      return updated[0] ? toView(updated[0]) : null;
    });
  }

  /**
   * Turns due schedules into pending runs, at most `limit` per call. The due rows are locked
   * (FOR UPDATE SKIP LOCKED) for the transaction that inserts each run and moves next_run_at, so
   * two replicas never create a run for the same due time. Missed window runs are caught up one
   * after another (each run covers the window of its own due time); a missed deletion or crmKey
   * run is not repeated, its next time is after now. Across customers by design: the scheduler
   * serves every customer's due schedules.
   */
  async createDueRunsAcrossCustomers(owner: string, limit: number): Promise<ScheduledRun[]> {
    return this.db.transaction(async (tx: EntityManager) => {
      const due: ScheduleRow[] = await tx.query(
        `SELECT ${COLUMNS.split(',')
          .map((c) => `s.${c.trim()}`)
          .join(', ')}
           FROM reconciliation_schedules s
           JOIN customers c ON c.id = s.customer_id
          WHERE s.enabled AND s.next_run_at <= now() AND c.status IN ('live', 'backfilling')
          ORDER BY s.next_run_at
          LIMIT $1
          FOR UPDATE OF s SKIP LOCKED`,
        [limit],
      );
      const now = new Date();
      const created: ScheduledRun[] = [];
      for (const row of due) {
        const timing = timingOf(row);
        const dueAt = new Date(row.next_run_at);
        const window = scheduledWindow(timing, dueAt);
        let next = nextRunAt(timing, dueAt);
        if (row.kind !== 'window' && next.getTime() <= now.getTime()) {
          next = nextRunAt(timing, now);
        }
        const inserted: Array<{ id: string }> = await tx.query(
          `INSERT INTO reconciliation_runs (customer_id, kind, window_start, window_end, trigger, status)
           VALUES ($1, $2, $3, $4, 'schedule', 'pending') RETURNING id`,
          [row.customer_id, row.kind, window.start.toISOString(), window.end.toISOString()],
        );
        const runId = (inserted[0] as { id: string }).id;
        await tx.query(
          `UPDATE reconciliation_schedules
              SET next_run_at = $3, last_run_id = $4, lease_owner = $5, lease_expires_at = NULL, updated_at = now()
            WHERE customer_id = $1 AND kind = $2`,
          [row.customer_id, row.kind, next.toISOString(), runId, owner],
        );
        created.push({
          runId,
          customerId: row.customer_id,
          kind: row.kind,
          due: dueAt,
          windowStart: window.start,
          windowEnd: window.end,
          nextRunAt: next,
        });
      }
      return created;
    });
  }
}

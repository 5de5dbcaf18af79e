import { Injectable, NotFoundException } from '@nestjs/common';
import { allSourceResources } from '@raise-sync/shared/events';
import { DataSource } from 'typeorm';

/** A customer's row in the console's customer list. */
export interface CustomerSummary {
  id: string;
  name: string;
  status: string;
  verdict: Verdict;
  lastSuccessAt: string | null;
  openDeadLetters: number;
  failingCredentials: number;
}

export type Verdict = 'healthy' | 'attention' | 'failing';

export interface CustomerHealth {
  customer: { id: string; name: string; status: string; createdAt: string };
  verdict: Verdict;
  reasons: string[];
  destinations: Array<{
    id: string;
    name: string;
    kind: string;
    enabled: boolean;
    /**
     * flowing; draining (events wait in its lane because it was too slow for its share); paused
     * (its breaker is open: nothing is attempted but one probe at a time, since pausedSince).
     */
    delivery: 'flowing' | 'draining' | 'paused';
    pausedSince: string | null;
    /** Events waiting in the destination's lane. */
    waiting: number;
  }>;
  /** Per resource and destination: last successful sync and records synced (UTC periods). */
  syncs: Array<{
    resource: string;
    destinationId: string;
    lastSuccessAt: string | null;
    today: number;
    thisWeek: number;
    thisMonth: number;
    failing: number;
  }>;
  deadLetters: Array<{ destinationId: string | null; open: number; oldestAt: string }>;
  sources: Array<{
    source: string;
    credentialStatus: string;
    credentialError: string | null;
    credentialCheckedAt: string | null;
    webhookSubscribed: boolean;
    lastWebhookAt: string | null;
    pollingEnabled: boolean;
  }>;
  backfills: Array<{
    id: string;
    resource: string;
    status: string;
    recordsDone: number;
    recordsTotal: number | null;
    requestedAt: string;
    finishedAt: string | null;
    lastError: string | null;
  }>;
  /** The latest runs per kind, newest first; `trend` is the actionable count of each. */
  reconciliations: Array<{
    kind: string;
    latest: {
      id: string;
      status: string;
      windowStart: string;
      windowEnd: string;
      finishedAt: string | null;
      counts: Record<string, number>;
      error: string | null;
    };
    trend: number[];
  }>;
}

export interface RecordTrail {
  customerId: string;
  sourceId: string;
  found: boolean;
  records: Array<{
    resource: string;
    captures: Array<{
      eventId: string;
      origin: string | null;
      capturedAt: string | null;
      topic: string | null;
      partition: number | null;
      offset: string | null;
    }>;
    destinations: Array<{
      destinationId: string;
      name: string;
      kind: string;
      status: string;
      destinationRecordId: string | null;
      attempts: number;
      lastError: string | null;
      sourceModifiedAt: string;
      updatedAt: string;
      history: Array<{
        at: string;
        eventId: string | null;
        fromStatus: string | null;
        toStatus: string | null;
        attempts: number | null;
        error: string | null;
        origin: string | null;
      }>;
    }>;
    deadLetters: Array<{
      id: string;
      destinationId: string | null;
      reason: string;
      errorMessage: string;
      status: string;
      firstFailedAt: string;
    }>;
  }>;
}

const RESOURCES = [...new Set(allSourceResources().map((r) => r.resource as string))];
/** Open dead letters older than this make the verdict 'failing' rather than 'attention'. */
const STALE_DEAD_LETTER_HOURS = 24;
const TREND_RUNS = 10;

const iso = (value: Date | string | null | undefined): string | null =>
  value === null || value === undefined ? null : new Date(value).toISOString();

/**
 * The console's read side: one customer's sync health and one record's audit trail, straight
 * from the state store (sync_records, dead_letters, customer_sources, webhook_deliveries,
 * backfill_runs/jobs, reconciliation_runs, audit_log). Each answer is a handful of indexed queries.
 */
@Injectable()
export class ConsoleQueries {
  constructor(private readonly db: DataSource) {}

  async customers(onlyCustomerId?: string): Promise<CustomerSummary[]> {
    const rows = await this.db.query<
      Array<{
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
      }>
    >(
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
      [onlyCustomerId ?? null],
    );
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      status: r.status,
      verdict: judge({
        status: r.status,
        failingCredentials: Number(r.failing_credentials),
        openDeadLetters: Number(r.open_dead),
        oldestDeadLetter: r.oldest_dead,
        latestActionable: Number(r.latest_actionable),
        failedBackfills: Number(r.failed_backfills),
        lanes: (r.lanes ?? []).map((l) => ({
          ...l,
          openedAt: l.openedAt ? new Date(l.openedAt) : null,
        })),
      }).verdict,
      lastSuccessAt: iso(r.last_success),
      openDeadLetters: Number(r.open_dead),
      failingCredentials: Number(r.failing_credentials),
    }));
  }

  /** 404 unless the customer exists (the admin token may ask about any ID). */
  async requireCustomer(customerId: string): Promise<void> {
    const rows = await this.db.query<unknown[]>(`SELECT 1 FROM customers WHERE id = $1`, [
      customerId,
    ]);
    if (rows.length === 0) {
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
  }

  async health(customerId: string): Promise<CustomerHealth> {
    const [customer] = await this.db.query<
      Array<{ id: string; name: string; status: string; created_at: Date }>
    >(`SELECT id, name, status, created_at FROM customers WHERE id = $1`, [customerId]);
    if (!customer) {
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
    const [destinations, syncs, dead, sources, backfills, runs] = await Promise.all([
      this.db.query<
        Array<{
          id: string;
          name: string;
          kind: string;
          enabled: boolean;
          open: boolean;
          opened_at: Date | null;
          waiting: string;
        }>
      >(
        `SELECT d.id, d.name, d.kind, d.enabled, COALESCE(b.state = 'open', false) AS open, b.opened_at,
                (SELECT count(*) FROM retry_entries r WHERE r.destination_id = d.id AND r.parked_at IS NOT NULL) AS waiting
           FROM destinations d LEFT JOIN destination_breakers b ON b.destination_id = d.id
          WHERE d.customer_id = $1 ORDER BY d.name, d.id`,
        [customerId],
      ),
      this.db.query<
        Array<{
          resource: string;
          destination_id: string;
          last_success: Date | null;
          today: string;
          week: string;
          month: string;
          failing: string;
        }>
      >(
        `SELECT resource, destination_id,
                max(updated_at) FILTER (WHERE status = 'confirmed') AS last_success,
                count(*) FILTER (WHERE status = 'confirmed' AND updated_at >= date_trunc('day', now())) AS today,
                count(*) FILTER (WHERE status = 'confirmed' AND updated_at >= date_trunc('week', now())) AS week,
                count(*) FILTER (WHERE status = 'confirmed' AND updated_at >= date_trunc('month', now())) AS month,
                count(*) FILTER (WHERE status = 'failed') AS failing
           FROM sync_records WHERE customer_id = $1
          GROUP BY resource, destination_id ORDER BY resource, destination_id`,
        [customerId],
      ),
      this.db.query<Array<{ destination_id: string | null; open: string; oldest: Date }>>(
        `SELECT destination_id, count(*) AS open, min(first_failed_at) AS oldest
           FROM dead_letters WHERE customer_id = $1 AND status = 'open'
          GROUP BY destination_id ORDER BY destination_id`,
        [customerId],
      ),
      this.db.query<
        Array<{
          source: string;
          credential_status: string;
          credential_error: string | null;
          credential_checked_at: Date | null;
          webhook_subscription_id: string | null;
          polling_enabled: boolean;
          last_webhook: Date | null;
        }>
      >(
        `SELECT cs.source, cs.credential_status, cs.credential_error, cs.credential_checked_at,
                cs.webhook_subscription_id, cs.polling_enabled,
                (SELECT max(w.received_at) FROM webhook_deliveries w
                  WHERE w.customer_id = cs.customer_id AND w.source = cs.source) AS last_webhook
           FROM customer_sources cs WHERE cs.customer_id = $1 ORDER BY cs.source`,
        [customerId],
      ),
      this.db.query<
        Array<{
          id: string;
          resource: string;
          status: string;
          done: string;
          records_total: string | null;
          requested_at: Date;
          finished_at: Date | null;
          last_error: string | null;
        }>
      >(
        `SELECT r.id, r.resource, r.status, COALESCE(sum(j.records_done), 0) AS done, r.records_total,
                r.requested_at, r.finished_at, r.last_error
           FROM backfill_runs r LEFT JOIN backfill_jobs j ON j.run_id = r.id
          WHERE r.customer_id = $1
          GROUP BY r.id ORDER BY r.requested_at DESC LIMIT 10`,
        [customerId],
      ),
      this.db.query<
        Array<{
          id: string;
          kind: string;
          status: string;
          window_start: Date;
          window_end: Date;
          finished_at: Date | null;
          counts: Record<string, number> | null;
          error: string | null;
        }>
      >(
        `SELECT id, kind, status, window_start, window_end, finished_at, counts, error FROM (
           SELECT *, row_number() OVER (PARTITION BY kind ORDER BY requested_at DESC) AS n
             FROM reconciliation_runs WHERE customer_id = $1) latest
          WHERE n <= $2 ORDER BY kind, requested_at DESC`,
        [customerId, TREND_RUNS],
      ),
    ]);

    const reconciliations: CustomerHealth['reconciliations'] = [];
    // The actionable count of each kind's latest finished run (a running one has no counts yet).
    const latestActionable = new Map<string, number>();
    for (const run of runs) {
      if (run.status === 'done' && !latestActionable.has(run.kind)) {
        latestActionable.set(run.kind, Number(run.counts?.['actionable'] ?? 0));
      }
      const counts = run.counts ?? {};
      let entry = reconciliations.find((r) => r.kind === run.kind);
      if (!entry) {
        entry = {
          kind: run.kind,
          latest: {
            id: run.id,
            status: run.status,
            windowStart: iso(run.window_start) ?? '',
            windowEnd: iso(run.window_end) ?? '',
            finishedAt: iso(run.finished_at),
            counts,
            error: run.error,
          },
          trend: [],
        };
        reconciliations.push(entry);
      }
      // Oldest first, so the trend reads left to right.
      entry.trend.unshift(Number(counts['actionable'] ?? 0));
    }

    const verdict = judge({
      status: customer.status,
      failingCredentials: sources.filter((s) => s.credential_status === 'failing').length,
      openDeadLetters: dead.reduce((n, d) => n + Number(d.open), 0),
      oldestDeadLetter: dead.reduce<Date | null>(
        (min, d) => (min === null || d.oldest < min ? d.oldest : min),
        null,
      ),
      latestActionable: [...latestActionable.values()].reduce((n, v) => n + v, 0),
      // A failed run counts only while it is its resource's latest (a later run supersedes it).
      failedBackfills: backfills.filter(
        (b, i) =>
          b.status === 'failed' && !backfills.slice(0, i).some((n) => n.resource === b.resource),
      ).length,
      lanes: destinations.map((d) => ({
        name: d.name,
        open: d.open,
        openedAt: d.opened_at,
        waiting: Number(d.waiting),
      })),
    });

    return {
      customer: {
        id: customer.id,
        name: customer.name,
        status: customer.status,
        createdAt: iso(customer.created_at) ?? '',
      },
      ...verdict,
      destinations: destinations.map((d) => ({
        id: d.id,
        name: d.name,
        kind: d.kind,
        enabled: d.enabled,
        delivery: d.open ? 'paused' : Number(d.waiting) > 0 ? 'draining' : 'flowing',
        pausedSince: d.open ? iso(d.opened_at) : null,
        waiting: Number(d.waiting),
      })),
      syncs: syncs.map((s) => ({
        resource: s.resource,
        destinationId: s.destination_id,
        lastSuccessAt: iso(s.last_success),
        today: Number(s.today),
        thisWeek: Number(s.week),
        thisMonth: Number(s.month),
        failing: Number(s.failing),
      })),
      deadLetters: dead.map((d) => ({
        destinationId: d.destination_id,
        open: Number(d.open),
        oldestAt: iso(d.oldest) ?? '',
      })),
      sources: sources.map((s) => ({
        source: s.source,
        credentialStatus: s.credential_status,
        credentialError: s.credential_error,
        credentialCheckedAt: iso(s.credential_checked_at),
        webhookSubscribed: s.webhook_subscription_id !== null,
        lastWebhookAt: iso(s.last_webhook),
        pollingEnabled: s.polling_enabled,
      })),
      backfills: backfills.map((b) => ({
        id: b.id,
        resource: b.resource,
        status: b.status,
        recordsDone: Number(b.done),
        recordsTotal: b.records_total === null ? null : Number(b.records_total),
        requestedAt: iso(b.requested_at) ?? '',
        finishedAt: iso(b.finished_at),
        lastError: b.last_error,
      })),
      reconciliations,
    };
  }

  /** Every trace of one source record ID (any resource unless one is named). */
  async trail(customerId: string, sourceId: string, resource?: string): Promise<RecordTrail> {
    const resources = resource ? [resource] : RESOURCES;
    const [states, history, dead] = await Promise.all([
      this.db.query<
        Array<{
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
        }>
      >(
        `SELECT s.resource, s.destination_id, d.name, d.kind, s.status, s.destination_record_id,
                s.attempts, s.last_error, s.source_modified_at, s.updated_at
           FROM sync_records s LEFT JOIN destinations d ON d.id = s.destination_id
          WHERE s.customer_id = $1 AND s.resource = ANY($2::text[]) AND s.source_id = $3
          ORDER BY s.resource, d.name, s.destination_id`,
        [customerId, resources, sourceId],
      ),
      this.db.query<
        Array<{
          resource: string;
          destination_id: string | null;
          event_id: string | null;
          from_status: string | null;
          to_status: string | null;
          detail: Record<string, unknown>;
          at: Date;
        }>
      >(
        `SELECT resource, destination_id, event_id, from_status, to_status, detail, at
           FROM audit_log
          WHERE customer_id = $1 AND resource = ANY($2::text[]) AND source_id = $3
          ORDER BY id`,
        [customerId, resources, sourceId],
      ),
      this.db.query<
        Array<{
          id: string;
          resource: string;
          destination_id: string | null;
          reason: string;
          error_message: string;
          status: string;
          first_failed_at: Date;
        }>
      >(
        `SELECT id, resource, destination_id, reason, error_message, status, first_failed_at
           FROM dead_letters
          WHERE customer_id = $1 AND resource = ANY($2::text[]) AND source_id = $3
          ORDER BY first_failed_at`,
        [customerId, resources, sourceId],
      ),
    ]);

    const found = new Set([
      ...states.map((s) => s.resource),
      ...history.map((h) => h.resource),
      ...dead.map((d) => d.resource),
    ]);
    const records = [...found].sort().map((res) => {
      const events = history.filter((h) => h.resource === res);
      const captures = new Map<string, RecordTrail['records'][number]['captures'][number]>();
      for (const h of events) {
        if (!h.event_id || captures.has(h.event_id)) {
          continue;
        }
        captures.set(h.event_id, {
          eventId: h.event_id,
          origin: text(h.detail['origin']),
          capturedAt: text(h.detail['capturedAt']),
          topic: text(h.detail['topic']),
          partition: typeof h.detail['partition'] === 'number' ? h.detail['partition'] : null,
          offset: text(h.detail['offset']),
        });
      }
      return {
        resource: res,
        captures: [...captures.values()],
        destinations: states
          .filter((s) => s.resource === res)
          .map((s) => ({
            destinationId: s.destination_id,
            name: s.name ?? '(removed destination)',
            kind: s.kind ?? 'unknown',
            status: s.status,
            destinationRecordId: s.destination_record_id,
            attempts: s.attempts,
            lastError: s.last_error,
            sourceModifiedAt: iso(s.source_modified_at) ?? '',
            updatedAt: iso(s.updated_at) ?? '',
            history: events
              .filter((h) => h.destination_id === s.destination_id)
              .map((h) => ({
                at: iso(h.at) ?? '',
                eventId: h.event_id,
                fromStatus: h.from_status,
                toStatus: h.to_status,
                attempts: typeof h.detail['attempts'] === 'number' ? h.detail['attempts'] : null,
                error: text(h.detail['error']),
                origin: text(h.detail['origin']),
              })),
          })),
        deadLetters: dead
          .filter((d) => d.resource === res)
          .map((d) => ({
            id: d.id,
            destinationId: d.destination_id,
            reason: d.reason,
            errorMessage: d.error_message,
            status: d.status,
            firstFailedAt: iso(d.first_failed_at) ?? '',
          })),
      };
    });
    return { customerId, sourceId, found: records.length > 0, records };
  }
}

const text = (value: unknown): string | null =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null;

/**
 * "Is our integration working?" in one word, with the reasons: failing when a source token is
 * rejected, the customer is paused, a backfill failed or dead letters sit unresolved for a day;
 * attention for any open dead letter or actionable reconciliation finding; healthy otherwise.
 */
export function judge(input: {
  status: string;
  failingCredentials: number;
  openDeadLetters: number;
  oldestDeadLetter: Date | null;
  latestActionable: number;
  failedBackfills: number;
  /** Destinations with an open breaker or events waiting in their lane. */
  lanes?: Array<{ name: string; open: boolean; openedAt: Date | null; waiting: number }>;
  now?: Date;
}): { verdict: Verdict; reasons: string[] } {
  const now = input.now ?? new Date();
  const failing: string[] = [];
  const attention: string[] = [];
  if (input.failingCredentials > 0) {
    failing.push('a source token is rejected: polling is stopped until it is replaced');
  }
  if (input.status === 'paused') {
    failing.push('the customer is paused');
  }
  if (input.failedBackfills > 0) {
    failing.push('a backfill failed');
  }
  if (input.openDeadLetters > 0) {
    const ageHours = input.oldestDeadLetter
      ? (now.getTime() - new Date(input.oldestDeadLetter).getTime()) / 3_600_000
      : 0;
    (ageHours >= STALE_DEAD_LETTER_HOURS ? failing : attention).push(
      `${input.openDeadLetters} open dead letter(s), oldest ${Math.floor(ageHours)} h`,
    );
  }
  for (const lane of input.lanes ?? []) {
    const waiting = `${lane.waiting.toLocaleString('en-US')} waiting`;
    if (lane.open) {
      const since = lane.openedAt ? ` since ${lane.openedAt.toISOString().slice(11, 16)} UTC` : '';
      attention.push(`paused: ${lane.name} unavailable${since}, ${waiting}`);
    } else if (lane.waiting > 0) {
      attention.push(`draining: ${lane.name} is slower than its share, ${waiting}`);
    }
  }
  if (input.latestActionable > 0) {
    attention.push(`the last reconciliation found ${input.latestActionable} actionable gap(s)`);
  }
  if (failing.length > 0) {
    return { verdict: 'failing', reasons: [...failing, ...attention] };
  }
  return attention.length > 0
    ? { verdict: 'attention', reasons: attention }
    : { verdict: 'healthy', reasons: [] };
}

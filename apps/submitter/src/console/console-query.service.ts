import { Injectable, NotFoundException } from '@nestjs/common';
import { allSourceResources } from '@raise-sync/shared/events';
import { DonorErasureRepository, customerScope } from '@raise-sync/shared/state';
import { ConsoleRepository } from './console.repository';

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
  customer: {
    id: string;
    name: string;
    status: string;
    /** How it was onboarded (null: before onboarding modes) and where its data starts. */
    onboardingMode: string | null;
    syncFrom: string | null;
    createdAt: string;
  };
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
  /** Set when the source ID is an erased donor's: the erasure record (never the data). */
  erasure?: {
    /** 'erased' once the state store holds nothing of the donor; 'erasure pending' before. */
    status: 'erased' | 'erasure pending';
    trigger: string;
    requestedBy: string;
    requestedAt: string;
    completedAt: string | null;
    rowsRedacted: Record<string, number>;
    destinations: Record<string, string>;
  };
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
 * The console's read side: one customer's sync health and one record's audit trail, from the
 * state store through ConsoleRepository. Each answer is a handful of indexed queries.
 */
@Injectable()
export class ConsoleQueries {
  constructor(
    private readonly repository: ConsoleRepository,
    private readonly erasures: DonorErasureRepository,
  ) {}

  /** The customers a viewer may see: its own (a console token), or every current one (admin). */
  async customers(onlyCustomerId?: string): Promise<CustomerSummary[]> {
    const rows = onlyCustomerId
      ? await this.repository.customerSummary(customerScope(onlyCustomerId))
      : await this.repository.customerSummariesAcrossCustomers();
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
    if (!(await this.repository.customerExists(customerScope(customerId)))) {
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
  }

  async health(customerId: string): Promise<CustomerHealth> {
    const scope = customerScope(customerId);
    const customer = await this.repository.customer(scope);
    if (!customer) {
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
    const [destinations, syncs, dead, sources, backfills, runs] = await Promise.all([
      this.repository.destinations(scope),
      this.repository.syncVolumes(scope),
      this.repository.openDeadLetters(scope),
      this.repository.sources(scope),
      this.repository.backfills(scope),
      this.repository.reconciliationRuns(scope, TREND_RUNS),
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
        onboardingMode: customer.onboarding_mode,
        syncFrom: iso(customer.sync_from),
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
    const scope = customerScope(customerId);
    const [states, history, dead, erasure] = await Promise.all([
      this.repository.recordStates(scope, resources, sourceId),
      this.repository.recordHistory(scope, resources, sourceId),
      this.repository.recordDeadLetters(scope, resources, sourceId),
      resources.includes('donor') ? this.erasures.get(scope, sourceId) : Promise.resolve(null),
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
    return {
      customerId,
      sourceId,
      found: records.length > 0 || erasure !== null,
      records,
      ...(erasure
        ? {
            erasure: {
              status:
                erasure.status === 'completed' ? ('erased' as const) : ('erasure pending' as const),
              trigger: erasure.trigger,
              requestedBy: erasure.requestedBy,
              requestedAt: iso(erasure.requestedAt) ?? '',
              completedAt: iso(erasure.completedAt),
              rowsRedacted: erasure.rowsRedacted,
              destinations: erasure.destinations,
            },
          }
        : {}),
    };
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

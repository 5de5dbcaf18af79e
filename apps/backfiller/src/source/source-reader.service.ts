import { Inject, Injectable } from '@nestjs/common';
import { newSourceEvent, type Resource, type SourceEvent } from '@raise-sync/shared/events';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { SourceClients } from '@raise-sync/sources/service';
import {
  isRaiseResource,
  RAISE_OPERATORS,
  RAISE_PARAMETERS,
  raiseToRecord,
  SourceContractError,
  vomoToRecord,
  type RaiseCondition,
  type RaiseResource,
  type VomoUserResource,
} from '@raise-sync/sources';
import type { SourceName } from '@raise-sync/shared/state';

export interface SourceCredentials {
  customerId: string;
  token: string;
}

/** What a backfill covers: a customer's resource, optionally a modified-time window [from, to). */
export interface BackfillScope {
  customerId: string;
  source: SourceName;
  resource: Resource;
  modifiedFrom: Date | null;
  modifiedTo: Date | null;
}

/** The source's answer at planning: an ID span to split, or (VOMO) only a count. */
export type SourceSpan =
  | { kind: 'empty' }
  | { kind: 'ids'; minId: number; maxId: number; total: number }
  | { kind: 'unsplittable'; total: number | null };

/** Where a range resumes: after this ID (Raise), or after this (modified time, ID) (VOMO). */
export interface ReadPosition {
  afterId: number | null;
  toId: number | null;
  afterKey: { at: Date; id: string } | null;
}

/** One page read from the source, mapped to events (origin = backfill). */
export interface BackfillPage {
  events: SourceEvent[];
  /** Records the source returned, readable or not: what the range has covered. */
  records: number;
  /** Last ID of the page: the range's cursor once the page is published. */
  lastId: string;
  /** Newest (modified time, ID) of the page's readable records. */
  highWater: { at: Date; id: string } | null;
}

const SAFE_ID = /^\d{1,15}$/;

/**
 * Reads a customer's history from its source for the backfiller: the ID span and count at
 * planning, then pages of one range. Requests go through the injectable SourceClients, whose
 * per-customer budgets are shared through PostgreSQL with ingest's poller and every other
 * replica, and which wait out 429s (Retry-After) for the whole customer.
 */
@Injectable()
export class SourceReader {
  constructor(
    private readonly clients: SourceClients,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('source-reader');
  }

  /**
   * Raise: two one-record queries (ID ascending and descending) with the date conditions; the
   * ascending one's `total` is the count. VOMO's users API cannot filter or sort by ID, so a VOMO
   * backfill is one range read in (updated_at, id) order; its count comes from `meta.total`.
   */
  async span(
    scope: BackfillScope,
    creds: SourceCredentials,
    signal?: AbortSignal,
  ): Promise<SourceSpan> {
    if (scope.source === 'raise' && isRaiseResource(scope.resource)) {
      const conditions = raiseWindow(scope);
      const body = {
        skip: 0,
        take: 1,
        sortBy: RAISE_PARAMETERS.id,
        groups: conditions.length > 0 ? [{ conditions }] : [],
      };
      const first = await this.clients.raise.query(
        creds,
        scope.resource,
        { ...body, descending: false },
        signal,
      );
      if (first.total === 0 || first.items.length === 0) {
        return { kind: 'empty' };
      }
      const last = await this.clients.raise.query(
        creds,
        scope.resource,
        { ...body, descending: true },
        signal,
      );
      const minId = numericId(first.items[0]?.id);
      const maxId = numericId(last.items[0]?.id ?? first.items[0]?.id);
      return { kind: 'ids', minId, maxId: Math.max(minId, maxId), total: first.total };
    }
    if (scope.source === 'vomo' && scope.resource === 'user') {
      const page = await this.clients.vomo.listUsers(
        creds,
        {
          ...(scope.modifiedFrom
            ? { updated_after: isoSeconds(scope.modifiedFrom.getTime() - 1000) }
            : {}),
          ...(scope.modifiedTo ? { updated_before: isoSeconds(scope.modifiedTo.getTime()) } : {}),
        },
        signal,
      );
      const total = typeof page.meta.total === 'number' ? page.meta.total : null;
      return total === 0 ? { kind: 'empty' } : { kind: 'unsplittable', total };
    }
    throw new SourceContractError(`${scope.source} has no resource ${scope.resource}`);
  }

  /** Pages of one range from `position`, ascending; each page is published, then checkpointed. */
  async *pages(
    scope: BackfillScope,
    creds: SourceCredentials,
    position: ReadPosition,
    pageSize: number,
    signal: AbortSignal,
  ): AsyncGenerator<BackfillPage> {
    if (scope.source === 'raise' && isRaiseResource(scope.resource)) {
      yield* this.raisePages(scope, scope.resource, creds, position, pageSize, signal);
      return;
    }
    yield* this.vomoPages(scope, creds, position, signal);
  }

  private async *raisePages(
    scope: BackfillScope,
    resource: RaiseResource,
    creds: SourceCredentials,
    position: ReadPosition,
    pageSize: number,
    signal: AbortSignal,
  ): AsyncGenerator<BackfillPage> {
    for await (const page of this.clients.raise.streamById(creds, resource, {
      afterId: position.afterId,
      ...(position.toId === null ? {} : { toId: position.toId }),
      pageSize,
      // Gifts with their donor embedded, as the poller reads them: destinations keyed by email
      // (CRM+) need the donor's.
      includeDetails: resource === 'gift',
      extraConditions: raiseWindow(scope),
      signal,
    })) {
      const events = this.toEvents(scope, page.items, (item) =>
        raiseToRecord(resource, item as never),
      );
      yield {
        events,
        records: page.items.length,
        lastId: String(numericId(page.lastId)),
        highWater: newest(events),
      };
    }
  }

  private async *vomoPages(
    scope: BackfillScope,
    creds: SourceCredentials,
    position: ReadPosition,
    signal: AbortSignal,
  ): AsyncGenerator<BackfillPage> {
    // Resume after the high-water mark; a fresh range starts just before modifiedFrom.
    const after =
      position.afterKey ??
      (scope.modifiedFrom ? { at: new Date(scope.modifiedFrom.getTime() - 1), id: '' } : null);
    const toMs = scope.modifiedTo?.getTime() ?? null;
    for await (const page of this.clients.vomo.streamUpdatedSince(creds, { after, signal })) {
      // Pages come in (updated_at, id) order: past modifiedTo, the window is complete.
      const inWindow =
        toMs === null
          ? page.items
          : page.items.filter((user) => Date.parse(user.updated_at) < toMs);
      const events = this.toEvents(scope, inWindow, (user) =>
        vomoToRecord(user as VomoUserResource),
      );
      if (inWindow.length > 0) {
        const last = inWindow[inWindow.length - 1];
        yield {
          events,
          records: inWindow.length,
          lastId: String(numericId(last?.id ?? page.cursor.id)),
          highWater: newest(events),
        };
      }
      if (inWindow.length < page.items.length) {
        return;
      }
    }
  }

  /**
   * Backfill events for a page. A record in a shape we cannot read is logged with its ID and
   * counted (`raise_sync_source_records_malformed_total`), and the page goes on without it, as
   * the poller does; the reconciler reports it while it stays unreadable.
   */
  private toEvents(
    scope: BackfillScope,
    items: unknown[],
    map: (item: unknown) => { recordId: string; sourceModifiedAt: Date; record: unknown },
  ): SourceEvent[] {
    const events: SourceEvent[] = [];
    for (const item of items) {
      try {
        const mapped = map(item);
        events.push(
          newSourceEvent({
            customerId: scope.customerId,
            source: scope.source,
            resource: scope.resource,
            operation: 'upsert',
            origin: 'backfill',
            recordId: mapped.recordId,
            sourceModifiedAt: mapped.sourceModifiedAt,
            record: mapped.record,
          } as never),
        );
      } catch (error) {
        const labels = {
          customer_id: scope.customerId,
          source: scope.source,
          resource: scope.resource,
        };
        this.metrics.sourceRecordsMalformed.inc(labels);
        this.log.error(
          {
            customerId: scope.customerId,
            source: scope.source,
            resource: scope.resource,
            recordId: JSON.stringify((item as { id?: unknown } | null)?.id ?? null),
            err: error instanceof Error ? error.message : String(error),
          },
          'source record could not be read; skipped',
        );
      }
    }
    return events;
  }
}

/** The modified-time window as Raise conditions: from inclusive, to exclusive. */
export function raiseWindow(
  scope: Pick<BackfillScope, 'modifiedFrom' | 'modifiedTo'>,
): RaiseCondition[] {
  const conditions: RaiseCondition[] = [];
  if (scope.modifiedFrom) {
    conditions.push({
      parameter: RAISE_PARAMETERS.modified,
      operator: RAISE_OPERATORS.greaterThanOrEqual,
      value: scope.modifiedFrom.toISOString(),
    });
  }
  if (scope.modifiedTo) {
    conditions.push({
      parameter: RAISE_PARAMETERS.modified,
      operator: RAISE_OPERATORS.lessThan,
      value: scope.modifiedTo.toISOString(),
    });
  }
  return conditions;
}

/** The newest (modified time, ID) among events (IDs compared as numbers). */
function newest(events: SourceEvent[]): { at: Date; id: string } | null {
  let best: { at: Date; id: string } | null = null;
  for (const event of events) {
    const at = event.sourceModifiedAt;
    if (
      !best ||
      at.getTime() > best.at.getTime() ||
      (at.getTime() === best.at.getTime() && Number(event.recordId) > Number(best.id))
    ) {
      best = { at, id: event.recordId };
    }
  }
  return best && { at: best.at, id: String(numericId(best.id)) };
}

/** Source IDs are stored as bigint: they must be whole numbers. */
export function numericId(value: unknown): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : '';
  if (!SAFE_ID.test(text)) {
    throw new SourceContractError(
      `the backfill needs numeric record IDs to split and checkpoint by ID; got ${JSON.stringify(value)}`,
    );
  }
  return Number(text);
}

const isoSeconds = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

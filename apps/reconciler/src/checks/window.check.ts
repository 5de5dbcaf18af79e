import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LookupNotSupportedError, type LookupResult } from '@raise-sync/destinations';
import { newSourceEvent, type Resource, type Source } from '@raise-sync/shared/events';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { CustomerRepository, customerScope, type CustomerScope } from '@raise-sync/shared/state';
import { ReconcileTargets, type ReconcileTarget } from '../core/reconcile-targets';
import { DiscrepancyRepository, type Discrepancy } from '../runs/discrepancy.repository';
import type { ReconciliationCheck, RunContext, RunOutcome } from '../runs/run-types';
import {
  blocksRepublish,
  classifyBySync,
  classifyHeld,
  destinationHolds,
  type SyncState,
  type Verdict,
} from './gap-classifier';
import { Republisher } from './republisher';
import { Counter, mapLimit, planResources, throwIfAborted } from './run-support';
import { SourceReader, type SourcePage, type SourceRecord } from './source-reader';
import { SyncStateRepository, type Invalidation, type Parking } from './sync-state.repository';
import type { ReconcilerConfig } from '../reconciler.config';

interface PageScope {
  ctx: RunContext;
  customer: CustomerScope;
  source: Source;
  resource: Resource;
  targets: ReconcileTarget[];
  counter: Counter;
  /** Destinations whose adapter said it cannot look records up: not asked again this run. */
  noLookup: Set<string>;
}

const asIso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** A record's verdict at one destination, and what the destination had (for the details). */
interface Judgement {
  verdict: Verdict;
  had: unknown;
}

/**
 * Window reconciliation (kind 'window'): for every resource of the customer's sources, streams
 * the records whose modified time lies in the run's closed window, a page at a time, and checks
 * each enabled destination that takes the resource:
 * - the warehouse by its own rows (one batched query per page);
 * - HTTP destinations by the sync state (one query per page), asking the destination itself
 *   (adapter.lookup, bounded concurrency) only for records the sync state does not show as
 *   delivered at the source's version; a destination that cannot be asked is judged by the sync
 *   state.
 * A record is a gap where the destination does not hold it at the source's version. Gaps are
 * republished once per record (origin 'reconcile') after invalidating sync rows that would make
 * the submitter skip them, and recorded as discrepancies. Memory: one page.
 */
@Injectable()
export class WindowCheck implements ReconciliationCheck {
  readonly kind = 'window' as const;
  private readonly pageSize: number;
  private readonly lookupConcurrency: number;

  constructor(
    private readonly customers: CustomerRepository,
    config: ConfigService<ReconcilerConfig, true>,
    private readonly directory: ReconcileTargets,
    private readonly reader: SourceReader,
    private readonly syncState: SyncStateRepository,
    private readonly republisher: Republisher,
    private readonly recorder: DiscrepancyRepository,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    const reconciler = config.get('reconciler', { infer: true });
    this.pageSize = reconciler.pageSize;
    this.lookupConcurrency = reconciler.lookupConcurrency;
    this.log.setContext('window-check');
  }

  async run(ctx: RunContext): Promise<RunOutcome> {
    const customer = customerScope(ctx.customerId);
    const plan = planResources(await this.customers.credentials(customer), ctx.resources);
    if (plan.length === 0) {
      return { status: 'skipped', counts: {}, note: 'the customer has no source token' };
    }
    const targets = await this.directory.enabled(customer);
    if (targets.length === 0) {
      return { status: 'skipped', counts: {}, note: 'the customer has no enabled destination' };
    }
    const counter = new Counter();
    counter.ensure(
      'source_total',
      'destination_total',
      'missing_in_destination',
      'stale',
      'republished',
      'actionable',
      'unreadable',
      'dead_lettered',
      'needs_source_fix',
      'in_retry',
    );
    for (const target of targets) {
      counter.ensure(`missing_in_destination:${target.ctx.name}`, `stale:${target.ctx.name}`);
    }
    const noLookup = new Set<string>();
    for (const { source, resource, token } of plan) {
      const accepting = targets.filter((t) => t.adapter.accepts(resource, t.ctx));
      if (accepting.length === 0) {
        continue;
      }
      const pages = this.reader.window({
        customerId: ctx.customerId,
        token,
        source,
        resource,
        start: ctx.windowStart,
        end: ctx.windowEnd,
        pageSize: this.pageSize,
        signal: ctx.signal,
      });
      for await (const page of pages) {
        throwIfAborted(ctx.signal);
        await this.page(
          { ctx, customer, source, resource, targets: accepting, counter, noLookup },
          page,
        );
      }
    }
    return { status: 'done', counts: counter.counts };
  }

  private async page(scope: PageScope, page: SourcePage): Promise<void> {
    const { ctx, resource, counter } = scope;
    counter.add('source_total', page.records.length);
    if (page.unreadable.length > 0) {
      counter.add('unreadable', page.unreadable.length);
      for (const bad of page.unreadable) {
        this.metrics.sourceRecordsMalformed.inc({
          customer_id: ctx.customerId,
          source: scope.source,
          resource,
        });
        this.log.error(
          {
            customerId: ctx.customerId,
            runId: ctx.runId,
            resource,
            recordId: bad.id,
            err: bad.error,
          },
          'source record in the window could not be read; not compared',
        );
      }
    }
    if (page.records.length === 0) {
      return;
    }
    const gaps = new Map<string, SourceRecord>();
    const found: Discrepancy[] = [];
    for (const target of scope.targets) {
      const { ctx: dest } = target;
      // Only the records that are not plainly in line come back from PostgreSQL; the rest of the
      // page is held at the source's version and costs no further work.
      const { judged, sync } = await this.judge(scope, target, page.records);
      counter.add('destination_total', page.records.length - judged.size);
      const gapIds = [...judged].filter(([, j]) => j.verdict.gap).map(([id]) => id);
      const parked =
        gapIds.length > 0
          ? await this.syncState.parked(scope.customer, resource, dest.destinationId, gapIds)
          : new Map<string, Parking>();
      const invalidate: Invalidation[] = [];
      for (const record of page.records) {
        const judgement = judged.get(record.recordId);
        if (!judgement) {
          continue;
        }
        const { verdict, had } = judgement;
        if (destinationHolds(verdict)) {
          counter.add('destination_total');
        }
        if (!verdict.gap) {
          continue;
        }
        const row = sync.get(record.recordId);
        const parking = parked.get(record.recordId);
        if (
          parking &&
          row?.status === 'failed' &&
          row.sourceModifiedAt >= record.sourceModifiedAt
        ) {
          // The submitter already holds this version: a retry in flight (not a gap yet), a hold
          // for a fix in the source (delivered on its own once fixed: reported, not actionable)
          // or an open dead letter (a refusal a human must look at: reported, not republished).
          counter.add(parking);
          counter.add(`${parking}:${dest.name}`);
          if (parking === 'dead_lettered') {
            counter.add('actionable');
            found.push({
              resource,
              sourceId: record.recordId,
              destinationId: dest.destinationId,
              state: 'dead_lettered',
              actionable: true,
              republished: false,
              details: {
                destination: dest.name,
                reason: 'an open dead letter holds this version; retry or discard it (admin API)',
                sourceModifiedAt: record.sourceModifiedAt.toISOString(),
              },
            });
          }
          continue;
        }
        const state = verdict.state;
        const measure = state === 'missing_in_destination' ? 'missing_in_destination' : 'stale';
        counter.add(measure);
        counter.add(`${measure}:${dest.name}`);
        counter.add('actionable');
        gaps.set(record.recordId, record);
        if (blocksRepublish(row, record.sourceModifiedAt)) {
          invalidate.push({ sourceId: record.recordId, sourceModifiedAt: record.sourceModifiedAt });
        }
        found.push({
          resource,
          sourceId: record.recordId,
          destinationId: dest.destinationId,
          state,
          actionable: true,
          republished: true,
          details: {
            destination: dest.name,
            reason: verdict.reason,
            sourceModifiedAt: record.sourceModifiedAt.toISOString(),
            had,
            syncState: row
              ? { status: row.status, sourceModifiedAt: asIso(row.sourceModifiedAt) }
              : null,
          },
        });
      }
      const invalidated = await this.syncState.invalidate(
        scope.customer,
        resource,
        dest.destinationId,
        invalidate,
        ctx.runId,
      );
      if (invalidated > 0) {
        counter.add('sync_state_invalidated', invalidated);
      }
    }
    if (gaps.size > 0) {
      await this.republisher.upserts(
        'window',
        ctx.customerId,
        scope.source,
        resource,
        [...gaps.values()],
        ctx.signal,
      );
      counter.add('republished', gaps.size);
    }
    if (found.length > 0) {
      await this.recorder.record(scope.customer, ctx.runId, found);
    }
  }

  /** The adapter's own "never taken" rule for this record, when it has one (pure, no I/O). */
  private intentionalSkip(
    scope: PageScope,
    target: ReconcileTarget,
    record: SourceRecord,
  ): string | null {
    if (!target.adapter.intentionalSkip) {
      return null;
    }
    const event = newSourceEvent({
      customerId: scope.ctx.customerId,
      source: scope.source,
      resource: scope.resource,
      operation: 'upsert',
      origin: 'reconcile',
      recordId: record.recordId,
      sourceModifiedAt: record.sourceModifiedAt,
      record: record.record,
    } as never);
    try {
      return target.adapter.intentionalSkip(target.ctx, event);
    } catch {
      return null; // unreadable settings: let the lookup / sync state decide
    }
  }

  /**
   * The verdicts of the records of a page that are not plainly in line at this destination, by
   * record ID (a record absent from `judged` is held at the source's version), and the sync rows
   * of those records. The warehouse is compared by its own rows; an HTTP destination first by the
   * sync state, then, for what that does not show as delivered, by asking the destination itself.
   */
  private async judge(
    scope: PageScope,
    target: ReconcileTarget,
    records: SourceRecord[],
  ): Promise<{ judged: Map<string, Judgement>; sync: Map<string, SyncState> }> {
    const { ctx: dest } = target;
    const { customerId } = scope.ctx;
    const judged = new Map<string, Judgement>();
    if (dest.kind === 'warehouse') {
      const behind = await this.directory.warehouse().behind(
        dest,
        scope.resource,
        records.map((r) => ({ sourceId: r.recordId, sourceModifiedAt: r.sourceModifiedAt })),
      );
      for (const r of records) {
        const held = behind.get(r.recordId);
        if (held) {
          judged.set(r.recordId, {
            verdict: classifyHeld(r.sourceModifiedAt, held),
            had: describeHeld(held),
          });
        }
      }
      const sync =
        judged.size > 0
          ? await this.syncState.read(scope.customer, scope.resource, dest.destinationId, [
              ...judged.keys(),
            ])
          : new Map<string, SyncState>();
      return { judged, sync };
    }
    const rows = await this.syncState.notShownDelivered(
      scope.customer,
      scope.resource,
      dest.destinationId,
      records,
    );
    const sync = new Map<string, SyncState>();
    for (const [id, row] of rows) {
      if (row) {
        sync.set(id, row);
      }
    }
    const open = records.filter((r) => rows.has(r.recordId));
    const verdicts = await mapLimit(open, this.lookupConcurrency, async (r) => {
      const row = sync.get(r.recordId);
      const skip = this.intentionalSkip(scope, target, r);
      if (skip !== null) {
        // The destination never takes this record (test mode, no email, not invoiced...): the
        // submitter skipped it on purpose, so it is not a gap, today or on any later run.
        scope.counter.add(`not_taken:${dest.name}`);
        return { verdict: { gap: false }, had: { source: 'adapter', notTaken: skip } } as const;
      }
      if (scope.noLookup.has(dest.destinationId)) {
        return { verdict: classifyBySync(r.sourceModifiedAt, row), had: { source: 'sync_state' } };
      }
      try {
        const held = await target.adapter.lookup(dest, scope.resource, r.recordId);
        return { verdict: classifyHeld(r.sourceModifiedAt, held), had: describeHeld(held) };
      } catch (error) {
        if (error instanceof LookupNotSupportedError) {
          scope.noLookup.add(dest.destinationId);
        } else {
          // Not confirmed either way: trust the sync state (which does not show it delivered).
          scope.counter.add(`lookup_failed:${dest.name}`);
          this.log.warn(
            {
              customerId,
              runId: scope.ctx.runId,
              destination: dest.name,
              recordId: r.recordId,
              err: error instanceof Error ? error.message : String(error),
            },
            'destination lookup failed; judging the record by the sync state',
          );
        }
        return { verdict: classifyBySync(r.sourceModifiedAt, row), had: { source: 'sync_state' } };
      }
    });
    open.forEach((r, i) => judged.set(r.recordId, verdicts[i] as Judgement));
    return { judged, sync };
  }
}

function describeHeld(held: LookupResult | undefined): Record<string, unknown> {
  if (!held?.exists) {
    return { exists: false };
  }
  return {
    exists: true,
    deleted: held.deleted ?? false,
    sourceModifiedAt: asIso(held.sourceModifiedAt ?? null),
  };
}

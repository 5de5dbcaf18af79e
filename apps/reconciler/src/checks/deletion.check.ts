import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LookupNotSupportedError } from '@raise-sync/destinations';
import { eventIdFor } from '@raise-sync/shared/events';
import { PinoLogger } from 'nestjs-pino';
import { isRaiseResource, type RaiseResource } from '@raise-sync/sources';
import { CustomerRepository, customerScope, type CustomerScope } from '@raise-sync/shared/state';
import { ReconcileTargets, type ReconcileTarget } from '../core/reconcile-targets';
import { DiscrepancyRepository, type Discrepancy } from '../runs/discrepancy.repository';
import type { ReconciliationCheck, RunContext, RunOutcome } from '../runs/run-types';
import { assertAscending, diffSortedIds } from './id-merge';
import { Republisher } from './republisher';
import { Counter, mapLimit, planResources, throwIfAborted } from './run-support';
import { SourceReader } from './source-reader';
import { SyncStateRepository, type InventoryRow } from './sync-state.repository';
import type { ReconcilerConfig } from '../reconciler.config';

interface Scope {
  ctx: RunContext;
  customer: CustomerScope;
  resource: RaiseResource;
  targets: Map<string, ReconcileTarget>;
  counter: Counter;
  noLookup: Set<string>;
}

/** A record some destination still holds although the source no longer has it. */
interface Doomed {
  recordId: string;
  deletedAt: Date;
  at: Array<{ target: ReconcileTarget; had: Record<string, unknown> }>;
}

const MS = 1;

/**
 * Deletion detection (kind 'deletion', daily by default): the source's full ID inventory,
 * streamed in ascending ID order, merge-joined against the destination inventory of the same ID
 * range. The destination inventory is the sync state (sync_records rows of enabled destinations
 * whose version is older than the window end, so records created or changed after it are left
 * for the next run), read per source page as a numeric ID range that the sync_records index
 * serves. The sync state does not record deletes (a delete event leaves a confirmed row like an
 * upsert), so each candidate is confirmed with the destination's own state: the warehouse's
 * soft-delete column (one query per page), HTTP destinations' lookups; destinations that cannot
 * be asked are trusted unless a delete from an earlier run is already their last event.
 * Records still held somewhere get ONE delete event (origin 'reconcile', no record, like a Raise
 * "deleted" webhook) timed after every version the destinations hold, and a 'deleted_in_source'
 * discrepancy per destination. Memory: one source page and its ID range.
 */
@Injectable()
export class DeletionCheck implements ReconciliationCheck {
  readonly kind = 'deletion' as const;
  private readonly pageSize: number;
  private readonly lookupConcurrency: number;

  constructor(
    private readonly customers: CustomerRepository,
    private readonly syncState: SyncStateRepository,
    config: ConfigService<ReconcilerConfig, true>,
    private readonly directory: ReconcileTargets,
    private readonly reader: SourceReader,
    private readonly republisher: Republisher,
    private readonly recorder: DiscrepancyRepository,
    private readonly log: PinoLogger,
  ) {
    const reconciler = config.get('reconciler', { infer: true });
    this.pageSize = reconciler.pageSize;
    this.lookupConcurrency = reconciler.lookupConcurrency;
    this.log.setContext('deletion-check');
  }

  async run(ctx: RunContext): Promise<RunOutcome> {
    const customer = customerScope(ctx.customerId);
    const plan = planResources(await this.customers.credentials(customer), ctx.resources);
    const raise = plan.filter((p) => p.source === 'raise' && isRaiseResource(p.resource));
    const notes: string[] = [];
    if (raise.length < plan.length) {
      notes.push('VOMO users are not covered: VOMO has no ID-ordered listing');
    }
    if (raise.length === 0) {
      return { status: 'skipped', counts: {}, note: notes.join('; ') || 'no Raise token' };
    }
    const targets = await this.directory.enabled(customer);
    if (targets.length === 0) {
      return { status: 'skipped', counts: {}, note: 'the customer has no enabled destination' };
    }
    const counter = new Counter();
    counter.ensure(
      'source_total',
      'destination_total',
      'missing_in_source',
      'republished',
      'actionable',
    );
    const byId = new Map(targets.map((t) => [t.ctx.destinationId, t]));
    const noLookup = new Set<string>();
    for (const { resource, token } of raise) {
      const scope: Scope = {
        ctx,
        customer,
        resource: resource as RaiseResource,
        targets: byId,
        counter,
        noLookup,
      };
      const refused = await this.resource(scope, token);
      if (refused) {
        notes.push(refused);
      }
    }
    return { status: 'done', counts: counter.counts, note: notes.join('; ') || undefined };
  }

  /** One resource; returns a note when it refused to act. */
  private async resource(scope: Scope, token: string): Promise<string | null> {
    const { ctx, resource, counter } = scope;
    let previous: string | null = null;
    let sourceIds = 0;
    const pages = this.reader.ids(ctx.customerId, token, resource, this.pageSize, ctx.signal);
    for await (const page of pages) {
      throwIfAborted(ctx.signal);
      assertAscending(page.ids, `${resource} IDs from the source`);
      sourceIds += page.ids.length;
      counter.add('source_total', page.ids.length);
      for await (const rows of this.inventory(scope, previous, page.lastId)) {
        const diff = diffSortedIds(
          page.ids,
          rows.map((r) => r.source_id),
        );
        const gone = new Set(diff.onlyInDestination);
        await this.handle(
          scope,
          rows.filter((r) => gone.has(r.source_id)),
        );
      }
      previous = page.lastId;
    }
    // Past the last source ID: everything left in the inventory is gone from the source, unless
    // the source listed nothing at all (a wrong filter or an API problem looks the same as a
    // mass deletion; that is never acted on without a human).
    for await (const rows of this.inventory(scope, previous, null)) {
      if (sourceIds === 0) {
        const held = await this.count(scope);
        counter.add(`refused_empty_source:${resource}`, held);
        counter.add('actionable', held);
        this.log.error(
          { customerId: ctx.customerId, runId: ctx.runId, resource, held },
          'the source listed no records of this resource while destinations hold some; no deletes published',
        );
        return `refused: the source listed no ${resource} records while destinations hold ${held}`;
      }
      await this.handle(scope, rows);
    }
    return null;
  }

  /** Destination inventory rows with IDs in (lo, hi], in ID order, a bounded page at a time. */
  private async *inventory(
    scope: Scope,
    lo: string | null,
    hi: string | null,
  ): AsyncGenerator<InventoryRow[]> {
    const limit = this.pageSize * 2;
    let after = lo;
    for (;;) {
      const rows = await this.syncState.inventoryPage(
        scope.customer,
        scope.resource,
        [...scope.targets.keys()],
        scope.ctx.windowEnd,
        limit,
        after,
        hi,
      );
      for (const row of rows) {
        scope.counter.add('destination_total', row.destinations.length);
      }
      if (rows.length > 0) {
        yield rows;
      }
      const last = rows[rows.length - 1];
      if (rows.length < limit || !last) {
        return;
      }
      after = last.source_id;
    }
  }

  private async count(scope: Scope): Promise<number> {
    return this.syncState.countHeld(
      scope.customer,
      scope.resource,
      [...scope.targets.keys()],
      scope.ctx.windowEnd,
    );
  }

  /** Confirms candidates at each destination, publishes their deletes, records discrepancies. */
  private async handle(scope: Scope, candidates: InventoryRow[]): Promise<void> {
    if (candidates.length === 0) {
      return;
    }
    const { ctx, resource, counter } = scope;
    const windowEnd = ctx.windowEnd.getTime();
    const doomed = new Map<string, Doomed>();
    const mark = (
      row: InventoryRow,
      target: ReconcileTarget,
      had: Record<string, unknown>,
      heldAt?: Date | null,
    ) => {
      const known = Math.max(new Date(row.modified).getTime(), heldAt ? heldAt.getTime() : 0);
      const entry = doomed.get(row.source_id) ?? {
        recordId: row.source_id,
        deletedAt: new Date(windowEnd),
        at: [],
      };
      if (known + MS > entry.deletedAt.getTime()) {
        entry.deletedAt = new Date(known + MS);
      }
      entry.at.push({ target, had });
      doomed.set(row.source_id, entry);
    };

    const alreadyDeleted = await this.previousDeletes(scope, candidates);
    for (const target of scope.targets.values()) {
      const id = target.ctx.destinationId;
      const rows = candidates.filter((r) => r.destinations.includes(id));
      if (rows.length === 0) {
        continue;
      }
      if (target.ctx.kind === 'warehouse') {
        const held = await this.directory.warehouse().lookupMany(
          target.ctx,
          resource,
          rows.map((r) => r.source_id),
        );
        for (const row of rows) {
          const state = held.get(row.source_id);
          if (state?.exists && !state.deleted) {
            mark(
              row,
              target,
              { exists: true, sourceModifiedAt: state.sourceModifiedAt?.toISOString() ?? null },
              state.sourceModifiedAt,
            );
          }
        }
        continue;
      }
      await mapLimit(rows, this.lookupConcurrency, async (row) => {
        const lastEvent = row.event_ids[row.destinations.indexOf(id)] ?? null;
        if (!scope.noLookup.has(id)) {
          try {
            const held = await target.adapter.lookup(target.ctx, resource, row.source_id);
            if (held.exists && !held.deleted) {
              mark(row, target, { exists: true }, held.sourceModifiedAt);
            }
            return;
          } catch (error) {
            if (error instanceof LookupNotSupportedError) {
              scope.noLookup.add(id);
            } else {
              counter.add(`lookup_failed:${target.ctx.name}`);
              this.log.warn(
                {
                  customerId: ctx.customerId,
                  runId: ctx.runId,
                  destination: target.ctx.name,
                  recordId: row.source_id,
                  err: error instanceof Error ? error.message : String(error),
                },
                'destination lookup failed; judging the record by the sync state',
              );
            }
          }
        }
        if (lastEvent === null || !alreadyDeleted.has(lastEvent)) {
          mark(row, target, { source: 'sync_state', lastEventId: lastEvent });
        }
      });
    }
    if (doomed.size === 0) {
      return;
    }
    const list = [...doomed.values()];
    await this.republisher.deletes('deletion', ctx.customerId, 'raise', resource, list, ctx.signal);
    counter.add('missing_in_source', list.length);
    counter.add('actionable', list.length);
    counter.add('republished', list.length);
    const found: Discrepancy[] = [];
    for (const entry of list) {
      const eventId = eventIdFor('raise', resource, entry.recordId, entry.deletedAt);
      for (const { target, had } of entry.at) {
        counter.add(`missing_in_source:${target.ctx.name}`);
        found.push({
          resource,
          sourceId: entry.recordId,
          destinationId: target.ctx.destinationId,
          state: 'deleted_in_source',
          actionable: true,
          republished: true,
          details: {
            destination: target.ctx.name,
            deletedAt: entry.deletedAt.toISOString(),
            eventId,
            had,
          },
        });
      }
    }
    await this.recorder.record(scope.customer, ctx.runId, found);
  }

  /**
   * Event IDs of deletes earlier runs published for these records: a destination that cannot be
   * asked and whose last event is one of them already has the delete.
   */
  private async previousDeletes(scope: Scope, candidates: InventoryRow[]): Promise<Set<string>> {
    const eventIds = candidates.flatMap((r) => r.event_ids.filter((e): e is string => e !== null));
    if (eventIds.length === 0) {
      return new Set();
    }
    return this.recorder.publishedDeletes(
      scope.customer,
      scope.resource,
      candidates.map((r) => r.source_id),
      eventIds,
    );
  }
}

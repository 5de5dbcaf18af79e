import { Injectable } from '@nestjs/common';
import {
  newestPerRecord,
  recordKeyOf,
  type DestinationAdapter,
  type DestinationContext,
} from '@raise-sync/destinations';
import { customerScope } from '@raise-sync/shared/state';
import { DeliveryRepository, type PreviousStates } from './delivery.repository';
import type { WorkItem } from './outcome';
import { decideAgainstSyncState, targetedElsewhere, type Decision } from './sync-state-decision';

/** What decide() found: one Decision per item, and the state it read (read once per batch). */
export interface Decided {
  decisions: Decision[];
  previous: PreviousStates;
}

/**
 * Decides, before anything is written, which items of a batch one destination gets: an echo of
 * our own write is skipped, so is a replay aimed at another destination (not_targeted), a
 * resource the destination does not take (not_applicable), an older event of a record whose
 * newer one is in the same batch (stale), and whatever the sync state says the destination has
 * already (stale, duplicate: sync-state-decision.ts).
 */
@Injectable()
export class DeliveryDecider {
  constructor(private readonly repository: DeliveryRepository) {}

  /** One Decision per item, in the order of `items`, and the sync state it was decided on. */
  async decide(
    ctx: DestinationContext,
    adapter: DestinationAdapter,
    items: WorkItem[],
  ): Promise<Decided> {
    const rows = await this.repository.syncStates(
      customerScope(ctx.customerId),
      ctx.destinationId,
      items.map((i) => i.event.resource),
      items.map((i) => i.event.recordId),
    );
    const known = new Map(rows.map((r) => [`${r.resource}\u0000${r.source_id}`, r]));
    const newestIndex = newestPerRecord(items.map((i) => i.event));
    const decisions = items.map((item, i): Decision => {
      const { event } = item;
      if (item.echo) {
        return { kind: 'skip', reason: 'echo' };
      }
      if (item.erased) {
        return { kind: 'skip', reason: 'erased' };
      }
      const candidate = {
        origin: event.origin,
        sourceModifiedAt: event.sourceModifiedAt,
        fromRetry: item.fromRetry,
        targetDestinationId: item.targetDestinationId,
      };
      if (targetedElsewhere(candidate, ctx.destinationId)) {
        return { kind: 'skip', reason: 'not_targeted' };
      }
      if (!adapter.accepts(event.resource, ctx)) {
        return { kind: 'skip', reason: 'not_applicable' };
      }
      if (newestIndex.get(recordKeyOf(event)) !== i) {
        return { kind: 'skip', reason: 'stale' };
      }
      const row = known.get(recordKeyOf(event));
      return decideAgainstSyncState(
        candidate,
        row && { status: row.status, sourceModifiedAt: new Date(row.source_modified_at) },
      );
    });
    const previous = new Map<string, string>();
    for (const [key, row] of known) {
      previous.set(key, row.status);
    }
    return { decisions, previous };
  }
}

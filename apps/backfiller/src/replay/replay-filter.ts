import type { SourceEvent } from '@raise-sync/shared/events';
import { customerIdFromKey } from '@raise-sync/shared/kafka';
import { REPLAY_DESTINATION_HEADER } from '@raise-sync/shared/state';

/** What a replay keeps: one customer's events, of one resource when given. */
export interface ReplayScope {
  customerId: string;
  resource: string | null;
}

/**
 * Cheap first filter on the message key (`<customerId>:<resource>:<id>`), before any decoding:
 * other customers' messages on the shared partitions are only counted as scanned.
 */
export function keyBelongsTo(key: Buffer | string | null | undefined, scope: ReplayScope): boolean {
  return customerIdFromKey(key) === scope.customerId;
}

/** The decoded event is the customer's (and of the resource, when the replay names one). */
export function eventMatches(event: SourceEvent, scope: ReplayScope): boolean {
  return (
    event.customerId === scope.customerId &&
    (scope.resource === null || event.resource === scope.resource)
  );
}

/**
 * The copy a replay publishes: the same change (same event ID, record, modified and captured
 * times), marked origin `replay`. Its delivery is idempotent: destinations upsert by source ID.
 */
export function replayCopy<E extends SourceEvent>(event: E): E {
  return { ...event, origin: 'replay' };
}

/** The extra header of a replay aimed at one destination (none for every destination). */
export function replayHeaders(destinationId: string | null): Record<string, string> {
  return destinationId ? { [REPLAY_DESTINATION_HEADER]: destinationId } : {};
}

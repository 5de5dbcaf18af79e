/** What the delivery engine does with one event at one destination. */
export type Decision = { kind: 'deliver' } | { kind: 'skip'; reason: string };

/** The sync state of one record at one destination, as the engine reads it. */
export interface KnownVersion {
  status: string;
  sourceModifiedAt: Date;
}

/** The facts about an event that the checks below look at. */
export interface CandidateEvent {
  origin: string;
  sourceModifiedAt: Date;
  fromRetry: boolean;
  /** Set on a replay aimed at one destination (the replay-destination header). */
  targetDestinationId?: string;
}

/**
 * A replay aimed at one destination (restored from a backup, mapping fixed) is for that
 * destination only; every other destination of the customer skips it as `not_targeted`.
 */
export function targetedElsewhere(event: CandidateEvent, destinationId: string): boolean {
  return event.targetDestinationId !== undefined && event.targetDestinationId !== destinationId;
}

/**
 * Compares an event with what the destination last confirmed for the record:
 * - no sync state yet: deliver;
 * - an older version than the sync state: stale (the newer one was delivered already, or comes
 *   later in the same replay range), whatever the origin;
 * - the same version: a duplicate when the destination confirmed it. A version that FAILED there
 *   is delivered again by any copy (its retry, a poll or backfill copy, a reconcile): a failed
 *   state never makes a later copy a duplicate, because the later copy may carry what the failed
 *   one lacked (a webhook gift without its donor, then the poll copy with the donor embedded).
 *   A replay delivers even a confirmed version again: the operator replays because the
 *   destination lost what the sync state says it has (restored from an older backup, rows wiped,
 *   a mapping fixed since);
 * - a newer version: deliver.
 */
export function decideAgainstSyncState(
  event: CandidateEvent,
  known: KnownVersion | undefined,
): Decision {
  if (!known) {
    return { kind: 'deliver' };
  }
  const have = known.sourceModifiedAt.getTime();
  const mine = event.sourceModifiedAt.getTime();
  if (have > mine) {
    return { kind: 'skip', reason: 'stale' };
  }
  if (have < mine) {
    return { kind: 'deliver' };
  }
  if (event.origin === 'replay') {
    return { kind: 'deliver' };
  }
  return known.status === 'confirmed' ? { kind: 'skip', reason: 'duplicate' } : { kind: 'deliver' };
}

/**
 * Whether a destination holds a source record at the source's version: pure rules, shared by the
 * window check and its tests. "Version" is the record's source-modified time.
 */

/** What sync_records says about one record at one destination. */
export interface SyncState {
  status: 'pending' | 'submitted' | 'confirmed' | 'failed';
  sourceModifiedAt: Date;
}

/** What the destination itself says (warehouse row, or an HTTP adapter's lookup). */
export interface HeldState {
  exists: boolean;
  deleted?: boolean;
  /** The version the destination stores, when it stores one. */
  sourceModifiedAt?: Date | null;
}

export type Verdict =
  | { gap: false }
  | { gap: true; state: 'missing_in_destination' | 'stale_in_destination'; reason: string };

const IN_SYNC: Verdict = { gap: false };

/** The sync state shows this version (or a newer one) confirmed at the destination. */
export function syncShowsDelivered(sync: SyncState | undefined, modified: Date): boolean {
  return (
    sync !== undefined &&
    sync.status === 'confirmed' &&
    sync.sourceModifiedAt.getTime() >= modified.getTime()
  );
}

/** From the destination's own state: absent or soft-deleted = missing, older version = stale. */
export function classifyHeld(modified: Date, held: HeldState): Verdict {
  if (!held.exists) {
    return { gap: true, state: 'missing_in_destination', reason: 'not at the destination' };
  }
  if (held.deleted) {
    return {
      gap: true,
      state: 'missing_in_destination',
      reason: 'deleted at the destination but live in the source',
    };
  }
  const version = held.sourceModifiedAt;
  if (version === undefined || version === null) {
    // The destination holds the record but cannot say which version: it is only in line when the
    // sync state shows this version delivered, which the caller checked before asking.
    return {
      gap: true,
      state: 'stale_in_destination',
      reason: 'held, version unknown, not shown as delivered',
    };
  }
  return version.getTime() >= modified.getTime()
    ? IN_SYNC
    : { gap: true, state: 'stale_in_destination', reason: 'older version at the destination' };
}

/** From the sync state alone (destinations that cannot be asked). */
export function classifyBySync(modified: Date, sync: SyncState | undefined): Verdict {
  if (syncShowsDelivered(sync, modified)) {
    return IN_SYNC;
  }
  if (sync && sync.status === 'confirmed') {
    return {
      gap: true,
      state: 'stale_in_destination',
      reason: 'sync state shows an older version delivered',
    };
  }
  return {
    gap: true,
    state: 'missing_in_destination',
    reason: sync ? `sync state ${sync.status}` : 'no sync state',
  };
}

/**
 * The submitter skips an event whose version is older than the sync state's (stale) or equal to
 * it (duplicate). A gap with such a sync row would never be re-delivered, so that row has to be
 * invalidated before the record is republished.
 */
export function blocksRepublish(sync: SyncState | undefined, modified: Date): boolean {
  return sync !== undefined && sync.sourceModifiedAt.getTime() >= modified.getTime();
}

/** Whether a verdict means the destination holds some version of the record. */
export function destinationHolds(verdict: Verdict): boolean {
  return !verdict.gap || verdict.state === 'stale_in_destination';
}

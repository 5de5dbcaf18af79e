import { decideAgainstSyncState, targetedElsewhere } from './sync-state-decision';

const at = (iso: string): Date => new Date(iso);
const V1 = at('2026-03-01T10:00:00.000Z');
const V2 = at('2026-03-01T11:00:00.000Z');

const event = (
  origin: string,
  sourceModifiedAt: Date,
  extra: { fromRetry?: boolean; targetDestinationId?: string } = {},
) => ({ origin, sourceModifiedAt, fromRetry: extra.fromRetry ?? false, ...extra });

describe('delivery decision against the sync state', () => {
  it('delivers a record the destination has no sync state for, whatever the origin', () => {
    for (const origin of ['webhook', 'poll', 'backfill', 'reconcile', 'replay']) {
      expect(decideAgainstSyncState(event(origin, V1), undefined)).toEqual({ kind: 'deliver' });
    }
  });

  it('skips the same confirmed version as a duplicate for live, backfill and reconcile events', () => {
    for (const origin of ['webhook', 'poll', 'backfill', 'reconcile']) {
      expect(
        decideAgainstSyncState(event(origin, V1), { status: 'confirmed', sourceModifiedAt: V1 }),
      ).toEqual({ kind: 'skip', reason: 'duplicate' });
    }
  });

  it('re-delivers the same confirmed version when it comes from a replay', () => {
    expect(
      decideAgainstSyncState(event('replay', V1), { status: 'confirmed', sourceModifiedAt: V1 }),
    ).toEqual({ kind: 'deliver' });
    expect(
      decideAgainstSyncState(event('replay', V1), { status: 'failed', sourceModifiedAt: V1 }),
    ).toEqual({ kind: 'deliver' });
  });

  it('still skips an older version than the sync state as stale, replays included', () => {
    for (const origin of ['webhook', 'replay']) {
      expect(
        decideAgainstSyncState(event(origin, V1), { status: 'confirmed', sourceModifiedAt: V2 }),
      ).toEqual({ kind: 'skip', reason: 'stale' });
    }
  });

  it('delivers a newer version, and a failed version from any later copy', () => {
    expect(
      decideAgainstSyncState(event('webhook', V2), { status: 'confirmed', sourceModifiedAt: V1 }),
    ).toEqual({ kind: 'deliver' });
    expect(
      decideAgainstSyncState(event('webhook', V1, { fromRetry: true }), {
        status: 'failed',
        sourceModifiedAt: V1,
      }),
    ).toEqual({ kind: 'deliver' });
    // The poll or backfill copy of a version that failed (say, a webhook copy without its donor)
    // is delivered: it may carry what the failed copy lacked.
    for (const origin of ['webhook', 'poll', 'backfill', 'reconcile']) {
      expect(
        decideAgainstSyncState(event(origin, V1), { status: 'failed', sourceModifiedAt: V1 }),
      ).toEqual({ kind: 'deliver' });
    }
  });

  it('a targeted replay is for the named destination only', () => {
    const targeted = event('replay', V1, { targetDestinationId: 'dest-a' });
    expect(targetedElsewhere(targeted, 'dest-a')).toBe(false);
    expect(targetedElsewhere(targeted, 'dest-b')).toBe(true);
    expect(targetedElsewhere(event('replay', V1), 'dest-b')).toBe(false);
    expect(targetedElsewhere(event('webhook', V1), 'dest-b')).toBe(false);
  });
});

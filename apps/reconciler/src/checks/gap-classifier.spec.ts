import {
  blocksRepublish,
  classifyBySync,
  classifyHeld,
  destinationHolds,
  syncShowsDelivered,
  type SyncState,
} from './gap-classifier';

const t = (ms: number): Date => new Date(Date.UTC(2026, 5, 10) + ms);
const confirmed = (ms: number): SyncState => ({ status: 'confirmed', sourceModifiedAt: t(ms) });

describe('gap classification', () => {
  it('the destination state decides: absent, deleted, older, same, newer', () => {
    expect(classifyHeld(t(10), { exists: false })).toMatchObject({
      gap: true,
      state: 'missing_in_destination',
    });
    expect(
      classifyHeld(t(10), { exists: true, deleted: true, sourceModifiedAt: t(20) }),
    ).toMatchObject({
      gap: true,
      state: 'missing_in_destination',
    });
    expect(classifyHeld(t(10), { exists: true, sourceModifiedAt: t(9) })).toMatchObject({
      gap: true,
      state: 'stale_in_destination',
    });
    expect(classifyHeld(t(10), { exists: true, sourceModifiedAt: t(10) })).toEqual({ gap: false });
    expect(classifyHeld(t(10), { exists: true, sourceModifiedAt: t(11) })).toEqual({ gap: false });
  });

  it('a destination holding a record of unknown version counts as stale (it was not shown delivered)', () => {
    expect(classifyHeld(t(10), { exists: true, sourceModifiedAt: null })).toMatchObject({
      gap: true,
      state: 'stale_in_destination',
    });
  });

  it('by sync state alone: confirmed at or after the version is in sync, older confirmed is stale', () => {
    expect(classifyBySync(t(10), confirmed(10))).toEqual({ gap: false });
    expect(classifyBySync(t(10), confirmed(12))).toEqual({ gap: false });
    expect(classifyBySync(t(10), confirmed(5))).toMatchObject({ state: 'stale_in_destination' });
    expect(classifyBySync(t(10), undefined)).toMatchObject({ state: 'missing_in_destination' });
    expect(classifyBySync(t(10), { status: 'failed', sourceModifiedAt: t(10) })).toMatchObject({
      state: 'missing_in_destination',
      reason: 'sync state failed',
    });
  });

  it('only a confirmed row at or after the version shows delivery', () => {
    expect(syncShowsDelivered(confirmed(10), t(10))).toBe(true);
    expect(syncShowsDelivered(confirmed(9), t(10))).toBe(false);
    expect(syncShowsDelivered({ status: 'pending', sourceModifiedAt: t(10) }, t(10))).toBe(false);
    expect(syncShowsDelivered(undefined, t(10))).toBe(false);
  });

  it('a sync row at the same or a newer version would make the submitter skip the republish', () => {
    expect(blocksRepublish(confirmed(10), t(10))).toBe(true);
    expect(blocksRepublish(confirmed(11), t(10))).toBe(true);
    expect(blocksRepublish({ status: 'failed', sourceModifiedAt: t(10) }, t(10))).toBe(true);
    expect(blocksRepublish(confirmed(9), t(10))).toBe(false);
    expect(blocksRepublish(undefined, t(10))).toBe(false);
  });

  it('stale records are still held by the destination, missing ones are not', () => {
    expect(destinationHolds({ gap: false })).toBe(true);
    expect(destinationHolds(classifyHeld(t(10), { exists: true, sourceModifiedAt: t(1) }))).toBe(
      true,
    );
    expect(destinationHolds(classifyHeld(t(10), { exists: false }))).toBe(false);
  });
});

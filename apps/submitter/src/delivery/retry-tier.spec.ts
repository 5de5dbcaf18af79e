import { retryTierFor } from './retry-tier';

describe(retryTierFor.name, () => {
  const tiers = [30_000, 300_000, 3_600_000];

  it('picks the shortest tier whose delay covers the wait', () => {
    expect(retryTierFor(0, tiers)).toBe(0);
    expect(retryTierFor(30_000, tiers)).toBe(0);
    expect(retryTierFor(30_001, tiers)).toBe(1);
    expect(retryTierFor(300_000, tiers)).toBe(1);
    // A Retry-After of an hour never lands in the 30-second tier.
    expect(retryTierFor(3_600_000, tiers)).toBe(2);
  });

  it('puts anything longer than the longest tier in the longest (it moves on from there)', () => {
    expect(retryTierFor(26 * 3_600_000, tiers)).toBe(2);
  });
});

import { LiveShare } from './live-share';

describe('LiveShare', () => {
  it("gives each customer its burst, then its rate, and never takes from another's", () => {
    const share = new LiveShare(10, 5);
    const t0 = 1_000_000;
    const taken = Array.from({ length: 8 }, () => share.take('a', t0)).filter(Boolean).length;
    expect(taken).toBe(5);
    // Another customer still has its whole burst.
    expect(Array.from({ length: 5 }, () => share.take('b', t0)).every(Boolean)).toBe(true);
    // 10 per second: after 300 ms, three more for a.
    const later = Array.from({ length: 5 }, () => share.take('a', t0 + 300)).filter(Boolean);
    expect(later).toHaveLength(3);
  });
});

import { FaultRegistry, TokenBucket, validateFaults } from './faults';
import { hash32, Prng } from './prng';

describe('TokenBucket', () => {
  it('allows a burst, then refills at the configured rate', () => {
    let now = 0;
    const bucket = new TokenBucket({ requestsPerSecond: 2, burst: 3 }, () => now);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([true, true, true]);
    expect(bucket.tryTake()).toBe(false);
    now += 499;
    expect(bucket.tryTake()).toBe(false);
    now += 1;
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
    now += 10_000; // never more than the burst
    expect(bucket.remaining()).toBe(3);
  });

  it('reports Retry-After as whole seconds until the next token, at least 1', () => {
    let now = 0;
    const slow = new TokenBucket({ requestsPerSecond: 0.25, burst: 1 }, () => now);
    expect(slow.tryTake()).toBe(true);
    expect(slow.retryAfterSeconds()).toBe(4);
    now += 2500;
    expect(slow.retryAfterSeconds()).toBe(2);
    const fast = new TokenBucket({ requestsPerSecond: 100, burst: 1 }, () => now);
    fast.tryTake();
    expect(fast.retryAfterSeconds()).toBe(1);
  });
});

describe('FaultRegistry', () => {
  it('layers an org config over the global one', () => {
    const registry = new FaultRegistry();
    registry.set('*', { latencyMs: 50, errorRate: 0.1 });
    registry.set('acme', { errorRate: 0 });
    expect(registry.forOrg('acme')).toEqual({ latencyMs: 50, errorRate: 0 });
    expect(registry.forOrg('other')).toEqual({ latencyMs: 50, errorRate: 0.1 });
  });

  it('keeps one bucket per org and API', () => {
    const registry = new FaultRegistry();
    registry.set('*', { rateLimit: { requestsPerSecond: 1, burst: 1 } });
    expect(registry.bucket('a', 'raise')!.tryTake()).toBe(true);
    expect(registry.bucket('a', 'raise')!.tryTake()).toBe(false);
    expect(registry.bucket('a', 'vomo')!.tryTake()).toBe(true);
    expect(registry.bucket('b', 'raise')!.tryTake()).toBe(true);
    registry.reset();
    expect(registry.bucket('a', 'raise')).toBeUndefined();
  });

  it('validates configs and names the bad field', () => {
    expect(validateFaults({ errorRate: 0.5, outOfOrderWebhooks: true })).toEqual({
      errorRate: 0.5,
      outOfOrderWebhooks: true,
    });
    expect(() => validateFaults({ errorRate: 2 })).toThrow('errorRate');
    expect(() => validateFaults({ colour: 'red' })).toThrow('colour');
    expect(() => validateFaults({ rateLimit: { requestsPerSecond: 0, burst: 1 } })).toThrow(
      'rateLimit',
    );
  });
});

describe('Prng', () => {
  it('is deterministic per seed and spreads values over [0, 1)', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const values = Array.from({ length: 10_000 }, () => a.next());
    expect(values.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b.next()));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(new Prng(43).next()).not.toBe(new Prng(42).next());
    expect(hash32(1, 2)).not.toBe(hash32(2, 1));
  });
});

import { RateBudgets } from './rate-budget';

/** A clock that only moves when someone sleeps on it (or the test advances it). */
function fakeClock(startMs = 1_000_000) {
  let nowMs = startMs;
  const sleeps: number[] = [];
  return {
    now: () => nowMs,
    sleep: (ms: number): Promise<void> => {
      sleeps.push(ms);
      nowMs += ms;
      return Promise.resolve();
    },
    advance: (ms: number) => {
      nowMs += ms;
    },
    sleeps,
    /** Milliseconds slept since the last call. */
    takeSlept(): number {
      const total = sleeps.reduce((sum, ms) => sum + ms, 0);
      sleeps.length = 0;
      return total;
    },
  };
}

describe(RateBudgets.name, () => {
  it('lets a customer burst, then paces it at the API rate (Raise 1/s, burst 5)', async () => {
    const clock = fakeClock();
    const budgets = new RateBudgets({ now: clock.now, sleep: clock.sleep });

    for (let i = 0; i < 5; i += 1) {
      await budgets.acquire('a', 'raise');
    }
    expect(clock.takeSlept()).toBe(0);

    await budgets.acquire('a', 'raise');
    expect(clock.takeSlept()).toBe(1000);
    await budgets.acquire('a', 'raise');
    expect(clock.takeSlept()).toBe(1000);
  });

  it('uses VOMO defaults of 2/s with burst 4', async () => {
    const clock = fakeClock();
    const budgets = new RateBudgets({ now: clock.now, sleep: clock.sleep });
    for (let i = 0; i < 4; i += 1) {
      await budgets.acquire('a', 'vomo');
    }
    expect(clock.takeSlept()).toBe(0);
    await budgets.acquire('a', 'vomo');
    expect(clock.takeSlept()).toBe(500);
  });

  it('keeps a budget per customer and API: one customer using its burst does not slow another', async () => {
    const clock = fakeClock();
    const budgets = new RateBudgets({ now: clock.now, sleep: clock.sleep });
    for (let i = 0; i < 5; i += 1) {
      await budgets.acquire('a', 'raise');
    }

    await budgets.acquire('b', 'raise');
    await budgets.acquire('a', 'vomo');
    expect(clock.takeSlept()).toBe(0);
    expect(budgets.size).toBe(3);
  });

  it("pauses only the rate-limited customer's API until the Retry-After time", async () => {
    const clock = fakeClock();
    const budgets = new RateBudgets({ now: clock.now, sleep: clock.sleep });
    budgets.pauseUntil('a', 'raise', clock.now() + 5000);

    await budgets.acquire('b', 'raise');
    await budgets.acquire('a', 'vomo');
    expect(clock.takeSlept()).toBe(0);
    expect(budgets.pausedUntil('a', 'raise')).toBe(clock.now() + 5000);
    expect(budgets.pausedUntil('b', 'raise')).toBeNull();

    await budgets.acquire('a', 'raise');
    expect(clock.takeSlept()).toBe(5000);
    expect(budgets.pausedUntil('a', 'raise')).toBeNull();
    // After the pause: one request went, the next follows at the sustained rate, no burst.
    await budgets.acquire('a', 'raise');
    expect(clock.takeSlept()).toBe(1000);
  });

  it('keeps the later of two pauses', async () => {
    const clock = fakeClock();
    const budgets = new RateBudgets({ now: clock.now, sleep: clock.sleep });
    const start = clock.now();
    budgets.pauseUntil('a', 'raise', start + 3000);
    budgets.pauseUntil('a', 'raise', start + 1000);
    expect(budgets.pausedUntil('a', 'raise')).toBe(start + 3000);
    await budgets.acquire('a', 'raise');
    expect(clock.now()).toBe(start + 3000);
  });

  it('applies a per-customer rate override and can clear it', async () => {
    const clock = fakeClock();
    const budgets = new RateBudgets({ now: clock.now, sleep: clock.sleep });
    budgets.setRate('big', 'raise', { requestsPerSecond: 10, burst: 1 });

    await budgets.acquire('big', 'raise');
    await budgets.acquire('big', 'raise');
    expect(clock.takeSlept()).toBe(100);
    expect(budgets.rateFor('small', 'raise')).toEqual({ requestsPerSecond: 1, burst: 5 });

    budgets.clearRate('big', 'raise');
    expect(budgets.rateFor('big', 'raise')).toEqual({ requestsPerSecond: 1, burst: 5 });
    expect(() => budgets.setRate('x', 'raise', { requestsPerSecond: 0, burst: 1 })).toThrow(
      RangeError,
    );
  });

  it('reports waits, waited time and pauses per key and in cumulative totals', async () => {
    const clock = fakeClock();
    const waits: number[] = [];
    const budgets = new RateBudgets({
      now: clock.now,
      sleep: clock.sleep,
      rates: { raise: { requestsPerSecond: 1, burst: 1 } },
      onWait: ({ waitedMs }) => waits.push(waitedMs),
    });
    await budgets.acquire('a', 'raise');
    await budgets.acquire('a', 'raise');
    budgets.pauseUntil('b', 'raise', clock.now() + 2000);

    const snapshot = budgets.snapshot();
    expect(snapshot.keys).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ customerId: 'a', api: 'raise', waits: 1, waitedMs: 1000 }),
        expect.objectContaining({
          customerId: 'b',
          api: 'raise',
          waits: 0,
          pausedUntilMs: clock.now() + 2000,
        }),
      ]),
    );
    expect(snapshot.totals.raise).toEqual({ waits: 1, waitedMs: 1000, pauses: 1 });
    expect(waits).toEqual([1000]);
  });

  it('evicts idle buckets, but not paused ones, and recreates them full', async () => {
    const clock = fakeClock();
    const budgets = new RateBudgets({ now: clock.now, sleep: clock.sleep, idleEvictMs: 60_000 });
    for (let c = 0; c < 500; c += 1) {
      await budgets.acquire(`customer-${c}`, 'raise');
    }
    budgets.pauseUntil('customer-0', 'raise', clock.now() + 120_000);
    expect(budgets.size).toBe(500);

    clock.advance(61_000);
    expect(budgets.evictIdle()).toBe(499);
    expect(budgets.size).toBe(1);
    expect(budgets.snapshot().totals.raise.pauses).toBe(1);

    // Eviction also runs on its own as buckets are used.
    clock.advance(120_000);
    await budgets.acquire('newcomer', 'raise');
    expect(budgets.size).toBe(1);
    for (let i = 0; i < 4; i += 1) {
      await budgets.acquire('customer-7', 'raise');
    }
    expect(clock.takeSlept()).toBe(0);
  });

  it('gives a token to concurrent callers of one key first come, first served', async () => {
    const budgets = new RateBudgets({ rates: { raise: { requestsPerSecond: 50, burst: 1 } } });
    const order: number[] = [];
    const started = Date.now();
    await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        await budgets.acquire('a', 'raise');
        order.push(i);
      }),
    );
    expect(order).toEqual([0, 1, 2, 3]);
    // 1 immediate + 3 at 20 ms intervals.
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('stops waiting when the signal aborts, without taking a token', async () => {
    const budgets = new RateBudgets();
    budgets.pauseUntil('a', 'raise', Date.now() + 60_000);
    const controller = new AbortController();
    const waiting = budgets.acquire('a', 'raise', controller.signal);
    controller.abort();
    await expect(waiting).rejects.toThrow(/abort/i);
    expect(budgets.snapshot().keys[0]).toEqual(expect.objectContaining({ waiting: 0 }));
  });
});

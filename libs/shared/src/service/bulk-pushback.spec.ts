import type { ConfigService } from '@nestjs/config';
import type { PinoLogger } from 'nestjs-pino';
import type { SharedConfig } from '../config';
import type { PipelineMetrics } from '../observability';
import type { LaneDepthReader } from '../state/lane-depth';
import { BulkPushback, PUSHBACK_RECHECK_MS, type SlotLender } from './bulk-pushback';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';

/** A push-back over stubbed lanes: `depth[customer]` parked events, changed by the test. */
function setup(limit: number) {
  const depth: Record<string, number> = { [A]: 0, [B]: 0 };
  let failing = false;
  const queries: unknown[][] = [];
  const db: LaneDepthReader = {
    query: <T>(_sql: string, params: unknown[] = []): Promise<T> => {
      queries.push(params);
      if (failing) {
        return Promise.reject(new Error('connection refused'));
      }
      const [customerId, atMost] = params as [string, number];
      return Promise.resolve([{ n: Math.min(depth[customerId] ?? 0, atMost) }] as T);
    },
  };
  const seconds: Record<string, number> = {};
  const metrics = {
    bulkPushbackSeconds: {
      inc: (labels: { customer_id: string; caller: string }, value = 1) => {
        const key = `${labels.customer_id}/${labels.caller}`;
        seconds[key] = (seconds[key] ?? 0) + value;
      },
    },
  } as unknown as Pick<PipelineMetrics, 'bulkPushbackSeconds'>;
  const lines: Array<{ level: string; msg: string; obj: Record<string, unknown> }> = [];
  const log = {
    setContext: () => undefined,
    info: (obj: Record<string, unknown>, msg: string) => lines.push({ level: 'info', msg, obj }),
    warn: (obj: Record<string, unknown>, msg: string) => lines.push({ level: 'warn', msg, obj }),
  } as unknown as PinoLogger;
  const config = {
    get: () => ({ maxWaiting: limit }),
  } as unknown as ConfigService<SharedConfig, true>;
  const pushback = new BulkPushback(config, metrics, db, log);
  return {
    pushback,
    depth,
    queries,
    seconds,
    lines,
    fail: (on: boolean) => {
      failing = on;
    },
  };
}

describe('BulkPushback: per-customer push-back from the destination lanes', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('holds a customer above the limit and no other customer, counting up to limit + 1', async () => {
    const t = setup(100);
    t.depth[A] = 250_000;
    t.depth[B] = 100;
    expect(await t.pushback.state(A)).toEqual({
      customerId: A,
      waiting: 101,
      limit: 100,
      held: true,
    });
    expect(await t.pushback.state(B)).toEqual({
      customerId: B,
      waiting: 100,
      limit: 100,
      held: false,
    });
    // The query always names the customer, and stops counting at limit + 1.
    expect(t.queries).toEqual([
      [A, 101],
      [B, 101],
    ]);
  });

  it('asks the database at most once a second per customer, however many ranges ask', async () => {
    const t = setup(10);
    await Promise.all([t.pushback.state(A), t.pushback.state(A), t.pushback.state(B)]);
    await t.pushback.state(A);
    expect(t.queries).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1000);
    await t.pushback.state(A);
    expect(t.queries).toHaveLength(3);
  });

  it('is off at 0: never held, never asks', async () => {
    const t = setup(0);
    t.depth[A] = 1_000_000;
    expect((await t.pushback.state(A)).held).toBe(false);
    expect(await t.pushback.waitWhileHeld(A, 'reconcile')).toBe(0);
    expect(t.queries).toHaveLength(0);
  });

  it('waits in place while held, lends the slot meanwhile, and goes on once the lane drained', async () => {
    const t = setup(10);
    t.depth[A] = 50;
    const calls: string[] = [];
    const slot: SlotLender = {
      lend: () => calls.push('lend'),
      reclaim: () => {
        calls.push('reclaim');
        return Promise.resolve();
      },
    };
    let resolved = false;
    const waited = t.pushback.waitWhileHeld(A, 'reconcile', undefined, { slot }).then((ms) => {
      resolved = true;
      return ms;
    });
    await jest.advanceTimersByTimeAsync(5000);
    expect(resolved).toBe(false);
    expect(calls).toEqual(['lend']);
    // B is not held by A's lane: its wait returns at once, while A still waits.
    expect(await t.pushback.waitWhileHeld(B, 'reconcile')).toBe(0);
    expect(resolved).toBe(false);

    t.depth[A] = 10; // at the limit: no longer above it
    await jest.advanceTimersByTimeAsync(1000);
    expect(await waited).toBeGreaterThanOrEqual(6000);
    expect(calls).toEqual(['lend', 'reclaim']);
    expect(t.seconds[`${A}/reconcile`]).toBeCloseTo(6, 0);
    expect(t.seconds[`${B}/reconcile`]).toBeUndefined();
    const held = t.lines.filter((l) => l.msg.startsWith('bulk work held'));
    expect(held).toHaveLength(1); // at most one line per customer every 30 s
    expect(held[0]?.obj).toMatchObject({ customerId: A, caller: 'reconcile', limit: 10 });
    expect(
      t.lines.some((l) => l.msg.startsWith('bulk work resumes') && l.obj['customerId'] === A),
    ).toBe(true);
  });

  it('does not lend a slot when the customer is not held', async () => {
    const t = setup(10);
    const slot = { lend: jest.fn(), reclaim: jest.fn(() => Promise.resolve()) };
    expect(await t.pushback.waitWhileHeld(A, 'reconcile', undefined, { slot })).toBe(0);
    expect(slot.lend).not.toHaveBeenCalled();
    expect(slot.reclaim).not.toHaveBeenCalled();
  });

  it('an abort ends the wait (the caller then stops), without an error', async () => {
    const t = setup(10);
    t.depth[A] = 50;
    const abort = new AbortController();
    const waited = t.pushback.waitWhileHeld(A, 'reconcile', abort.signal);
    await jest.advanceTimersByTimeAsync(2500);
    abort.abort(new Error('lease lost'));
    await expect(waited).resolves.toBeGreaterThanOrEqual(2000);
  });

  it('yielding work counts its hand-back time and logs at most every 30 s per customer', async () => {
    const t = setup(10);
    t.depth[A] = 11;
    t.depth[B] = 11;
    for (let i = 0; i < 4; i += 1) {
      t.pushback.noteYield(await t.pushback.state(A), 'backfill', { rangeId: `r${i}` });
      await jest.advanceTimersByTimeAsync(PUSHBACK_RECHECK_MS);
    }
    t.pushback.noteYield(await t.pushback.state(B), 'replay');
    expect(t.seconds[`${A}/backfill`]).toBe((4 * PUSHBACK_RECHECK_MS) / 1000);
    expect(t.seconds[`${B}/replay`]).toBe(PUSHBACK_RECHECK_MS / 1000);
    const held = t.lines.filter((l) => l.msg.startsWith('bulk work held'));
    expect(held.map((l) => l.obj['customerId'])).toEqual([A, B]);
    await jest.advanceTimersByTimeAsync(30_000);
    t.pushback.noteYield(await t.pushback.state(A), 'backfill');
    expect(t.lines.filter((l) => l.msg.startsWith('bulk work held'))).toHaveLength(3);
  });

  it('reports the customers found held lately, and forgets them once they drained', async () => {
    const t = setup(10);
    t.depth[A] = 11;
    await t.pushback.state(A);
    await t.pushback.state(B);
    expect(t.pushback.heldCustomers()).toEqual([A]);
    await jest.advanceTimersByTimeAsync(2 * PUSHBACK_RECHECK_MS);
    expect(t.pushback.heldCustomers()).toEqual([]); // not looked at lately: unknown, not held
    await t.pushback.state(A);
    expect(t.pushback.heldCustomers()).toEqual([A]);
    t.depth[A] = 0;
    await jest.advanceTimersByTimeAsync(1000);
    await t.pushback.state(A);
    expect(t.pushback.heldCustomers()).toEqual([]);
  });

  it('fails open: when the lanes cannot be counted, work goes on (one warning)', async () => {
    const t = setup(10);
    t.depth[A] = 50;
    t.fail(true);
    expect((await t.pushback.state(A)).held).toBe(false);
    await jest.advanceTimersByTimeAsync(1000);
    expect(await t.pushback.waitWhileHeld(A, 'reconcile')).toBe(0);
    expect(t.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
  });
});

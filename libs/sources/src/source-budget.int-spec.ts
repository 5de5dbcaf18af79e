import { DataSource } from 'typeorm';
import { useTestStack } from '@raise-sync/testing';
import { RateBudgets, type RateSpec } from './rate-budget';
import { dataSourceOptions } from '@raise-sync/shared/state';
import { PgSharedBudgetStore } from './source-budget.repository';

const SPEC: RateSpec = { requestsPerSecond: 20, burst: 5 };

/** Runs `count` acquisitions on each budget at once; resolves with the wall time taken (ms). */
async function drain(budgets: RateBudgets[], customerId: string, count: number): Promise<number> {
  const started = Date.now();
  await Promise.all(
    budgets.map(async (budget) => {
      for (let i = 0; i < count; i += 1) {
        await budget.acquire(customerId, 'raise');
      }
    }),
  );
  return Date.now() - started;
}

describe('PgSharedBudgetStore: one source budget per customer across processes (real PostgreSQL)', () => {
  const stack = useTestStack();
  /** A second pool on the same database: the other "process". */
  let other: DataSource;

  const newCustomer = async (): Promise<string> => {
    const rows = await stack.dataSource.query<Array<{ id: string }>>(
      `INSERT INTO customers (name, status) VALUES ('budget test', 'live') RETURNING id`,
    );
    return rows[0]?.id ?? '';
  };

  beforeAll(async () => {
    other = await new DataSource(
      dataSourceOptions(stack.databaseUrl, { extra: { max: 2 } }),
    ).initialize();
  });

  afterAll(async () => {
    if (other.isInitialized) {
      await other.destroy();
    }
  });

  it('two processes together stay within one rate (20/s, burst 5: 2 × 30 requests take ≥ 2.75 s)', async () => {
    const customerId = await newCustomer();
    const a = new RateBudgets({
      rates: { raise: SPEC },
      shared: new PgSharedBudgetStore(stack.dataSource),
    });
    const b = new RateBudgets({ rates: { raise: SPEC }, shared: new PgSharedBudgetStore(other) });
    const elapsed = await drain([a, b], customerId, 30);
    // 60 requests: 5 from the burst, 55 at 20/s.
    expect(elapsed).toBeGreaterThanOrEqual(2700);
    expect(elapsed).toBeLessThan(4500);
    const [bucket] = await stack.dataSource.query<Array<{ tokens: number }>>(
      `SELECT tokens FROM source_rate_buckets WHERE customer_id = $1 AND api = 'raise'`,
      [customerId],
    );
    expect(bucket?.tokens).toBeLessThan(SPEC.burst);
  });

  it('without the shared store each process has the whole rate to itself (the control case)', async () => {
    const customerId = await newCustomer();
    const elapsed = await drain(
      [new RateBudgets({ rates: { raise: SPEC } }), new RateBudgets({ rates: { raise: SPEC } })],
      customerId,
      30,
    );
    // Each: 5 from the burst, 25 at 20/s = 1.25 s, side by side.
    expect(elapsed).toBeLessThan(2000);
  });

  it("a 429 pause in one process holds the other process's requests for the same customer", async () => {
    const customerId = await newCustomer();
    const paused = new RateBudgets({
      rates: { raise: SPEC },
      shared: new PgSharedBudgetStore(stack.dataSource),
    });
    const errors: unknown[] = [];
    const bystander = new RateBudgets({
      rates: { raise: SPEC },
      shared: new PgSharedBudgetStore(other),
      onSharedError: (error) => errors.push(error),
    });
    const untilMs = Date.now() + 1500;
    paused.pauseUntil(customerId, 'raise', untilMs);
    // pauseUntil records the pause in the background; wait until it is stored.
    for (let i = 0; i < 50; i += 1) {
      const rows = await stack.dataSource.query<unknown[]>(
        `SELECT 1 FROM source_rate_buckets WHERE customer_id = $1 AND api = 'raise' AND tokens < 0`,
        [customerId],
      );
      if (rows.length > 0) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await bystander.acquire(customerId, 'raise');
    expect(Date.now()).toBeGreaterThanOrEqual(untilMs - 100);
    expect(errors).toEqual([]);

    // Another customer is not held.
    const unrelated = await newCustomer();
    const started = Date.now();
    await bystander.acquire(unrelated, 'raise');
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('a broken store falls back to the local budget without throwing', async () => {
    const customerId = await newCustomer();
    const broken = await new DataSource(
      dataSourceOptions(stack.databaseUrl, { extra: { max: 1 } }),
    ).initialize();
    await broken.destroy();
    const errors: unknown[] = [];
    const budgets = new RateBudgets({
      rates: { raise: SPEC },
      shared: new PgSharedBudgetStore(broken),
      onSharedError: (error) => errors.push(error),
    });
    const started = Date.now();
    for (let i = 0; i < 7; i += 1) {
      await budgets.acquire(customerId, 'raise');
    }
    // The local bucket still paces: 5 at once, then 2 more at 20/s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(errors.length).toBeGreaterThanOrEqual(7);
    expect(errors[0]).toBeInstanceOf(Error);

    budgets.pauseUntil(customerId, 'raise', Date.now() + 200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(errors.length).toBeGreaterThanOrEqual(8);
    const pausedStart = Date.now();
    await budgets.acquire(customerId, 'raise');
    expect(Date.now() - pausedStart).toBeGreaterThanOrEqual(100);
  });
});

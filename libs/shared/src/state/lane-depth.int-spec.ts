import { parkLaneEvents, useTestStack } from '@raise-sync/testing';
import { customerLaneDepth, LANE_DEPTH_SQL } from './lane-depth';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

describe("customerLaneDepth: one customer's waiting events, bounded and on the lane index (real PostgreSQL)", () => {
  const stack = useTestStack();
  let deep = '';
  let shallow = '';
  let idle = '';

  /** A customer with `destinations` destinations, `parked` lane events and `retrying` retries each. */
  async function customer(name: string, destinations: number, parked: number, retrying: number) {
    const [row] = await stack.dataSource.query<Array<{ id: string }>>(
      `INSERT INTO customers (name, status) VALUES ($1, 'live') RETURNING id`,
      [name],
    );
    const id = row?.id ?? '';
    for (let d = 0; d < destinations; d += 1) {
      const [dest] = await stack.dataSource.query<Array<{ id: string }>>(
        `INSERT INTO destinations (customer_id, kind, name, config, enabled)
         VALUES ($1, 'warehouse', $2, '{}', true) RETURNING id`,
        [id, `d${d}`],
      );
      // Parked in the lane (as the submitter writes them) and waiting in the retry ladder.
      await parkLaneEvents(stack.dataSource, {
        destinationId: dest?.id ?? '',
        customerId: id,
        count: parked,
      });
      await stack.dataSource.query(
        `INSERT INTO retry_entries (destination_id, customer_id, event_id, resource, source_id, attempt,
                                    due_at, last_error, first_failed_at)
         SELECT $1, $2, 'r' || g, 'gift', g::text, 1, now(), '503', now()
           FROM generate_series(1, $3::int) g`,
        [dest?.id, id, retrying],
      );
    }
    return id;
  }

  beforeAll(async () => {
    deep = await customer('deep lanes', 2, 30_000, 100);
    shallow = await customer('shallow lanes', 3, 40, 20_000);
    idle = await customer('no lanes', 1, 0, 5_000);
    await stack.dataSource.query(`VACUUM ANALYZE retry_entries`);
    await stack.dataSource.query(`ANALYZE destinations`);
  });

  it("counts only the customer's parked entries (every destination), up to the bound + 1", async () => {
    expect(await customerLaneDepth(stack.dataSource, { customerId: shallow, atMost: 5000 })).toBe(
      120,
    );
    expect(await customerLaneDepth(stack.dataSource, { customerId: deep, atMost: 5000 })).toBe(
      5001,
    );
    expect(await customerLaneDepth(stack.dataSource, { customerId: deep, atMost: 100_000 })).toBe(
      60_000,
    );
    expect(await customerLaneDepth(stack.dataSource, { customerId: idle, atMost: 5000 })).toBe(0);
    expect(
      await customerLaneDepth(stack.dataSource, {
        customerId: '00000000-0000-4000-8000-000000000000',
        atMost: 5000,
      }),
    ).toBe(0);
  });

  it('is an index-only scan of ix_retry_entries_lane per destination, never a scan of retry_entries', async () => {
    for (const customerId of [deep, shallow]) {
      const [row] = await stack.dataSource.query<
        Array<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>
      >(`EXPLAIN (FORMAT JSON) ${LANE_DEPTH_SQL}`, [customerId, 5001]);
      const plan = nodes(row?.['QUERY PLAN'][0]?.Plan as PlanNode);
      const onRetries = plan.filter(
        (n) => n['Relation Name'] === 'retry_entries' || n['Index Name']?.startsWith('ix_retry'),
      );
      expect(onRetries.map((n) => [n['Node Type'], n['Index Name']])).toEqual([
        ['Index Only Scan', 'ix_retry_entries_lane'],
      ]);
      expect(plan.some((n) => n['Node Type'] === 'Limit')).toBe(true);
    }
  });

  it('stays cheap for a customer with a deep lane (bounded by the limit, not the depth)', async () => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < 20; i += 1) {
      await customerLaneDepth(stack.dataSource, { customerId: deep, atMost: 5000 });
    }
    const perQueryMs = Number(process.hrtime.bigint() - started) / 1e6 / 20;
    expect(perQueryMs).toBeLessThan(50);
  });
});

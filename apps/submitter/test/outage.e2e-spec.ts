import { randomBytes } from 'node:crypto';
import { expectEventually, useTestStack } from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  createCustomer,
  giftEvent,
  ledgerOf,
  publish,
  startSubmitter,
  type SubmitterUnderTest,
} from './support';

jest.setTimeout(300_000);

interface DeadLetterView {
  id: string;
}

const pct = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
};

describe('submitter: one destination down for 60 s', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-out`;
  let sim: Simulator;
  let submitter: SubmitterUnderTest;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 19 });
    // Retries at 10 s, 20 s and 40 s: 70 s of attempts, so a 60 s outage is ridden out.
    submitter = await startSubmitter(stack, prefix, {
      SUBMITTER_RETRY_DELAYS_MS: '10000,20000,40000',
    });
  });

  afterAll(async () => {
    await submitter?.app.stop('SIGTERM');
    await sim?.stop();
  });

  /** Warehouse arrival latency of each event (ms after publishing), for one customer. */
  const warehouseLatencies = async (
    customerId: string,
    ids: string[],
    publishedAt: number,
  ): Promise<number[]> => {
    const rows: Array<{ source_id: string; synced_at: Date }> = await stack.dataSource.query(
      `SELECT source_id, synced_at FROM warehouse.raise_gift WHERE customer_id = $1 AND source_id = ANY($2::text[])`,
      [customerId, ids],
    );
    return rows.map((r) => new Date(r.synced_at).getTime() - publishedAt);
  };

  it('one destination answering 503 for one customer does not slow the others; it catches up afterwards', async () => {
    const a = await createCustomer(stack, sim, `a-${randomBytes(3).toString('hex')}`, [
      'warehouse',
      'crm-plus',
      'webhook',
    ]);
    const b = await createCustomer(stack, sim, `b-${randomBytes(3).toString('hex')}`, [
      'warehouse',
      'crm-plus',
      'webhook',
    ]);

    // Baseline without the fault.
    const base = Array.from({ length: 60 }, () => giftEvent(b.id));
    let started = Date.now();
    await publish(stack, prefix, base);
    await expectEventually(async () =>
      expect(
        await warehouseLatencies(
          b.id,
          base.map((e) => e.recordId),
          started,
        ),
      ).toHaveLength(60),
    );
    const baselineP95 = pct(
      await warehouseLatencies(
        b.id,
        base.map((e) => e.recordId),
        started,
      ),
      0.95,
    );

    // Customer A's CRM+ answers 503 for 60 s while both customers keep sending.
    sim.destinations.setDestinationFaults(a.destinations['crm-plus']?.account ?? '', {
      status: 503,
    });
    const faultUntil = Date.now() + 60_000;
    const aEvents = Array.from({ length: 30 }, () => giftEvent(a.id));
    const bEvents = Array.from({ length: 60 }, () => giftEvent(b.id));
    started = Date.now();
    await publish(stack, prefix, [...aEvents, ...bEvents]);
    await expectEventually(async () => {
      expect(
        await warehouseLatencies(
          b.id,
          bEvents.map((e) => e.recordId),
          started,
        ),
      ).toHaveLength(60);
      expect(
        await warehouseLatencies(
          a.id,
          aEvents.map((e) => e.recordId),
          started,
        ),
      ).toHaveLength(30);
      expect(sim.destinations.hookDeliveries(a.destinations.webhook?.account ?? '')).toHaveLength(
        30,
      );
    });
    const faultedP95 = pct(
      await warehouseLatencies(
        b.id,
        bEvents.map((e) => e.recordId),
        started,
      ),
      0.95,
    );
    const aWarehouseP95 = pct(
      await warehouseLatencies(
        a.id,
        aEvents.map((e) => e.recordId),
        started,
      ),
      0.95,
    );
    process.stdout.write(
      `503 isolation: warehouse p95 without fault ${baselineP95} ms; with A's CRM+ failing: B ${faultedP95} ms, A ${aWarehouseP95} ms\n`,
    );
    const bound = Math.max(2 * baselineP95, baselineP95 + 1000);
    expect(faultedP95).toBeLessThan(bound);
    expect(aWarehouseP95).toBeLessThan(bound);
    expect(sim.destinations.crmGifts(a.destinations['crm-plus']?.account ?? '')).toHaveLength(0);

    await new Promise((r) => setTimeout(r, Math.max(0, faultUntil - Date.now())));
    sim.destinations.clearDestinationFaults(a.destinations['crm-plus']?.account ?? '');
    await expectEventually(
      () => {
        const crm = sim.destinations.crmGifts(a.destinations['crm-plus']?.account ?? '');
        expect(crm.map((g) => g.transactionId).sort()).toEqual(
          aEvents.map((e) => e.recordId).sort(),
        );
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const dead = await submitter.admin<DeadLetterView[]>(
      'GET',
      `/admin/dead-letters?customerId=${a.id}`,
    );
    expect(dead.body).toEqual([]);
    await expectEventually(async () => {
      for (const row of await ledgerOf(submitter, a.id)) {
        expect(row.imbalance).toBe(0);
        expect(row.inRetry).toBe(0);
      }
    });
  });
});

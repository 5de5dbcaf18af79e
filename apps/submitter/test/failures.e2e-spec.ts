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

interface DeadLetterView {
  id: string;
  customerId: string;
  destinationId: string;
  sourceId: string;
  reason: string;
  errorMessage: string;
  attempts: number;
  status: string;
  headers?: Record<string, string>;
}

const pct = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
};

describe('submitter: failing destinations, retries and dead letters', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-fail`;
  let sim: Simulator;
  let submitter: SubmitterUnderTest;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 9 });
    submitter = await startSubmitter(stack, prefix, {
      SUBMITTER_RETRY_DELAYS_MS: '2000,4000,8000',
      SUBMITTER_MAX_ATTEMPTS: '4',
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

    // Customer A's CRM+ answers 503 for 6 s (two retry rounds) while both customers keep sending.
    sim.destinations.setDestinationFaults(a.destinations['crm-plus']?.account ?? '', {
      status: 503,
    });
    const faultUntil = Date.now() + 6000;
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
      { timeoutMs: 40_000, intervalMs: 500 },
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

  it('a permanently refused record (422) is dead-lettered with its headers, does not block, and is retried via the admin API', async () => {
    const c = await createCustomer(stack, sim, `p-${randomBytes(3).toString('hex')}`, ['crm-plus']);
    const bad = giftEvent(c.id);
    const after = Array.from({ length: 10 }, () => giftEvent(c.id));
    const account = c.destinations['crm-plus']?.account ?? '';
    sim.destinations.setDestinationFaults(account, { statusFor: { [bad.recordId]: 422 } });
    await publish(stack, prefix, [bad, ...after]);
    // Records after it on the same partition arrive: nothing is blocked.
    await expectEventually(() => {
      const ids = sim.destinations.crmGifts(account).map((g) => g.transactionId);
      expect(ids.sort()).toEqual(after.map((e) => e.recordId).sort());
    });
    let deadLetter: DeadLetterView | undefined;
    await expectEventually(async () => {
      const { body } = await submitter.admin<DeadLetterView[]>(
        'GET',
        `/admin/dead-letters?customerId=${c.id}`,
      );
      expect(body).toHaveLength(1);
      deadLetter = body[0];
    });
    expect(deadLetter).toEqual(
      expect.objectContaining({
        sourceId: bad.recordId,
        reason: 'record_rejected',
        attempts: 1,
        status: 'open',
      }),
    );
    const inspected = await submitter.admin<DeadLetterView & { event: { recordId: string } }>(
      'GET',
      `/admin/dead-letters/${deadLetter?.id ?? ''}`,
    );
    expect(inspected.body.event.recordId).toBe(bad.recordId);
    expect(inspected.body.headers).toEqual(
      expect.objectContaining({
        'x-error-reason': 'record_rejected',
        'x-attempts': '1',
        'x-customer-id': c.id,
        'x-destination': c.destinations['crm-plus']?.id,
        'x-original-topic': `${prefix}.source.raise.gift`,
      }),
    );
    expect(inspected.body.headers?.['x-original-offset']).toMatch(/^\d+$/);
    expect(inspected.body.headers?.['x-first-failed-at']).toMatch(/^\d{4}-/);

    // Fix the cause, retry through the admin API: it lands, and the ledger still balances.
    sim.destinations.clearDestinationFaults(account);
    const retried = await submitter.admin<{ retried: number }>(
      'POST',
      `/admin/dead-letters/${deadLetter?.id ?? ''}/retry`,
    );
    expect(retried.body.retried).toBe(1);
    await expectEventually(() => {
      expect(sim.destinations.crmGifts(account).map((g) => g.transactionId)).toContain(
        bad.recordId,
      );
    });
    await expectEventually(async () => {
      const [row] = await ledgerOf(submitter, c.id);
      expect(row).toEqual(
        expect.objectContaining({
          received: 11,
          delivered: 11,
          deadLettered: 0,
          inRetry: 0,
          imbalance: 0,
        }),
      );
    });
  });

  it('a retriable failure that never ends is dead-lettered after the configured attempts', async () => {
    const c = await createCustomer(stack, sim, `x-${randomBytes(3).toString('hex')}`, ['webhook']);
    const account = c.destinations.webhook?.account ?? '';
    const event = giftEvent(c.id);
    sim.destinations.setDestinationFaults(account, { statusFor: { [event.recordId]: 500 } });
    await publish(stack, prefix, [event]);
    await expectEventually(
      async () => {
        const { body } = await submitter.admin<DeadLetterView[]>(
          'GET',
          `/admin/dead-letters?customerId=${c.id}`,
        );
        expect(body).toEqual([
          expect.objectContaining({ reason: 'attempts_exhausted', attempts: 4 }),
        ]);
      },
      { timeoutMs: 40_000, intervalMs: 500 },
    );
  });

  it('a schema-valid but unusable record (CRM+ contact without email) is dead-lettered with a clear reason', async () => {
    const c = await createCustomer(stack, sim, `e-${randomBytes(3).toString('hex')}`, [
      'crm-plus',
      'warehouse',
    ]);
    const noEmail = giftEvent(c.id, { email: null });
    await publish(stack, prefix, [noEmail]);
    await expectEventually(async () => {
      const { body } = await submitter.admin<DeadLetterView[]>(
        'GET',
        `/admin/dead-letters?customerId=${c.id}`,
      );
      expect(body).toHaveLength(1);
      expect(body[0]?.reason).toBe('record_rejected');
      expect(body[0]?.errorMessage).toMatch(/email/i);
    });
    // The warehouse, which needs no email, has it.
    const rows: unknown[] = await stack.dataSource.query(
      `SELECT 1 FROM warehouse.raise_gift WHERE customer_id = $1 AND source_id = $2`,
      [c.id, noEmail.recordId],
    );
    expect(rows).toHaveLength(1);
  });
});

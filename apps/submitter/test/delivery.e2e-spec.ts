import { randomBytes } from 'node:crypto';
import { expectEventually, scrapeMetric, useTestStack } from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import type { SourceEvent } from '@raise-sync/shared/events';
import {
  createCustomer,
  donorEvent,
  giftEvent,
  ledgerOf,
  publish,
  startSubmitter,
  type SubmitterUnderTest,
  type TestCustomer,
} from './support';

const ALL = ['warehouse', 'crm-plus', 'accounting', 'marketing', 'webhook'] as const;

describe('submitter: fan-out to five destinations (real Kafka, registry, PostgreSQL; HTTP simulators)', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-del`;
  let sim: Simulator;
  let submitter: SubmitterUnderTest;

  const expectBalanced = async (customer: TestCustomer): Promise<void> => {
    await expectEventually(
      async () => {
        const rows = await ledgerOf(submitter, customer.id);
        expect(rows.length).toBe(Object.keys(customer.destinations).length);
        for (const row of rows) {
          expect({ destination: row.destination, imbalance: row.imbalance }).toEqual({
            destination: row.destination,
            imbalance: 0,
          });
          expect(row.received).toBeGreaterThan(0);
        }
      },
      { timeoutMs: 30_000 },
    );
  };

  beforeAll(async () => {
    sim = await startSimulator({ seed: 5 });
    submitter = await startSubmitter(stack, prefix);
  });

  afterAll(async () => {
    await submitter?.app.stop('SIGTERM');
    await sim?.stop();
  });

  it('3 customers x 5 destinations: every event reaches every enabled destination exactly once in effect', async () => {
    const customers: TestCustomer[] = [];
    const gifts = new Map<string, string[]>();
    const donors = new Map<string, string[]>();
    const events: SourceEvent[] = [];
    const t0 = Date.now() - 60_000;
    for (let c = 0; c < 3; c += 1) {
      const customer = await createCustomer(stack, sim, `c${c}-${randomBytes(3).toString('hex')}`, [
        ...ALL,
      ]);
      customers.push(customer);
      const giftIds: string[] = [];
      for (let i = 0; i < 40; i += 1) {
        const e = giftEvent(customer.id, { modifiedAt: new Date(t0 + i * 10) });
        giftIds.push(e.recordId);
        events.push(e);
        if (i % 5 === 0) {
          events.push(e); // a duplicate delivery of the same event
        }
      }
      // A refund (same gift, later version): accounting must show invoice, then credit note.
      const refunded = giftIds[0] as string;
      events.push(
        giftEvent(customer.id, {
          id: Number(refunded),
          modifiedAt: new Date(t0 + 5000),
          statusText: 'Refunded',
        }),
      );
      const donorIds: string[] = [];
      for (let i = 0; i < 10; i += 1) {
        const e = donorEvent(customer.id, {
          modifiedAt: new Date(t0 + i * 10),
          optIn: i % 2 === 0,
        });
        donorIds.push(e.recordId);
        events.push(e);
      }
      gifts.set(customer.id, giftIds);
      donors.set(customer.id, donorIds);
    }
    await publish(stack, prefix, events);

    for (const customer of customers) {
      const giftIds = [...(gifts.get(customer.id) ?? [])].sort();
      const donorIds = [...(donors.get(customer.id) ?? [])].sort();
      await expectEventually(
        async () => {
          const rows: Array<{ source_id: string }> = await stack.dataSource.query(
            `SELECT source_id FROM warehouse.raise_gift WHERE customer_id = $1 ORDER BY source_id`,
            [customer.id],
          );
          expect(rows.map((r) => r.source_id)).toEqual(giftIds);
          const crm = sim.destinations.crmGifts(customer.destinations['crm-plus']?.account ?? '');
          // The refund is a separate reversing transaction, so CRM+ totals net to zero.
          expect(crm.map((g) => g.transactionId).sort()).toEqual(
            [...giftIds, `${(gifts.get(customer.id) ?? [])[0]}-refund`].sort(),
          );
          const invoices = sim.destinations.invoices(
            customer.destinations.accounting?.account ?? '',
          );
          expect(invoices.map((i) => i.reference).sort()).toEqual(
            giftIds.map((id) => `raise-gift-${id}`).sort(),
          );
          const members = sim.destinations.members(customer.destinations.marketing?.account ?? '');
          expect(members).toHaveLength(donorIds.length);
          const hooks = sim.destinations.hookDeliveries(
            customer.destinations.webhook?.account ?? '',
          );
          expect(new Set(hooks.map((h) => h.recordId)).size).toBe(giftIds.length + donorIds.length);
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      const donorRows: Array<{ n: string }> = await stack.dataSource.query(
        `SELECT count(*) AS n FROM warehouse.raise_donor WHERE customer_id = $1`,
        [customer.id],
      );
      expect(Number(donorRows[0]?.n)).toBe(donorIds.length);
      // Exactly once in effect: one CRM+ gift per transaction, one invoice per reference.
      const account = customer.destinations.accounting?.account ?? '';
      const log = sim.destinations.accountingLog(account);
      const refundRef = `raise-gift-${(gifts.get(customer.id) ?? [])[0]}`;
      const invoiceAt = log.findIndex((l) => l.op === 'invoice' && l.reference === refundRef);
      const creditAt = log.findIndex(
        (l) => l.op === 'credit-note' && l.invoiceReference === refundRef,
      );
      expect(invoiceAt).toBeGreaterThanOrEqual(0);
      expect(creditAt).toBeGreaterThan(invoiceAt);
      expect(sim.destinations.creditNotes(account)).toHaveLength(1);
      // Marketing honours the opt-in flag: half the donors opted in.
      const members = sim.destinations.members(customer.destinations.marketing?.account ?? '');
      expect(members.filter((m) => m.status === 'subscribed')).toHaveLength(5);
      await expectBalanced(customer);
    }
    expect(
      await scrapeMetric(submitter.app.url, 'raise_sync_deliveries_total', {
        outcome: 'dead_lettered',
      }),
    ).toBe(0);
  });
});

import { DestinationUnavailableError } from '@raise-sync/shared';
import { type Simulator, startSimulator } from '@raise-sync/simulators';
import { contextFor, deleteEvent, upsertEvent } from '../../test/fixtures';
import { AccountingAdapter } from './accounting.adapter';

describe('AccountingAdapter against the accounting simulator', () => {
  let sim: Simulator;
  const adapter = new AccountingAdapter();
  const ctx = (account: string) =>
    contextFor('accounting', { baseUrl: sim.accountingUrl }, { token: `tok-${account}` });

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('books invoice, then credit note, then void, each once, however often it is retried', async () => {
    sim.destinations.createAccount({ kind: 'accounting', id: 'acc-a', token: 'tok-acc-a' });
    const paid = upsertEvent('gift', {}, { modifiedAt: new Date('2026-11-20T10:00:00Z') });
    const refunded = upsertEvent(
      'gift',
      { statusText: 'Refunded' },
      { modifiedAt: new Date('2026-11-21T10:00:00Z') },
    );
    const yen = upsertEvent('gift', { id: 'jp1', amount: '5000.00', currency: 'JPY' });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const results = await adapter.deliver(ctx('acc-a'), [paid]);
      expect(results).toEqual([
        { outcome: 'delivered', destinationRecordId: expect.any(String) as string },
      ]);
      await adapter.deliver(ctx('acc-a'), [refunded, yen]);
    }
    await adapter.deliver(ctx('acc-a'), [deleteEvent('gift', '900113')]);
    await adapter.deliver(ctx('acc-a'), [deleteEvent('gift', '900113')]);

    const log = sim.destinations.accountingLog('acc-a');
    expect(
      log
        .filter((e) => e.invoiceReference === 'raise-gift-900113')
        .map((e) => [e.op, e.reference, e.amountMinor]),
    ).toEqual([
      ['invoice', 'raise-gift-900113', 12550],
      ['credit-note', 'raise-gift-900113-refund', 12550],
      ['void', 'raise-gift-900113', null],
    ]);
    expect(
      log.filter((e) => e.invoiceReference === 'raise-gift-jp1').map((e) => [e.op, e.amountMinor]),
    ).toEqual([['invoice', 5000]]);
    const invoice = sim.destinations
      .invoices('acc-a')
      .find((i) => i.reference === 'raise-gift-900113');
    expect(invoice).toMatchObject({
      status: 'VOIDED',
      voidReason: 'deleted in Raise',
      currency: 'USD',
    });
    await expect(adapter.lookup(ctx('acc-a'), 'gift', 'jp1')).resolves.toMatchObject({
      exists: true,
      deleted: false,
    });
    await expect(adapter.health(ctx('acc-a'))).resolves.toBeUndefined();
  });

  it('books a changed amount as a new revision under the same reference, once', async () => {
    sim.destinations.createAccount({ kind: 'accounting', id: 'acc-c', token: 'tok-acc-c' });
    const changed = upsertEvent('gift', { amount: '80.00' });
    await adapter.deliver(ctx('acc-c'), [upsertEvent('gift')]);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      await expect(adapter.deliver(ctx('acc-c'), [changed])).resolves.toEqual([
        { outcome: 'delivered', destinationRecordId: expect.any(String) as string },
      ]);
    }
    const invoices = sim.destinations
      .invoices('acc-c')
      .filter((i) => i.reference === 'raise-gift-900113');
    expect(invoices.map((i) => [i.status, i.totalMinor, i.voidReason])).toEqual([
      ['VOIDED', 12550, 'amended in Raise'],
      ['AUTHORISED', 8000, null],
    ]);
    await expect(adapter.lookup(ctx('acc-c'), 'gift', '900113')).resolves.toEqual({
      exists: true,
      deleted: false,
      destinationRecordId: invoices[1]?.id,
    });
  });

  it('skips test-mode gifts and reports an outage as unavailable', async () => {
    sim.destinations.createAccount({ kind: 'accounting', id: 'acc-b', token: 'tok-acc-b' });
    await expect(
      adapter.deliver(ctx('acc-b'), [upsertEvent('gift', { isTestMode: true })]),
    ).resolves.toEqual([{ outcome: 'skipped', reason: 'test-mode gift' }]);
    sim.destinations.setDestinationFaults('acc-b', { status: 503 });
    const [down] = await adapter.deliver(ctx('acc-b'), [upsertEvent('gift')]);
    expect(down).toBeInstanceOf(DestinationUnavailableError);
    sim.destinations.clearDestinationFaults('acc-b');
    await adapter.deliver(ctx('acc-b'), [upsertEvent('gift')]);
    expect(sim.destinations.invoices('acc-b')).toHaveLength(1);
  });
});

import { DestinationUnavailableError, RecordRejectedError } from '@raise-sync/shared';
import {
  CUSTOMER_ID,
  type FakeDestination,
  type FakeResponse,
  type RecordedRequest,
  contextFor,
  deleteEvent,
  startFakeDestination,
  upsertEvent,
} from '../../test/fixtures';
import { AccountingAdapter } from './accounting.adapter';

interface Invoice {
  id: string;
  status: string;
  reference: string;
  currency: string;
  totalMinor: number;
  creditNotes: Array<{ id: string; reference: string; amountMinor: number }>;
}

/** A small accounting API with the contract's idempotency rules. */
function fakeLedger() {
  const invoices: Invoice[] = [];
  const keys = new Map<string, { body: string; response: FakeResponse }>();
  const log: string[] = [];
  const handle = (request: RecordedRequest): FakeResponse => {
    const [path = '', query = ''] = request.url.split('?');
    if (request.method === 'GET' && path === '/invoices') {
      const reference = new URLSearchParams(query).get('reference');
      return { status: 200, body: { items: invoices.filter((i) => i.reference === reference) } };
    }
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string') {
      return { status: 400, body: { error: 'bad_request' } };
    }
    const seen = keys.get(key);
    if (seen) {
      return seen.body === request.body
        ? { ...seen.response, status: 200, headers: { 'idempotent-replayed': 'true' } }
        : { status: 409, body: { error: 'idempotency_key_reused' } };
    }
    const input = request.json() as Record<string, unknown>;
    let response: FakeResponse;
    if (path === '/invoices') {
      const lines = input.lines as Array<{ amountMinor: number }>;
      const invoice: Invoice = {
        id: `inv_${invoices.length + 1}`,
        status: 'AUTHORISED',
        reference: input.reference as string,
        currency: input.currency as string,
        totalMinor: lines.reduce((s, l) => s + l.amountMinor, 0),
        creditNotes: [],
      };
      invoices.push(invoice);
      log.push(`invoice ${invoice.reference}`);
      response = { status: 201, body: { ...invoice } };
    } else if (path === '/credit-notes') {
      const invoice = invoices.find((i) => i.id === input.invoiceId);
      if (!invoice) {
        return { status: 404, body: { error: 'not_found' } };
      }
      const note = {
        id: `cn_${log.length}`,
        reference: input.reference as string,
        amountMinor: input.amountMinor as number,
      };
      invoice.creditNotes.push(note);
      log.push(`credit-note ${note.reference}`);
      response = { status: 201, body: note };
    } else {
      const invoice = invoices.find((i) => path === `/invoices/${i.id}/void`);
      if (!invoice) {
        return { status: 404, body: { error: 'not_found' } };
      }
      invoice.status = 'VOIDED';
      log.push(`void ${invoice.reference} (${String(input.reason)})`);
      response = { status: 200, body: { id: invoice.id, status: 'VOIDED' } };
    }
    keys.set(key, { body: request.body, response });
    return response;
  };
  return { invoices, log, handle };
}

describe(AccountingAdapter.name, () => {
  let server: FakeDestination;
  let ledger: ReturnType<typeof fakeLedger>;
  const adapter = new AccountingAdapter();
  const ctx = () =>
    contextFor('accounting', { baseUrl: server.url }, { token: 'acc-token-123456' });

  beforeEach(async () => {
    ledger = fakeLedger();
    server = await startFakeDestination(ledger.handle);
  });
  afterEach(async () => {
    await server.close();
  });

  it('takes gifts only', () => {
    expect(adapter.accepts('gift')).toBe(true);
    expect(adapter.accepts('donor')).toBe(false);
  });

  it('creates an invoice with a stable idempotency key and returns its id', async () => {
    await expect(adapter.deliver(ctx(), [upsertEvent('gift')])).resolves.toEqual([
      { outcome: 'delivered', destinationRecordId: 'inv_1' },
    ]);
    const [request] = server.requests;
    expect(request?.url).toBe('/invoices');
    expect(request?.headers['idempotency-key']).toBe(
      `raise-sync:${CUSTOMER_ID}:gift:900113:invoice`,
    );
    expect(request?.json()).toMatchObject({
      reference: 'raise-gift-900113',
      lines: [{ amountMinor: 12550 }],
    });
  });

  it('sends the same keys on a retry, so nothing is booked twice', async () => {
    const refunded = upsertEvent('gift', { statusText: 'Refunded' });
    await adapter.deliver(ctx(), [refunded]);
    await adapter.deliver(ctx(), [refunded]);
    const keys = server.requests
      .filter((r) => r.method === 'POST')
      .map((r) => r.headers['idempotency-key']);
    expect(keys).toEqual([
      `raise-sync:${CUSTOMER_ID}:gift:900113:invoice`,
      `raise-sync:${CUSTOMER_ID}:gift:900113:credit-note`,
      `raise-sync:${CUSTOMER_ID}:gift:900113:invoice`,
    ]);
    expect(ledger.invoices).toHaveLength(1);
    expect(ledger.log).toEqual([
      'invoice raise-gift-900113',
      'credit-note raise-gift-900113-refund',
    ]);
  });

  it('issues the invoice before the credit note when the first event seen is already a refund', async () => {
    await adapter.deliver(ctx(), [upsertEvent('gift', { statusText: 'Refunded' })]);
    expect(ledger.log).toEqual([
      'invoice raise-gift-900113',
      'credit-note raise-gift-900113-refund',
    ]);
    expect(server.requests[1]?.json()).toEqual({
      invoiceId: 'inv_1',
      reference: 'raise-gift-900113-refund',
      amountMinor: 12550,
      currency: 'USD',
      reason: 'refunded in Raise',
    });
  });

  it('keeps the existing invoice when the gift changed without changing the amount', async () => {
    await adapter.deliver(ctx(), [upsertEvent('gift')]);
    const renamed = upsertEvent('gift', { campaignName: 'Spring Appeal', statusText: 'Refunded' });
    await expect(adapter.deliver(ctx(), [renamed])).resolves.toEqual([
      { outcome: 'delivered', destinationRecordId: 'inv_1' },
    ]);
    expect(ledger.log).toEqual([
      'invoice raise-gift-900113',
      'credit-note raise-gift-900113-refund',
    ]);
  });

  it('re-issues the invoice when the amount changed: voids the old one, books the new amount', async () => {
    await adapter.deliver(ctx(), [upsertEvent('gift')]);
    await expect(
      adapter.deliver(ctx(), [upsertEvent('gift', { amount: '99.00' })]),
    ).resolves.toEqual([{ outcome: 'delivered', destinationRecordId: 'inv_2' }]);
    expect(ledger.log).toEqual([
      'invoice raise-gift-900113',
      'void raise-gift-900113 (amended in Raise)',
      'invoice raise-gift-900113',
    ]);
    expect(ledger.invoices.map((i) => [i.status, i.totalMinor])).toEqual([
      ['VOIDED', 12550],
      ['AUTHORISED', 9900],
    ]);
    // Redelivering the change books nothing more; a refund credits the live revision.
    await adapter.deliver(ctx(), [upsertEvent('gift', { amount: '99.00' })]);
    await adapter.deliver(ctx(), [
      upsertEvent('gift', { amount: '99.00', statusText: 'Refunded' }),
    ]);
    expect(ledger.log.slice(3)).toEqual(['credit-note raise-gift-900113-refund']);
    expect(ledger.invoices[1]?.creditNotes.map((n) => n.amountMinor)).toEqual([9900]);
    const keys = server.requests
      .filter((r) => r.method === 'POST')
      .map((r) => String(r.headers['idempotency-key']).replace(/^.*:gift:900113:/, ''));
    expect(keys).toEqual([
      'invoice',
      'invoice',
      'void',
      'invoice:r2',
      'invoice',
      'invoice',
      'credit-note:r2',
    ]);
  });

  it('re-issues again when the amount goes back to one already booked once', async () => {
    await adapter.deliver(ctx(), [upsertEvent('gift')]);
    await adapter.deliver(ctx(), [upsertEvent('gift', { amount: '99.00' })]);
    // The first revision's key now replays an invoice that is voided: the ledger decides.
    await expect(adapter.deliver(ctx(), [upsertEvent('gift')])).resolves.toEqual([
      { outcome: 'delivered', destinationRecordId: 'inv_3' },
    ]);
    expect(ledger.invoices.map((i) => [i.status, i.totalMinor])).toEqual([
      ['VOIDED', 12550],
      ['VOIDED', 9900],
      ['AUTHORISED', 12550],
    ]);
  });

  it('finishes a re-issue that stopped after the void, booking the new revision once', async () => {
    await adapter.deliver(ctx(), [upsertEvent('gift')]);
    let failed = false;
    server.respond((request) => {
      if (
        !failed &&
        request.method === 'POST' &&
        request.headers['idempotency-key']?.toString().endsWith(':r2')
      ) {
        failed = true;
        return { status: 503, headers: { 'retry-after': '1' }, body: {} };
      }
      return ledger.handle(request);
    });
    const [first] = await adapter.deliver(ctx(), [upsertEvent('gift', { amount: '99.00' })]);
    expect(first).toBeInstanceOf(DestinationUnavailableError);
    await expect(
      adapter.deliver(ctx(), [upsertEvent('gift', { amount: '99.00' })]),
    ).resolves.toEqual([{ outcome: 'delivered', destinationRecordId: 'inv_2' }]);
    expect(ledger.invoices.map((i) => [i.status, i.totalMinor])).toEqual([
      ['VOIDED', 12550],
      ['AUTHORISED', 9900],
    ]);
  });

  it('keeps a credited invoice and books a new credited revision when a refunded gift changes amount', async () => {
    await adapter.deliver(ctx(), [upsertEvent('gift', { statusText: 'Refunded' })]);
    const changed = upsertEvent('gift', { amount: '99.00', statusText: 'Refunded' });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      await expect(adapter.deliver(ctx(), [changed])).resolves.toEqual([
        { outcome: 'delivered', destinationRecordId: 'inv_2' },
      ]);
    }
    expect(
      ledger.invoices.map((i) => [i.status, i.totalMinor, i.creditNotes.map((n) => n.amountMinor)]),
    ).toEqual([
      ['AUTHORISED', 12550, [12550]],
      ['AUTHORISED', 9900, [9900]],
    ]);
  });

  it('voids the live revision of a re-issued gift when it is deleted', async () => {
    await adapter.deliver(ctx(), [upsertEvent('gift')]);
    await adapter.deliver(ctx(), [upsertEvent('gift', { amount: '99.00' })]);
    await expect(adapter.deliver(ctx(), [deleteEvent('gift', '900113')])).resolves.toEqual([
      { outcome: 'delivered', destinationRecordId: 'inv_2' },
    ]);
    expect(ledger.invoices.map((i) => i.status)).toEqual(['VOIDED', 'VOIDED']);
    expect(ledger.log.at(-1)).toBe('void raise-gift-900113 (deleted in Raise)');
    expect(server.requests.at(-1)?.headers['idempotency-key']).toMatch(/:void:r2$/);
  });

  it('voids the invoice of a deleted gift with a reason, never deleting it', async () => {
    await adapter.deliver(ctx(), [upsertEvent('gift')]);
    await expect(adapter.deliver(ctx(), [deleteEvent('gift', '900113')])).resolves.toEqual([
      { outcome: 'delivered', destinationRecordId: 'inv_1' },
    ]);
    expect(ledger.log).toEqual([
      'invoice raise-gift-900113',
      'void raise-gift-900113 (deleted in Raise)',
    ]);
    expect(server.requests.some((r) => r.method === 'DELETE')).toBe(false);
    await expect(adapter.lookup(ctx(), 'gift', '900113')).resolves.toEqual({
      exists: true,
      deleted: true,
      destinationRecordId: 'inv_1',
    });
  });

  it('skips test-mode gifts, unpaid gifts and deletes of gifts never invoiced', async () => {
    const results = await adapter.deliver(ctx(), [
      upsertEvent('gift', { id: '1', isTestMode: true }),
      upsertEvent('gift', { id: '2', statusText: 'Failed' }),
      deleteEvent('gift', '3'),
    ]);
    expect(results).toEqual([
      { outcome: 'skipped', reason: 'test-mode gift' },
      { outcome: 'skipped', reason: 'gift status "Failed" is not invoiced' },
      { outcome: 'skipped', reason: 'no invoice exists for this gift: nothing to void' },
    ]);
    expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('names in advance exactly the upserts deliver skips on purpose (what reconciliation asks)', async () => {
    const events = [
      upsertEvent('gift', { id: '1', isTestMode: true }),
      upsertEvent('gift', { id: '2', statusText: 'Failed' }),
      upsertEvent('gift', { id: '3' }),
      upsertEvent('donor'),
    ];
    const predicted = events.map((e) => adapter.intentionalSkip(ctx(), e));
    const results = await adapter.deliver(ctx(), events);
    expect(predicted).toEqual(
      results.map((r) => (!(r instanceof Error) && r.outcome === 'skipped' ? r.reason : null)),
    );
    expect(predicted[2]).toBeNull();
  });

  it('reports a validation error with the destination detail, and 503 as unavailable', async () => {
    server.respond(() => ({
      status: 422,
      body: {
        error: 'validation',
        details: [{ field: 'currency', message: 'currency must be an ISO 4217 code' }],
      },
    }));
    const [rejected] = await adapter.deliver(ctx(), [upsertEvent('gift')]);
    expect(rejected).toBeInstanceOf(RecordRejectedError);
    expect((rejected as Error).message).toContain('currency: currency must be an ISO 4217 code');
    server.respond(() => ({ status: 503, headers: { 'retry-after': '1' }, body: {} }));
    const [unavailable] = await adapter.deliver(ctx(), [upsertEvent('gift')]);
    expect(unavailable).toBeInstanceOf(DestinationUnavailableError);
  });
});

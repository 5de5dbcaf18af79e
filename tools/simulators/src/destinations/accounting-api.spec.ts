import { call } from '../../test/helpers';
import { startSimulator } from '../simulator';
import type { Simulator } from '../types';
import type { AccountingCreditNote, AccountingInvoice } from './types';

interface AccountingError {
  error: string;
  message: string;
  details?: Array<{ field: string; message: string }>;
}

describe('accounting simulator', () => {
  let sim: Simulator;
  let api: string;
  const token = 'ledger-token';
  let keys = 0;

  const invoice = (reference: string, overrides: Record<string, unknown> = {}) => ({
    reference,
    contact: { email: 'ada@example.org', name: 'Ada Lovelace' },
    currency: 'USD',
    issueDate: '2026-01-02',
    lines: [{ description: 'Gift 1000001', amountMinor: 5000, account: '4000' }],
    ...overrides,
  });

  /** POST with a fresh Idempotency-Key unless one is given. */
  const post = <T>(path: string, body: unknown, key = `key-${++keys}`) =>
    call<T>(`${api}${path}`, { token, body, headers: { 'idempotency-key': key } });

  beforeAll(async () => {
    sim = await startSimulator();
    api = sim.accountingUrl;
  });

  beforeEach(() => {
    sim.destinations.createAccount({ kind: 'accounting', id: 'ledger', token });
  });

  afterEach(() => {
    sim.destinations.removeAccount('ledger');
  });

  afterAll(() => sim.stop());

  it('answers 401 without a valid bearer token', async () => {
    const response = await call<AccountingError>(`${api}/invoices`, { token: 'nope' });
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('unauthorized');
  });

  it('creates an invoice and finds it by reference and by id', async () => {
    const created = await post<AccountingInvoice>('/invoices', invoice('gift-1'));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      status: 'AUTHORISED',
      totalMinor: 5000,
      currency: 'USD',
      reference: 'gift-1',
    });
    expect(created.body.number).toMatch(/^INV-\d+$/);
    const byReference = await call<{ items: AccountingInvoice[] }>(
      `${api}/invoices?reference=gift-1`,
      { token },
    );
    expect(byReference.body.items.map((i) => i.id)).toEqual([created.body.id]);
    expect(byReference.body.items[0]!.creditNotes).toEqual([]);
    const byId = await call<AccountingInvoice>(`${api}/invoices/${created.body.id}`, { token });
    expect(byId.body.reference).toBe('gift-1');
    expect((await call(`${api}/invoices/inv_missing`, { token })).status).toBe(404);
  });

  it('requires an Idempotency-Key, replays a repeat and refuses a reused key (409)', async () => {
    const missing = await call<AccountingError>(`${api}/invoices`, {
      token,
      body: invoice('gift-1'),
    });
    expect(missing.status).toBe(400);
    const first = await post<AccountingInvoice>('/invoices', invoice('gift-1'), 'k-1');
    // Same request, keys in another order: the original answer again.
    const { lines, ...rest } = invoice('gift-1');
    const replay = await post<AccountingInvoice>('/invoices', { lines, ...rest }, 'k-1');
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    const reused = await post<AccountingError>('/invoices', invoice('gift-2'), 'k-1');
    expect(reused.status).toBe(409);
    expect(reused.body.error).toBe('idempotency_key_reused');
    expect(sim.destinations.invoices('ledger')).toHaveLength(1);
  });

  it('answers 422 with details for a missing currency, a bad amount and no lines', async () => {
    const bad = await post<AccountingError>(
      '/invoices',
      invoice('gift-1', { currency: undefined, lines: [{ description: 'x', amountMinor: 1.5 }] }),
    );
    expect(bad.status).toBe(422);
    expect(bad.body.error).toBe('validation');
    expect(bad.body.details!.map((d) => d.field)).toEqual(['currency', 'lines[0].amountMinor']);
    const empty = await post<AccountingError>('/invoices', invoice('gift-1', { lines: [] }));
    expect(empty.body.details!.map((d) => d.field)).toEqual(['lines']);
    // A failed request keeps no answer: the key can be used again once the body is fixed.
    const failed = await post('/invoices', invoice('gift-3', { lines: [] }), 'retry-me');
    expect(failed.status).toBe(422);
    expect((await post('/invoices', invoice('gift-3'), 'retry-me')).status).toBe(201);
  });

  it('credits an invoice up to its total and logs invoice before credit note', async () => {
    const created = await post<AccountingInvoice>('/invoices', invoice('gift-1'), 'inv-key');
    const credit = (amountMinor: number, currency = 'USD') =>
      post<AccountingCreditNote & AccountingError>('/credit-notes', {
        invoiceId: created.body.id,
        reference: 'gift-1-refund',
        amountMinor,
        currency,
        reason: 'refund',
      });
    const note = await credit(3000);
    expect(note.status).toBe(201);
    expect(note.body).toMatchObject({
      invoiceId: created.body.id,
      amountMinor: 3000,
      status: 'AUTHORISED',
    });
    const over = await credit(2001);
    expect(over.status).toBe(422);
    expect(over.body.details!.map((d) => d.field)).toEqual(['amountMinor']);
    const otherCurrency = await credit(100, 'EUR');
    expect(otherCurrency.status).toBe(422);
    expect((await credit(2000)).status).toBe(201);

    const stored = sim.destinations.invoices('ledger')[0]!;
    expect(stored.creditedMinor).toBe(5000);
    // A replay answers what the first request got, not the invoice as it is now.
    const replay = await post<AccountingInvoice>('/invoices', invoice('gift-1'), 'inv-key');
    expect(replay.body).toEqual(created.body);
    expect(replay.body.creditedMinor).toBe(0);
    expect(stored.creditNotes).toHaveLength(2);
    expect(sim.destinations.creditNotes('ledger')).toHaveLength(2);
    expect(sim.destinations.accountingLog('ledger').map((e) => [e.seq, e.op])).toEqual([
      [1, 'invoice'],
      [2, 'credit-note'],
      [3, 'credit-note'],
    ]);
  });

  it('refuses a credit note for an invoice that does not exist (404)', async () => {
    const response = await post<AccountingError>('/credit-notes', {
      invoiceId: 'inv_999999',
      reference: 'gift-9-refund',
      amountMinor: 100,
      currency: 'USD',
    });
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('not_found');
    expect(sim.destinations.accountingLog('ledger')).toEqual([]);
  });

  it('voids invoices, never deletes them (405 for every DELETE)', async () => {
    const created = await post<AccountingInvoice>('/invoices', invoice('gift-1'));
    const voided = await post<AccountingInvoice>(`/invoices/${created.body.id}/void`, {
      reason: 'gift deleted',
    });
    expect(voided.status).toBe(200);
    expect(voided.body).toMatchObject({
      id: created.body.id,
      status: 'VOIDED',
      voidReason: 'gift deleted',
    });
    const credit = await post('/credit-notes', {
      invoiceId: created.body.id,
      reference: 'r',
      amountMinor: 1,
      currency: 'USD',
    });
    expect(credit.status).toBe(422);
    for (const path of ['/invoices', `/invoices/${created.body.id}`, '/credit-notes']) {
      const deleted = await call<AccountingError>(`${api}${path}`, { token, method: 'DELETE' });
      expect(deleted.status).toBe(405);
      expect(deleted.body.error).toBe('method_not_allowed');
    }
    expect(sim.destinations.accountingLog('ledger').map((e) => e.op)).toEqual(['invoice', 'void']);
    expect((await post(`/invoices/inv_404/void`, {})).status).toBe(404);
  });

  it('rejects one record by reference with statusFor, until cleared', async () => {
    sim.destinations.setDestinationFaults('ledger', { statusFor: { 'gift-bad': 422 } });
    const rejected = await post<AccountingError>('/invoices', invoice('gift-bad'), 'k-bad');
    expect(rejected.status).toBe(422);
    expect(rejected.body).toMatchObject({
      error: 'validation',
      details: [{ field: 'reference' }],
    });
    expect((await post('/invoices', invoice('gift-ok'))).status).toBe(201);
    sim.destinations.setDestinationFaults('ledger', { status: 429 });
    const limited = await post('/invoices', invoice('gift-ok-2'));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    sim.destinations.clearDestinationFaults('ledger');
    expect((await post('/invoices', invoice('gift-bad'), 'k-bad')).status).toBe(201);
    expect(sim.destinations.invoices('ledger').map((i) => i.reference)).toEqual([
      'gift-ok',
      'gift-bad',
    ]);
  });
});

import { call } from '../../test/helpers';
import { startSimulator } from '../simulator';
import type { Simulator } from '../types';
import type { CrmContact, CrmGift } from './types';

interface CrmError {
  error: { code: string; message: string; details?: Array<{ field: string; code: string }> };
}

describe('CRM+ simulator', () => {
  let sim: Simulator;
  let api: string;
  const token = 'crm-token';

  const gift = (transactionId: string, overrides: Record<string, unknown> = {}) => ({
    transactionSource: 'raise-sync',
    transactionId,
    contact: { referenceId: '10001', email: 'ada@example.org', firstname: 'Ada', lastname: 'L' },
    giftDate: '2026-01-02T10:00:00.000Z',
    amount: 25,
    currencyCode: 'USD',
    ...overrides,
  });

  beforeAll(async () => {
    sim = await startSimulator();
    api = `${sim.crmUrl}/api`;
  });

  beforeEach(() => {
    sim.destinations.createAccount({ kind: 'crm-plus', id: 'crm', token, hourlyLimit: 1000 });
  });

  afterEach(() => {
    sim.destinations.removeAccount('crm');
  });

  afterAll(() => sim.stop());

  it('answers 401 in plain text without a valid bearer token', async () => {
    for (const bad of [undefined, 'nope']) {
      const response = await call<string>(`${api}/Contact/Find?email=a@example.org`, {
        token: bad,
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toContain('text/plain');
      expect(response.body).toBe('Authorization has been denied for this request.');
    }
  });

  it('upserts contacts by email (case-insensitive) and finds them by email or reference', async () => {
    const first = await call<{ contactId: number; created: boolean }>(
      `${api}/Contact/Transaction`,
      {
        token,
        body: {
          referenceSource: 'raise',
          referenceId: '10001',
          firstName: 'Ada',
          lastName: 'Lovelace',
          email: 'Ada@Example.org',
          tags: 'donor; vip',
          emailLists: ['news'],
        },
      },
    );
    expect(first.status).toBe(200);
    expect(first.body.created).toBe(true);
    const again = await call<{ contactId: number; created: boolean }>(
      `${api}/Contact/Transaction`,
      {
        token,
        body: { referenceSource: 'raise', referenceId: 10001, email: 'ada@example.org', tags: 'x' },
      },
    );
    expect(again.body).toEqual({ contactId: first.body.contactId, created: false });

    const byEmail = await call<CrmContact>(`${api}/Contact/Find?email=ADA%40example.org`, {
      token,
    });
    expect(byEmail.status).toBe(200);
    expect(byEmail.body).toMatchObject({
      id: first.body.contactId,
      email: 'ada@example.org',
      firstName: 'Ada',
      lastName: 'Lovelace',
      referenceSource: 'raise',
      referenceId: '10001',
      tags: ['donor', 'vip', 'x'],
    });
    const byReference = await call<CrmContact>(
      `${api}/Contact/Find?referenceSource=raise&referenceId=10001`,
      { token },
    );
    expect(byReference.body.id).toBe(first.body.contactId);
    const missing = await call<CrmError>(`${api}/Contact/Find?email=none@example.org`, { token });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    expect(sim.destinations.crmContacts('crm')).toHaveLength(1);
  });

  it('rejects a contact without email with 422 VALIDATION_FAILED on field email', async () => {
    const response = await call<CrmError>(`${api}/Contact/Transaction`, {
      token,
      body: { referenceSource: 'raise', referenceId: '1', firstName: 'No' },
    });
    expect(response.status).toBe(422);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
    expect(response.body.error.details).toEqual([
      expect.objectContaining({ field: 'email', code: 'REQUIRED' }),
    ]);
  });

  it('keeps one gift per (transactionSource, transactionId), updating it on repeats', async () => {
    const first = await call<{ giftId: number; contactId: number; created: boolean }>(
      `${api}/v2/Gift/Transaction`,
      { token, body: gift('g-1', { notes: 'first', giftType: 'Credit' }) },
    );
    expect(first.status).toBe(200);
    expect(first.body.created).toBe(true);
    // A cancellation re-sends the transaction; fields it leaves out keep their value.
    const second = await call<{ giftId: number; created: boolean }>(`${api}/v2/Gift/Transaction`, {
      token,
      body: gift('g-1', { amount: 30, cancelDate: '2026-01-03T00:00:00Z' }),
    });
    expect(second.body).toMatchObject({ giftId: first.body.giftId, created: false });
    const gifts = sim.destinations.crmGifts('crm');
    expect(gifts).toHaveLength(1);
    expect(gifts[0]).toMatchObject({
      amount: 30,
      writes: 2,
      cancelDate: '2026-01-03T00:00:00Z',
      notes: 'first',
      giftType: 'Credit',
    });
    const contact = await call<CrmContact>(`${api}/Contact/${first.body.contactId}`, { token });
    expect(contact.body).toMatchObject({ email: 'ada@example.org', firstName: 'Ada' });
    expect((await call(`${api}/Contact/1`, { token })).status).toBe(404);
    // The gift created its contact, found by email afterwards.
    expect(sim.destinations.crmContacts('crm')[0]!.id).toBe(first.body.contactId);

    const found = await call<CrmGift>(
      `${api}/v2/Gift/Transaction?transactionSource=raise-sync&transactionId=g-1`,
      { token },
    );
    expect(found.body).toMatchObject({
      id: first.body.giftId,
      contactId: first.body.contactId,
      amount: 30,
      currencyCode: 'USD',
    });
    const unknown = await call(
      `${api}/v2/Gift/Transaction?transactionSource=raise-sync&transactionId=g-2`,
      { token },
    );
    expect(unknown.status).toBe(404);
  });

  it('validates gifts: contact.email, positive amounts (except reversals), currency', async () => {
    const noEmail = await call<CrmError>(`${api}/v2/Gift/Transaction`, {
      token,
      body: gift('g-1', { contact: { firstname: 'x' } }),
    });
    expect(noEmail.status).toBe(422);
    expect(noEmail.body.error.details!.map((d) => d.field)).toEqual(['contact.email']);
    const negative = await call<CrmError>(`${api}/v2/Gift/Transaction`, {
      token,
      body: gift('g-1', { amount: -5, currencyCode: 'dollars' }),
    });
    expect(negative.body.error.details!.map((d) => [d.field, d.code])).toEqual([
      ['amount', 'MUST_BE_POSITIVE'],
      ['currencyCode', 'INVALID_FORMAT'],
    ]);
    const reversal = await call(`${api}/v2/Gift/Transaction`, {
      token,
      body: gift('g-1-rev', { amount: -5, giftType: 'ReversingTransaction' }),
    });
    expect(reversal.status).toBe(200);
  });

  it('does not support DELETE on gifts (405)', async () => {
    const response = await call<CrmError>(`${api}/v2/Gift/Transaction`, {
      token,
      method: 'DELETE',
    });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST, GET');
  });

  it('sends the hourly limit headers and answers 429 with Retry-After past the limit', async () => {
    sim.destinations.removeAccount('crm');
    sim.destinations.createAccount({ kind: 'crm-plus', id: 'crm', token, hourlyLimit: 2 });
    const url = `${api}/Contact/Find?email=a@example.org`;
    const first = await call(url, { token });
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    const reset = Number(first.headers.get('x-ratelimit-reset'));
    expect(reset).toBeGreaterThan(Date.now() / 1000 + 3500);
    expect((await call(url, { token })).headers.get('x-ratelimit-remaining')).toBe('0');
    const limited = await call<CrmError>(url, { token });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(3500);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(sim.destinations.destinationStats('crm').rateLimited).toBe(1);
    // reset() starts a new window.
    sim.destinations.reset('crm');
    expect((await call(url, { token })).headers.get('x-ratelimit-remaining')).toBe('1');
  });

  it('starts a new window after hourlyWindowMs when the account has a short one', async () => {
    sim.destinations.removeAccount('crm');
    sim.destinations.createAccount({
      kind: 'crm-plus',
      id: 'crm',
      token,
      hourlyLimit: 1,
      hourlyWindowMs: 300,
    });
    const url = `${api}/Contact/Find?email=a@example.org`;
    expect((await call(url, { token })).headers.get('x-ratelimit-remaining')).toBe('0');
    const limited = await call(url, { token });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('x-ratelimit-reset'))).toBeLessThanOrEqual(
      Math.ceil((Date.now() + 300) / 1000),
    );
    await new Promise((r) => setTimeout(r, 320));
    const next = await call(url, { token });
    expect(next.status).not.toBe(429);
    expect(next.headers.get('x-ratelimit-remaining')).toBe('0');
  });

  it('answers every request with a forced status, and one record with statusFor', async () => {
    sim.destinations.setDestinationFaults('crm', { status: 503 });
    const down = await call<CrmError>(`${api}/v2/Gift/Transaction`, { token, body: gift('g-1') });
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    sim.destinations.setDestinationFaults('crm', { status: 429, retryAfterSeconds: 3600 });
    const paced = await call(`${api}/v2/Gift/Transaction`, { token, body: gift('g-1') });
    expect(paced.status).toBe(429);
    expect(paced.headers.get('retry-after')).toBe('3600');
    expect(down.body.error.code).toBe('SERVICE_UNAVAILABLE');

    sim.destinations.setDestinationFaults('crm', { statusFor: { 'G-BAD': 422 } });
    const bad = await call<CrmError>(`${api}/v2/Gift/Transaction`, { token, body: gift('g-bad') });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [{ field: 'transactionId', code: 'REJECTED' }],
    });
    const good = await call(`${api}/v2/Gift/Transaction`, { token, body: gift('g-good') });
    expect(good.status).toBe(200);
    sim.destinations.clearDestinationFaults('crm');
    const retried = await call(`${api}/v2/Gift/Transaction`, { token, body: gift('g-bad') });
    expect(retried.status).toBe(200);
    expect(sim.destinations.crmGifts('crm').map((g) => g.transactionId)).toEqual([
      'g-good',
      'g-bad',
    ]);
  });
});

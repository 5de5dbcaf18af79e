import { DestinationUnavailableError, NeedsSourceFixError } from '@raise-sync/shared';
import {
  DESTINATION_ID,
  OTHER_CUSTOMER_ID,
  type FakeDestination,
  type FakeResponse,
  type RecordedRequest,
  contextFor,
  deleteEvent,
  startFakeDestination,
  upsertEvent,
} from '../../test/fixtures';
import { CrmPlusAdapter, emailOfContact } from './crm-plus.adapter';

const TOKEN = 'crm-token-abcdef123456';
const NOW_MS = Date.UTC(2026, 10, 20, 12, 0, 0);
const RESET_S = NOW_MS / 1000 + 1800;

describe(CrmPlusAdapter.name, () => {
  let server: FakeDestination;
  let remaining: number;
  const adapter = () => new CrmPlusAdapter({ now: () => NOW_MS });
  const ctx = (config: Record<string, unknown> = {}, customerId?: string) =>
    contextFor(
      'crm-plus',
      { baseUrl: server.url, ...config },
      { token: TOKEN },
      customerId ? { customerId } : {},
    );
  const rateHeaders = (): Record<string, string> => ({
    'x-ratelimit-limit': '5000',
    'x-ratelimit-remaining': String(remaining),
    'x-ratelimit-reset': String(RESET_S),
  });
  /** A small CRM+: contacts and gifts keyed like the real one. */
  const crm = (request: RecordedRequest): FakeResponse => {
    remaining -= 1;
    const path = request.url.split('?')[0];
    if (request.method === 'POST' && path === '/api/Contact/Transaction') {
      return { status: 200, headers: rateHeaders(), body: { contactId: 201, created: true } };
    }
    if (request.method === 'POST' && path === '/api/v2/Gift/Transaction') {
      return {
        status: 200,
        headers: rateHeaders(),
        body: { giftId: 5001, contactId: 201, created: true },
      };
    }
    return {
      status: 404,
      headers: rateHeaders(),
      body: { error: { code: 'NOT_FOUND', message: 'nope' } },
    };
  };

  beforeEach(async () => {
    remaining = 5000;
    server = await startFakeDestination(crm);
  });
  afterEach(async () => {
    await server.close();
  });

  it('takes donors, gifts and VOMO users, not recurring gifts or campaigns', () => {
    const crmPlus = adapter();
    const context = contextFor('crm-plus', {});
    expect(['donor', 'gift', 'user'].every((r) => crmPlus.accepts(r as 'donor', context))).toBe(
      true,
    );
    expect(crmPlus.accepts('recurring_gift', context)).toBe(false);
    expect(crmPlus.accepts('campaign', context)).toBe(false);
    expect(crmPlus.accepts('user', contextFor('crm-plus', { includeVolunteers: false }))).toBe(
      false,
    );
  });

  it('posts a donor as a contact transaction and returns the contact id', async () => {
    const results = await adapter().deliver(ctx(), [upsertEvent('donor')]);
    expect(results).toEqual([{ outcome: 'delivered', destinationRecordId: '201' }]);
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/api/Contact/Transaction');
    expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request?.json()).toMatchObject({
      referenceSource: 'raise',
      referenceId: '48213',
      email: 'ada@example.org',
    });
  });

  it('rejects a donor without email without calling CRM+, and skips test-mode donors', async () => {
    const results = await adapter().deliver(ctx(), [
      upsertEvent('donor', { id: '1', email: null }),
      upsertEvent('donor', { id: '2', isTestMode: true }),
    ]);
    expect(results[0]).toBeInstanceOf(NeedsSourceFixError);
    expect(results[0]).toMatchObject({ problem: 'contact_without_email', waitingFor: 'donor:1' });
    expect(results[1]).toEqual({ outcome: 'skipped', reason: 'test-mode donor' });
    expect(server.requests).toHaveLength(0);
  });

  it('names test-mode records and untaken resources in advance (what reconciliation asks)', () => {
    const crmPlus = adapter();
    expect(crmPlus.intentionalSkip(ctx(), upsertEvent('donor', { isTestMode: true }))).toBe(
      'test-mode donor',
    );
    expect(crmPlus.intentionalSkip(ctx(), upsertEvent('gift', { isTestMode: true }))).toBe(
      'test-mode gift',
    );
    expect(
      crmPlus.intentionalSkip(
        ctx({ includeTestMode: true }),
        upsertEvent('donor', { isTestMode: true }),
      ),
    ).toBeNull();
    // A donor without email is not skipped on purpose: CRM+ refuses it (a dead letter to fix).
    expect(crmPlus.intentionalSkip(ctx(), upsertEvent('donor', { email: null }))).toBeNull();
    expect(crmPlus.intentionalSkip(ctx(), upsertEvent('campaign'))).toBe(
      'CRM+ does not take campaign records',
    );
  });

  it('posts a refunded gift, then its reversing transaction', async () => {
    const results = await adapter().deliver(ctx(), [
      upsertEvent('gift', { statusText: 'Refunded' }),
    ]);
    expect(results).toEqual([{ outcome: 'delivered', destinationRecordId: '5001' }]);
    expect(
      server.requests.map((r) => (r.json() as { transactionId: string }).transactionId),
    ).toEqual(['900113', '900113-refund']);
    expect(server.requests[1]?.json()).toMatchObject({
      giftType: 'ReversingTransaction',
      amount: -125.5,
    });
  });

  it('cancels a deleted gift by re-sending it with cancelDate', async () => {
    server.respond((request) => {
      if (request.method === 'GET' && request.url.startsWith('/api/v2/Gift/Transaction?')) {
        return {
          status: 200,
          body: {
            id: 5001,
            contactId: 201,
            amount: 125.5,
            currencyCode: 'USD',
            giftDate: '2026-11-20T09:12:00',
            cancelDate: null,
          },
        };
      }
      if (request.method === 'GET' && request.url === '/api/Contact/201') {
        return {
          status: 200,
          body: {
            id: 201,
            contactIndividuals: [
              {
                contactMethods: [{ type: 'Home Email', value: 'ada@example.org', isPrimary: true }],
              },
            ],
          },
        };
      }
      return crm(request);
    });
    const deletedAt = new Date('2026-11-21T10:00:00.000Z');
    const results = await adapter().deliver(ctx(), [
      deleteEvent('gift', '900113', { modifiedAt: deletedAt }),
    ]);
    expect(results).toEqual([{ outcome: 'delivered', destinationRecordId: '5001' }]);
    expect(server.requests.map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual([
      'GET /api/v2/Gift/Transaction',
      'GET /api/Contact/201',
      'POST /api/v2/Gift/Transaction',
    ]);
    expect(server.requests[0]?.url).toBe(
      '/api/v2/Gift/Transaction?transactionSource=raise&transactionId=900113',
    );
    expect(server.requests[2]?.json()).toEqual({
      transactionSource: 'raise',
      transactionId: '900113',
      contact: { email: 'ada@example.org' },
      giftDate: '2026-11-20T09:12:00',
      amount: 125.5,
      currencyCode: 'USD',
      cancelDate: '2026-11-21T10:00:00.000Z',
    });
  });

  it('skips a deleted gift CRM+ never had, and does not delete contacts', async () => {
    const results = await adapter().deliver(ctx(), [
      deleteEvent('gift', '1'),
      deleteEvent('donor', '2'),
    ]);
    expect(results[0]).toMatchObject({ outcome: 'skipped' });
    expect(results[1]).toMatchObject({
      outcome: 'skipped',
      reason: expect.stringContaining('never deleted') as string,
    });
  });

  it('keeps the last requests of the hourly budget: fails fast below the reserve until the reset', async () => {
    remaining = 52;
    const crmPlus = adapter();
    const events = ['1', '2', '3', '4'].map((id) => upsertEvent('donor', { id }));
    const results = await crmPlus.deliver(ctx({ reserve: 50 }), events);
    // 52 → 51 → 50: the last 50 are kept, so the third and fourth are refused locally, never sent.
    expect(server.requests).toHaveLength(2);
    expect(results.slice(0, 2).every((r) => !(r instanceof Error))).toBe(true);
    const refused = results[2] as DestinationUnavailableError;
    expect(refused).toBeInstanceOf(DestinationUnavailableError);
    expect(refused.pacing).toBe(true);
    expect(refused.message).toMatch(/budget nearly spent \(50 left, reserve 50\)/);
    expect(results[3]).toBeInstanceOf(DestinationUnavailableError);
    expect(refused.retryAfterMs).toBe(1_800_000);

    // The same destination stays blocked; another customer's CRM+ is not affected.
    await expect(crmPlus.deliver(ctx(), [upsertEvent('donor')])).resolves.toEqual([
      expect.any(DestinationUnavailableError),
    ]);
    await expect(
      crmPlus.deliver(ctx({}, OTHER_CUSTOMER_ID), [upsertEvent('donor')]),
    ).resolves.toEqual([{ outcome: 'delivered', destinationRecordId: '201' }]);
    expect(
      crmPlus.budgetOf({ customerId: OTHER_CUSTOMER_ID, destinationId: DESTINATION_ID })?.remaining,
    ).toBe(49);
  });

  it('resumes after the budget window reset', async () => {
    remaining = 10;
    let now = NOW_MS;
    const crmPlus = new CrmPlusAdapter({ now: () => now });
    await crmPlus.deliver(ctx(), [upsertEvent('donor')]);
    await expect(crmPlus.deliver(ctx(), [upsertEvent('donor')])).resolves.toEqual([
      expect.any(DestinationUnavailableError),
    ]);
    now = RESET_S * 1000 + 1;
    remaining = 5000;
    await expect(crmPlus.deliver(ctx(), [upsertEvent('donor')])).resolves.toEqual([
      { outcome: 'delivered', destinationRecordId: '201' },
    ]);
  });

  it('turns 429 into unavailable with retryAfterMs and pauses the destination', async () => {
    server.respond(() => ({
      status: 429,
      headers: { 'retry-after': '60' },
      body: { error: { code: 'RATE_LIMITED', message: 'slow down' } },
    }));
    const crmPlus = adapter();
    const [result] = await crmPlus.deliver(ctx(), [upsertEvent('donor')]);
    expect(result).toBeInstanceOf(DestinationUnavailableError);
    expect((result as DestinationUnavailableError).retryAfterMs).toBe(60_000);
    await crmPlus.deliver(ctx(), [upsertEvent('donor')]);
    expect(server.requests).toHaveLength(1);
  });

  it('reports a missing token or base URL as a retriable configuration problem', async () => {
    const [noToken] = await adapter().deliver(contextFor('crm-plus', { baseUrl: server.url }, {}), [
      upsertEvent('donor'),
    ]);
    expect(noToken).toBeInstanceOf(DestinationUnavailableError);
    expect((noToken as Error).message).toMatch(/secret "token" is missing/);
    await expect(adapter().health(contextFor('crm-plus', {}, { token: TOKEN }))).rejects.toThrow(
      /baseUrl is required/,
    );
  });

  it('looks contacts up by reference and gifts by transaction', async () => {
    server.respond((request) =>
      request.url.startsWith('/api/Contact/Find?')
        ? { status: 200, body: { id: 201, email: 'ada@example.org' } }
        : { status: 200, body: { id: 5001, cancelDate: '2026-11-21T00:00:00Z' } },
    );
    await expect(adapter().lookup(ctx(), 'donor', '48213')).resolves.toEqual({
      exists: true,
      deleted: false,
      destinationRecordId: '201',
    });
    expect(server.requests[0]?.url).toBe(
      '/api/Contact/Find?referenceSource=raise&referenceId=48213',
    );
    await expect(adapter().lookup(ctx(), 'gift', '900113')).resolves.toEqual({
      exists: true,
      deleted: true,
      destinationRecordId: '5001',
    });
    server.respond(() => ({ status: 404, body: {} }));
    await expect(adapter().lookup(ctx(), 'user', '8205')).resolves.toEqual({ exists: false });
  });

  it('finds a contact email in flat and full contact shapes', () => {
    expect(emailOfContact({ email: 'a@example.org' })).toBe('a@example.org');
    expect(
      emailOfContact({
        contactIndividuals: [
          {
            contactMethods: [
              { type: 'Home Phone', value: '555' },
              { type: 'Work Email', value: 'w@example.org' },
              { type: 'Home Email', value: 'h@example.org', isPrimary: true },
            ],
          },
        ],
      }),
    ).toBe('h@example.org');
    expect(emailOfContact({ id: 1 })).toBeUndefined();
  });
});

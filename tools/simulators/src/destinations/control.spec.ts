import { call } from '../../test/helpers';
import { connectSimulator } from '../client';
import { SimulatorError } from '../errors';
import { startSimulator } from '../simulator';
import type { Simulator } from '../types';
import { statusForMatch, validateDestinationFaults } from './faults';
import { HOOK_SIGNATURE_HEADER, HOOK_TIMESTAMP_HEADER, signHook } from './hooks-api';
import { subscriberHash } from './marketing-api';

describe(validateDestinationFaults.name, () => {
  it('accepts the shared fields plus status and statusFor, lower-casing statusFor keys', () => {
    expect(
      validateDestinationFaults({
        latencyMs: 5,
        errorRate: 0.1,
        rateLimit: { requestsPerSecond: 2, burst: 4 },
        status: 503,
        statusFor: { 'Ada@Example.org': 422 },
      }),
    ).toEqual({
      latencyMs: 5,
      errorRate: 0.1,
      rateLimit: { requestsPerSecond: 2, burst: 4 },
      status: 503,
      statusFor: { 'ada@example.org': 422 },
    });
  });

  it('names the offending field', () => {
    expect(() => validateDestinationFaults({ status: 200 })).toThrow('status');
    expect(() => validateDestinationFaults({ statusFor: { x: 'nope' } })).toThrow("statusFor['x']");
    expect(() => validateDestinationFaults({ dropWebhookRate: 0.5 })).toThrow('dropWebhookRate');
    expect(() => validateDestinationFaults({ errorRate: 2 })).toThrow('errorRate');
    expect(() => validateDestinationFaults({ retryAfterSeconds: -1 })).toThrow('retryAfterSeconds');
    expect(validateDestinationFaults({ status: 429, retryAfterSeconds: 60 })).toEqual({
      status: 429,
      retryAfterSeconds: 60,
    });
  });

  it('matches the first candidate key, ignoring case and non-scalar values', () => {
    const statusFor = { 'g-1': 422, 'ada@example.org': 409 };
    expect(
      statusForMatch(statusFor, [
        ['contact', { email: 'x' }],
        ['email', 'ADA@example.org'],
        ['transactionId', 'g-1'],
      ]),
    ).toEqual({ status: 409, field: 'email', key: 'ADA@example.org' });
    expect(statusForMatch(statusFor, [['transactionId', 'constructor']])).toBeUndefined();
    expect(statusForMatch(undefined, [['transactionId', 'g-1']])).toBeUndefined();
  });
});

/** The status of the SimulatorError `run` throws, or undefined when it does not throw. */
function statusOf(run: () => unknown): number | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof SimulatorError ? error.status : -1;
  }
  return undefined;
}

describe('destination control', () => {
  let sim: Simulator;

  beforeAll(async () => {
    sim = await startSimulator();
  });

  afterAll(() => sim.stop());

  it('creates accounts with defaults and refuses taken ids, taken tokens and bad input', () => {
    const crm = sim.destinations.createAccount({ kind: 'crm-plus', id: 'c1' });
    expect(crm).toEqual({
      id: 'c1',
      kind: 'crm-plus',
      url: sim.crmUrl,
      token: 'c1-token',
      secret: null,
      listId: null,
      hourlyLimit: 5000,
    });
    const hook = sim.destinations.createAccount({ kind: 'webhook', id: 'h1' });
    expect(hook).toMatchObject({ url: `${sim.hooksUrl}/h1`, token: null, secret: 'h1-secret' });
    expect(statusOf(() => sim.destinations.createAccount({ kind: 'accounting', id: 'c1' }))).toBe(
      409,
    );
    expect(
      statusOf(() =>
        sim.destinations.createAccount({ kind: 'accounting', id: 'a1', token: 'c1-token' }),
      ),
    ).toBe(409);
    expect(
      statusOf(() => sim.destinations.createAccount({ kind: 'warehouse' as 'crm-plus', id: 'w1' })),
    ).toBe(400);
    expect(() => sim.destinations.invoices('c1')).toThrow('not accounting');
    expect(statusOf(() => sim.destinations.crmGifts('missing'))).toBe(404);
    sim.destinations.removeAccount('c1');
    sim.destinations.removeAccount('h1');
    expect(sim.destinations.listAccounts()).toEqual([]);
  });

  it('keeps accounts apart: data, tokens, rate budgets and faults', async () => {
    sim.destinations.createAccount({ kind: 'crm-plus', id: 'one', token: 't1', hourlyLimit: 1 });
    sim.destinations.createAccount({ kind: 'crm-plus', id: 'two', token: 't2', hourlyLimit: 5 });
    sim.destinations.createAccount({ kind: 'marketing', id: 'mc', token: 't3' });
    try {
      const body = {
        referenceSource: 'raise',
        referenceId: '1',
        email: 'ada@example.org',
      };
      const url = `${sim.crmUrl}/api/Contact/Transaction`;
      expect((await call(url, { token: 't1', body })).status).toBe(200);
      // 'one' spent its hourly budget; 'two' has its own.
      expect((await call(url, { token: 't1', body })).status).toBe(429);
      expect((await call(url, { token: 't2', body })).status).toBe(200);
      // A marketing token is no CRM+ token.
      expect((await call(url, { token: 't3', body })).status).toBe(401);
      sim.destinations.setDestinationFaults('two', { status: 500 });
      expect((await call(`${sim.marketingUrl}/ping`, { token: 't3' })).status).toBe(200);
      expect(sim.destinations.crmContacts('one')).toHaveLength(1);
      expect(sim.destinations.crmContacts('two')).toHaveLength(1);
      expect(sim.destinations.destinationStats('one').requests.byStatus).toEqual({
        '200': 1,
        '429': 1,
      });
      expect(sim.destinations.destinationStats('two').requests.byRoute).toEqual({
        'POST /api/Contact/Transaction': 1,
      });
      sim.destinations.reset('one');
      expect(sim.destinations.crmContacts('one')).toEqual([]);
      expect(sim.destinations.destinationStats('one').requests.total).toBe(0);
    } finally {
      sim.destinations.clearDestinationFaults('two');
      for (const id of ['one', 'two', 'mc']) {
        sim.destinations.removeAccount(id);
      }
    }
  });

  it('applies a wildcard fault to every account unless the account overrides it', async () => {
    sim.destinations.createAccount({ kind: 'marketing', id: 'm1', token: 'm1' });
    sim.destinations.createAccount({ kind: 'marketing', id: 'm2', token: 'm2' });
    try {
      sim.destinations.setDestinationFaults('*', { status: 503 });
      sim.destinations.setDestinationFaults('m2', { latencyMs: 0 });
      expect(sim.destinations.getDestinationFaults()).toEqual({
        '*': { status: 503 },
        m2: { latencyMs: 0 },
      });
      expect((await call(`${sim.marketingUrl}/ping`, { token: 'm1' })).status).toBe(503);
      expect((await call(`${sim.marketingUrl}/ping`, { token: 'm2' })).status).toBe(503);
      sim.destinations.setDestinationFaults('m2', { status: 404 });
      expect((await call(`${sim.marketingUrl}/ping`, { token: 'm2' })).status).toBe(404);
    } finally {
      sim.destinations.clearDestinationFaults('*');
      sim.destinations.removeAccount('m1');
      sim.destinations.removeAccount('m2');
    }
    expect(sim.destinations.getDestinationFaults()).toEqual({});
  });

  it('offers every operation over HTTP through connectSimulator().destinations', async () => {
    const remote = connectSimulator(sim.url).destinations;
    const crm = await remote.createAccount({ kind: 'crm-plus', id: 'r-crm', token: 'rc' });
    const ledger = await remote.createAccount({ kind: 'accounting', id: 'r-acc', token: 'ra' });
    const mc = await remote.createAccount({ kind: 'marketing', id: 'r-mc', token: 'rm' });
    const hook = await remote.createAccount({ kind: 'webhook', id: 'r-hook', secret: 's' });
    expect((await remote.listAccounts()).map((a) => a.id)).toEqual([
      'r-crm',
      'r-acc',
      'r-mc',
      'r-hook',
    ]);

    await call(`${crm.url}/api/v2/Gift/Transaction`, {
      token: 'rc',
      body: {
        transactionSource: 's',
        transactionId: 't',
        contact: { email: 'ada@example.org' },
        giftDate: '2026-01-01',
        amount: 1,
        currencyCode: 'USD',
      },
    });
    expect(await remote.crmGifts('r-crm')).toHaveLength(1);
    expect(await remote.crmContacts('r-crm')).toHaveLength(1);

    const invoice = await call<{ id: string }>(`${ledger.url}/invoices`, {
      token: 'ra',
      headers: { 'idempotency-key': 'k1' },
      body: {
        reference: 'r1',
        contact: { name: 'Ada' },
        currency: 'USD',
        issueDate: '2026-01-01',
        lines: [{ description: 'gift', amountMinor: 100 }],
      },
    });
    await call(`${ledger.url}/credit-notes`, {
      token: 'ra',
      headers: { 'idempotency-key': 'k2' },
      body: {
        invoiceId: invoice.body.id,
        reference: 'r1-refund',
        amountMinor: 100,
        currency: 'USD',
      },
    });
    expect((await remote.invoices('r-acc')).map((i) => i.reference)).toEqual(['r1']);
    expect((await remote.creditNotes('r-acc')).map((n) => n.reference)).toEqual(['r1-refund']);
    expect((await remote.accountingLog('r-acc')).map((e) => e.op)).toEqual([
      'invoice',
      'credit-note',
    ]);

    const email = 'ada@example.org';
    await call(`${mc.url}/lists/${mc.listId}/members/${subscriberHash(email)}`, {
      token: 'rm',
      method: 'PUT',
      body: { email_address: email, status_if_new: 'subscribed' },
    });
    expect((await remote.members('r-mc')).map((m) => m.status)).toEqual(['subscribed']);

    const raw = JSON.stringify({ recordId: 'x' });
    for (let i = 0; i < 2; i++) {
      await call(hook.url, {
        raw,
        headers: {
          [HOOK_TIMESTAMP_HEADER]: '1',
          [HOOK_SIGNATURE_HEADER]: signHook('s', '1', raw),
          'idempotency-key': 'same',
        },
      });
    }
    expect(await remote.hookDeliveries('r-hook')).toHaveLength(1);
    expect(await remote.hookDuplicates('r-hook')).toHaveLength(1);

    await remote.setDestinationFaults('r-crm', { statusFor: { T: 422 } });
    expect(await remote.getDestinationFaults()).toEqual({ 'r-crm': { statusFor: { t: 422 } } });
    await expect(remote.setDestinationFaults('r-crm', { status: 99 })).rejects.toMatchObject({
      status: 400,
    });
    await remote.clearDestinationFaults('r-crm');
    expect(await remote.getDestinationFaults()).toEqual({});

    expect((await remote.destinationStats('r-hook')).requests.byStatus).toEqual({ '200': 2 });
    await remote.reset('r-hook');
    expect(await remote.hookDeliveries('r-hook')).toEqual([]);
    await expect(remote.invoices('r-crm')).rejects.toMatchObject({ status: 400 });
    for (const id of ['r-crm', 'r-acc', 'r-mc', 'r-hook']) {
      await remote.removeAccount(id);
    }
    await expect(remote.crmGifts('r-crm')).rejects.toBeInstanceOf(SimulatorError);
  });
});

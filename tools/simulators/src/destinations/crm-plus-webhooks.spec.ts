import { call, startReceiver, type Receiver } from '../../test/helpers';
import { connectSimulator } from '../client';
import { startSimulator } from '../simulator';
import type { Simulator } from '../types';
import { CRM_WEBHOOK_SIGNATURE_HEADER, signCrmWebhook } from './crm-plus-webhooks';

describe('CRM+ simulator webhooks', () => {
  let sim: Simulator;
  let api: string;
  let receiver: Receiver;
  let answer = 200;
  const token = 'crm-hooks-token';

  const giftTransaction = (transactionId: string, amount = 25) =>
    call(`${api}/v2/Gift/Transaction`, {
      token,
      body: {
        transactionSource: 'raise',
        transactionId,
        contact: { email: `donor.${transactionId}@example.org`, firstname: 'Ada' },
        giftDate: '2026-03-04T10:00:00.000Z',
        amount,
        currencyCode: 'USD',
      },
    });

  const subscribe = (body: Record<string, unknown>) =>
    call<{ id: number; hasSecret: boolean; toggles: Record<string, boolean> }>(`${api}/Webhook`, {
      token,
      body,
    });

  beforeAll(async () => {
    sim = await startSimulator({ seed: 3 });
    api = `${sim.crmUrl}/api`;
    receiver = await startReceiver(() => answer);
  });

  beforeEach(() => {
    answer = 200;
    receiver.requests.length = 0;
    sim.destinations.createAccount({ kind: 'crm-plus', id: 'crm', token, hourlyLimit: 1000 });
  });

  afterEach(() => sim.destinations.removeAccount('crm'));

  afterAll(async () => {
    await receiver.close();
    await sim.stop();
  });

  it('registers and lists subscriptions without ever showing the secret', async () => {
    const created = await subscribe({
      payloadUrl: receiver.url,
      secret: 's3cret',
      giftCreate: true,
      contactCreate: true,
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      id: 1,
      hasSecret: true,
      toggles: { giftCreate: true, contactCreate: true, giftUpdate: false },
    });
    const listed = await call<unknown[]>(`${api}/Webhook`, { token });
    expect(listed.body).toEqual([created.body]);
    expect(JSON.stringify(listed.body)).not.toContain('s3cret');
    expect(sim.destinations.crmWebhooks('crm')).toEqual([created.body]);

    const bad = await subscribe({ payloadUrl: 'ftp://x', giftCreate: 'yes' });
    expect(bad.status).toBe(422);
    const deleted = await call(`${api}/Webhook/1`, { token, method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(sim.destinations.crmWebhooks('crm')).toEqual([]);
  });

  it('delivers signed GiftCreate, GiftUpdate and ContactCreate events to matching subscriptions', async () => {
    await subscribe({
      payloadUrl: receiver.url,
      secret: 's3cret',
      giftCreate: true,
      giftUpdate: true,
      contactCreate: true,
    });
    // A second subscription that only wants contacts.
    await subscribe({ payloadUrl: `${receiver.url}/contacts-only`, contactCreate: true });

    const first = await giftTransaction('1000001', 25);
    expect(first.status).toBe(200);
    await giftTransaction('1000001', 30);
    await sim.destinations.flushCrmWebhooks();

    const events = receiver.requests.map((r) => [r.path, (r.json as { event: string }).event]);
    expect(events).toEqual(
      expect.arrayContaining([
        ['/hooks', 'ContactCreate'],
        ['/hooks', 'GiftCreate'],
        ['/hooks', 'GiftUpdate'],
        ['/hooks/contacts-only', 'ContactCreate'],
      ]),
    );
    expect(events).toHaveLength(4);
    const signatures = receiver.requests.map((r) => [
      r.path,
      r.headers[CRM_WEBHOOK_SIGNATURE_HEADER] ===
        (r.path === '/hooks' ? signCrmWebhook('s3cret', r.raw) : undefined),
    ]);
    expect(signatures.every(([, ok]) => ok === true)).toBe(true);
    const created = receiver.requests.find(
      (r) => (r.json as { event: string }).event === 'GiftCreate',
    )!.json as { gift: Record<string, unknown> };
    expect(created.gift).toMatchObject({
      id: first.body.giftId,
      transactionSource: 'raise',
      transactionId: '1000001',
      amount: 25,
      giftDateFormatted: '3/4/2026',
    });
    expect(created.gift).not.toHaveProperty('writes');
  });

  it('retries a failing receiver and logs every attempt', async () => {
    await subscribe({ payloadUrl: receiver.url, secret: 'k', giftCreate: true });
    answer = 500;
    await giftTransaction('1000002');
    await sim.destinations.flushCrmWebhooks();
    const attempts = sim.destinations.crmWebhookAttempts('crm');
    expect(attempts.map((a) => [a.event, a.attempt, a.status])).toEqual([
      ['GiftCreate', 1, 500],
      ['GiftCreate', 2, 500],
      ['GiftCreate', 3, 500],
    ]);
  });

  it('withholds deliveries named by key, or a share of them, and lists what it withheld', async () => {
    await subscribe({ payloadUrl: receiver.url, secret: 'k', giftCreate: true });
    const remote = connectSimulator(sim.url).destinations;
    await remote.setCrmWebhookDrops('crm', { keys: ['1000003'] });
    await giftTransaction('1000003');
    await giftTransaction('1000004');
    await remote.flushCrmWebhooks();
    const delivered = receiver.requests.map(
      (r) => (r.json as { gift: { transactionId: string } }).gift.transactionId,
    );
    expect(delivered).toEqual(['1000004']);
    expect(await remote.crmDroppedWebhooks('crm')).toEqual([
      expect.objectContaining({ event: 'GiftCreate', reference: '1000003', reason: 'key' }),
    ]);

    await expect(remote.setCrmWebhookDrops('crm', { rate: 2 })).rejects.toThrow('rate');
    sim.destinations.setCrmWebhookDrops('crm', { rate: 1 });
    await giftTransaction('1000005');
    await sim.destinations.flushCrmWebhooks();
    expect(receiver.requests).toHaveLength(1);
    expect(sim.destinations.crmDroppedWebhooks('crm').map((d) => d.reason)).toEqual([
      'key',
      'rate',
    ]);
    sim.destinations.setCrmWebhookDrops('crm', {});
    await giftTransaction('1000006');
    await sim.destinations.flushCrmWebhooks();
    expect(receiver.requests).toHaveLength(2);
  });
});

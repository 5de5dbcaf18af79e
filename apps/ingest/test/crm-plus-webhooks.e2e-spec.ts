import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { SecretBox } from '@raise-sync/shared/crypto';
import { CustomerRepository, DestinationRepository, customerScope } from '@raise-sync/shared/state';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { expectEventually, scrapeMetric, useTestStack } from '@raise-sync/testing';
import { onboard, SECRETS_KEY, startIngest, type IngestUnderTest } from './support';

interface ArrivalRow {
  resource: string;
  raise_id: string | null;
  crm_id: string | null;
  raise_seen_at: Date | null;
  crm_seen_at: Date | null;
  crm_event: string | null;
  details: Record<string, unknown>;
}

/**
 * The CRM+ half of the dual-webhook check through the built ingest app: registration at the
 * simulated CRM+, real signed deliveries from it, hand-made deliveries for the refusals, the
 * arrival rows in PostgreSQL and the webhook metric.
 */
describe('ingest: CRM+ webhooks for one-sided arrival detection (simulator, PostgreSQL)', () => {
  const stack = useTestStack();
  let sim: Simulator;
  let ingest: IngestUnderTest;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 23 });
    ingest = await startIngest(stack, sim);
  });

  afterAll(async () => {
    await ingest?.app.stop('SIGTERM');
    await sim?.stop();
  });

  const arrivals = (customerId: string) =>
    stack.dataSource.query<ArrivalRow[]>(
      `SELECT resource, raise_id, crm_id, raise_seen_at, crm_seen_at, crm_event, details
         FROM cross_product_arrivals WHERE customer_id = $1 ORDER BY resource, raise_id`,
      [customerId],
    );

  const post = (customerId: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${ingest.app.url}/webhooks/${customerId}/crm-plus`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });

  const sign = (secret: string, body: string) =>
    createHmac('sha256', secret).update(body).digest('base64');

  const metric = (customerId: string, reason: string) =>
    scrapeMetric(ingest.app.url, 'raise_sync_webhooks_total', {
      customer_id: customerId,
      source: 'crm-plus',
      reason,
    });

  it('registers at CRM+, records both sides of a gift, and refuses what it cannot trust', async () => {
    const customer = await onboard(ingest, sim, `crmhooks-${stack.prefix}`);
    const crmToken = `crm-${randomBytes(6).toString('hex')}`;
    const account = `crm-${stack.prefix}`;
    sim.destinations.createAccount({ kind: 'crm-plus', id: account, token: crmToken });

    // Without a CRM+ destination there is nothing to register with.
    const early = await ingest.admin(
      'POST',
      `/admin/customers/${customer.id}/sources/crm-plus/webhook`,
      {},
    );
    expect(early.status).toBe(400);

    // Destinations are set on the submitter's admin API, which this test does not run: the row
    // goes straight to the store through its owner, sealed as that API seals it.
    await new DestinationRepository(stack.dataSource).replace(customerScope(customer.id), [
      {
        kind: 'crm-plus',
        name: 'crm',
        config: { baseUrl: sim.crmUrl },
        secrets: SecretBox.fromHex(SECRETS_KEY).sealJson({ token: crmToken }),
        enabled: true,
      },
    ]);
    const registered = await ingest.admin<{ subscriptionId: string; payloadUrl: string }>(
      'POST',
      `/admin/customers/${customer.id}/sources/crm-plus/webhook`,
      {},
    );
    expect(registered.status).toBe(201);
    expect(registered.body.payloadUrl).toBe(`${ingest.app.url}/webhooks/${customer.id}/crm-plus`);
    expect(sim.destinations.crmWebhooks(account)).toEqual([
      expect.objectContaining({
        id: Number(registered.body.subscriptionId),
        payloadUrl: registered.body.payloadUrl,
        hasSecret: true,
        toggles: expect.objectContaining({
          giftCreate: true,
          giftUpdate: true,
          contactCreate: true,
        }) as unknown,
      }),
    ]);
    const again = await ingest.admin(
      'POST',
      `/admin/customers/${customer.id}/sources/crm-plus/webhook`,
      {},
    );
    expect(again.status).toBe(409);
    expect(JSON.stringify(registered.body)).not.toMatch(/secret"?\s*:/i);

    // A Raise gift arrives through Raise's webhook...
    const gift = sim.control.createRecord(customer.org, 'gift', { amount: 42, isTestMode: false });
    await sim.control.flushWebhooks();
    await expectEventually(async () => {
      const [row] = await arrivals(customer.id);
      expect(row).toMatchObject({ resource: 'gift', raise_id: String(gift.id), crm_seen_at: null });
      expect(row!.raise_seen_at).not.toBeNull();
    });

    // ...and its CRM+ counterpart through CRM+'s signed webhook, onto the same row.
    const written = await fetch(`${sim.crmUrl}/api/v2/Gift/Transaction`, {
      method: 'POST',
      headers: { authorization: `Bearer ${crmToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        transactionSource: 'raise',
        transactionId: String(gift.id),
        contact: { email: 'both.sides@example.org', referenceId: '777' },
        amount: 42,
        currencyCode: 'USD',
        giftDate: new Date().toISOString(),
      }),
    });
    expect(written.status).toBe(200);
    const { giftId } = (await written.json()) as { giftId: number };
    await sim.destinations.flushCrmWebhooks();
    // The two deliveries run concurrently, so compare them in a fixed order.
    const attempts = sim.destinations
      .crmWebhookAttempts(account)
      .map((a) => [a.event, a.status])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(attempts).toEqual([
      ['ContactCreate', 200],
      ['GiftCreate', 200],
    ]);
    const rows = await arrivals(customer.id);
    expect(rows.map((r) => [r.resource, r.raise_id, r.crm_id, r.crm_event])).toEqual([
      ['contact', '777', expect.any(String), 'ContactCreate'],
      ['gift', String(gift.id), String(giftId), 'GiftCreate'],
    ]);
    const both = rows.find((r) => r.resource === 'gift')!;
    expect(both.raise_seen_at).not.toBeNull();
    expect(both.crm_seen_at).not.toBeNull();
    expect(both.details).toMatchObject({
      crmAmount: 42,
      isTestMode: false,
      transactionId: String(gift.id),
    });

    // Hand-made deliveries, signed with the secret ingest sealed for this customer.
    const secret = (
      await new CustomerRepository(stack.dataSource, SecretBox.fromHex(SECRETS_KEY)).credentials(
        customerScope(customer.id),
      )
    ).crmPlus!.webhookSecret!;
    const orphan = JSON.stringify({
      event: 'GiftCreate',
      gift: { id: 99, transactionSource: 'raise', transactionId: '7777777', amount: 5 },
    });
    const good = await post(customer.id, orphan, { 'x-virtuous-signature': sign(secret, orphan) });
    expect(good.status).toBe(200);
    const bad = await post(customer.id, orphan, { 'x-virtuous-signature': sign('wrong', orphan) });
    expect(bad.status).toBe(401);
    const missing = await post(customer.id, orphan);
    expect(missing.status).toBe(401);
    const nobody = await post(randomUUID(), orphan, {
      'x-virtuous-signature': sign(secret, orphan),
    });
    expect(nobody.status).toBe(404);
    const broken = '{"event":"GiftCreate",';
    const malformed = await post(customer.id, broken, {
      'x-virtuous-signature': sign(secret, broken),
    });
    expect(malformed.status).toBe(400);
    const native = JSON.stringify({
      event: 'GiftCreate',
      gift: { id: 100, transactionSource: 'check-scanner', transactionId: 'c-1' },
    });
    const skipped = await post(customer.id, native, {
      'x-virtuous-signature': sign(secret, native),
    });
    expect(skipped.status).toBe(200);

    const giftRows = (await arrivals(customer.id)).filter((r) => r.resource === 'gift');
    expect(giftRows.map((r) => [r.raise_id, r.crm_id, r.raise_seen_at === null])).toEqual([
      [String(gift.id), String(giftId), false],
      ['7777777', '99', true],
    ]);

    expect(await metric(customer.id, 'recorded')).toBe(3);
    expect(await metric(customer.id, 'bad_signature')).toBe(1);
    expect(await metric(customer.id, 'missing_signature')).toBe(1);
    expect(await metric(customer.id, 'malformed_json')).toBe(1);
    expect(await metric(customer.id, 'not_from_raise')).toBe(1);
    expect(await metric('unknown', 'unknown_customer')).toBe(1);
    expect(
      await scrapeMetric(ingest.app.url, 'raise_sync_cross_product_arrivals_total', {
        customer_id: customer.id,
        side: 'raise',
        outcome: 'recorded',
      }),
    ).toBe(1);

    // Every refusal is a log line naming the customer; the secret is in none of them.
    const refusals = ingest.app
      .logs()
      .filter((l) => typeof l.msg === 'string' && l.msg.startsWith('CRM+ webhook rejected'));
    expect(refusals.map((l) => [l.customerId, l.reason])).toEqual(
      expect.arrayContaining([
        [customer.id, 'bad_signature'],
        [customer.id, 'missing_signature'],
        [customer.id, 'malformed_json'],
        ['unknown', 'unknown_customer'],
      ]),
    );
    expect(JSON.stringify(ingest.app.logs())).not.toContain(secret);
  });
});

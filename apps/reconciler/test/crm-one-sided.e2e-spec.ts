import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { expectEventually, useTestStack } from '@raise-sync/testing';
import {
  box,
  createCustomer,
  destinationsInStore,
  onboardWithWebhooks,
  reconcile,
  startIngest,
  startReconciler,
  type AppUnderTest,
} from './support';

interface ArrivalRow {
  raise_id: string;
  raise_seen: boolean;
  crm_seen: boolean;
}

interface AlertRow {
  run_id: string;
  title: string;
  details: { records: { total: number; items: Array<Record<string, unknown>> } };
  delivery_status: string;
}

/**
 * Dual-webhook one-sided arrivals end to end: the simulated Raise and CRM+ send their signed
 * webhooks to the built ingest, which records both sides; the built reconciler (lag 0) reports the
 * arrivals only one side confirmed, and alerts ops about the actionable ones.
 */
describe('reconciler: dual-webhook one-sided arrivals (ingest, simulators, PostgreSQL)', () => {
  const stack = useTestStack();
  const topicPrefix = `${stack.prefix}-onesided`;
  let sim: Simulator;
  let ingest: AppUnderTest;
  let reconciler: AppUnderTest;
  const opsReceived: Array<Record<string, unknown>> = [];
  const ops = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      opsReceived.push(JSON.parse(body) as Record<string, unknown>);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });

  beforeAll(async () => {
    await new Promise<void>((done) => ops.listen(0, '127.0.0.1', done));
    const opsUrl = `http://127.0.0.1:${(ops.address() as AddressInfo).port}/alerts`;
    sim = await startSimulator({ seed: 31 });
    [ingest, reconciler] = await Promise.all([
      startIngest(stack, topicPrefix, sim),
      startReconciler(stack, topicPrefix, sim, {
        RECONCILER_CRM_LAG_MINUTES: '0',
        RECONCILER_OPS_WEBHOOK_URL: opsUrl,
        RECONCILER_PAGE_SIZE: '10',
      }),
    ]);
  });

  afterAll(async () => {
    await reconciler?.app.stop();
    await ingest?.app.stop();
    await sim?.stop();
    await new Promise<void>((done) => ops.close(() => done()));
  });

  const arrivals = (customerId: string) =>
    stack.dataSource.query<ArrivalRow[]>(
      `SELECT raise_id, raise_seen_at IS NOT NULL AS raise_seen, crm_seen_at IS NOT NULL AS crm_seen
         FROM cross_product_arrivals WHERE customer_id = $1 AND resource = 'gift'
        ORDER BY raise_id`,
      [customerId],
    );

  it('reports exactly the gifts one product never confirmed, and alerts on the actionable ones', async () => {
    const windowStart = new Date(Date.now() - 1000);
    const org = `onesided-${stack.prefix}`;
    const customer = await onboardWithWebhooks(ingest, destinationsInStore(stack), sim, org, {
      donors: 5,
      gifts: 5,
      campaigns: 2,
      recurringGifts: 0,
    });
    const crmToken = `crm-${randomBytes(6).toString('hex')}`;
    const account = `${org}-crm`;
    sim.destinations.createAccount({ kind: 'crm-plus', id: account, token: crmToken });
    // No submitter runs here (its deliveries would confirm the gifts this test leaves one-sided),
    // so the CRM+ destination goes straight to the store.
    await destinationsInStore(stack)(customer.id, [
      {
        kind: 'crm-plus',
        name: 'crm',
        config: { baseUrl: sim.crmUrl },
        secrets: { token: crmToken },
      },
    ]);
    const hook = await ingest.admin(
      'POST',
      `/admin/customers/${customer.id}/sources/crm-plus/webhook`,
      {},
    );
    expect(hook.status).toBe(201);

    // Raise: gifts on a campaign that syncs to CRM+; one of them in test mode.
    const c = sim.control;
    const campaign = c.updateRecord(org, 'campaign', 101, { canSync: true });
    const onCampaign = { campaignName: campaign.name, isTestMode: false };
    const confirmed = [
      c.createRecord(org, 'gift', { ...onCampaign, amount: 10 }),
      c.createRecord(org, 'gift', { ...onCampaign, amount: 20 }),
    ];
    const testMode = c.createRecord(org, 'gift', { ...onCampaign, isTestMode: true, amount: 5 });
    const neverInCrm = c.createRecord(org, 'gift', { ...onCampaign, amount: 77.5 });
    // One gift whose Raise webhook is lost: CRM+ confirms it, Raise has it; not one-sided.
    c.setFaults(org, { dropWebhookRate: 1 });
    const raiseHookLost = c.createRecord(org, 'gift', { ...onCampaign, amount: 30 });
    c.setFaults(org, {});
    await c.flushWebhooks();
    expect(c.droppedWebhooks(org).map((d) => d.contextId)).toEqual([raiseHookLost.id]);

    // CRM+: the platform's sync carries two of them across, plus the lost-webhook gift; and one
    // CRM+ gift claims to come from a Raise gift that does not exist.
    const transaction = async (transactionId: string, amount: number): Promise<number> => {
      const response = await fetch(`${sim.crmUrl}/api/v2/Gift/Transaction`, {
        method: 'POST',
        headers: { authorization: `Bearer ${crmToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          transactionSource: 'raise',
          transactionId,
          contact: { email: `donor.${transactionId}@example.org` },
          amount,
          currencyCode: 'USD',
          giftDate: new Date().toISOString(),
        }),
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { giftId: number }).giftId;
    };
    for (const gift of [...confirmed, raiseHookLost]) {
      await transaction(String(gift.id), gift.amount);
    }
    const bogusCrmGift = await transaction('9999999', 12);
    await sim.destinations.flushCrmWebhooks();

    const id = (gift: { id: number }) => String(gift.id);
    await expectEventually(async () => {
      expect(await arrivals(customer.id)).toEqual(
        [
          { raise_id: id(confirmed[0]!), raise_seen: true, crm_seen: true },
          { raise_id: id(confirmed[1]!), raise_seen: true, crm_seen: true },
          { raise_id: id(testMode), raise_seen: true, crm_seen: false },
          { raise_id: id(neverInCrm), raise_seen: true, crm_seen: false },
          { raise_id: id(raiseHookLost), raise_seen: false, crm_seen: true },
          { raise_id: '9999999', raise_seen: false, crm_seen: true },
        ].sort((a, b) => a.raise_id.localeCompare(b.raise_id)),
      );
    });

    // Simulated modified times may run a few ms ahead of the clock: let the clock pass them.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const run = await reconcile(reconciler, customer.id, {
      kind: 'crm-consistency',
      windowStart: windowStart.toISOString(),
      windowEnd: new Date().toISOString(),
    });
    expect(run).toMatchObject({ status: 'done', error: null });
    expect(run.counts).toMatchObject({
      one_sided_checked: 4,
      one_sided_only_in_raise: 2,
      one_sided_only_in_crm: 1,
      one_sided_actionable: 2,
      one_sided_confirmed_in_raise: 1,
      one_sided_gone_from_raise: 0,
    });

    const oneSided = run.discrepancies.items.filter((d) => d.state === 'one_sided');
    // Compared as sets (sorted by ID): the run stores them in the order its queries return.
    const byIdOrder = (a: unknown[], b: unknown[]): number =>
      String(a[0]).localeCompare(String(b[0]));
    expect(
      oneSided
        .map((d) => [d.sourceId, d.details.side, d.actionable, d.details.likelyCause])
        .sort(byIdOrder),
    ).toEqual(
      [
        [id(testMode), 'only_in_raise', false, 'test mode'],
        [id(neverInCrm), 'only_in_raise', true, 'CRM+ never confirmed the Raise gift'],
        ['9999999', 'only_in_crm', true, 'CRM+ gift references a Raise gift we never saw'],
      ].sort(byIdOrder),
    );
    const byId = new Map(oneSided.map((d) => [d.sourceId, d.details]));
    expect(byId.get(id(neverInCrm))).toMatchObject({
      raiseGiftId: id(neverInCrm),
      crmGiftId: null,
      amount: 77.5,
      isTestMode: false,
      canSync: true,
      campaign: { name: campaign.name },
    });
    expect(byId.get('9999999')).toMatchObject({
      raiseGiftId: '9999999',
      crmGiftId: String(bogusCrmGift),
      crmAmount: 12,
      isTestMode: null,
    });
    // The lost Raise webhook was filled in from Raise: that row is two-sided now.
    const after = await arrivals(customer.id);
    expect(after.find((a) => a.raise_id === id(raiseHookLost))).toMatchObject({
      raise_seen: true,
      crm_seen: true,
    });

    // One alert for the run: the one-sided lines are exactly the actionable ones.
    const alerts = await stack.dataSource.query<AlertRow[]>(
      `SELECT run_id, title, details, delivery_status FROM reconciliation_alerts
        WHERE customer_id = $1`,
      [customer.id],
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ run_id: run.id, delivery_status: 'delivered' });
    const items = alerts[0]!.details.records.items;
    expect(
      items
        .filter((i) => i.state === 'one_sided')
        .map((i) => [i.id, i.side, i.likelyCause])
        .sort(byIdOrder),
    ).toEqual(
      [
        [id(neverInCrm), 'only_in_raise', 'CRM+ never confirmed the Raise gift'],
        ['9999999', 'only_in_crm', 'CRM+ gift references a Raise gift we never saw'],
      ].sort(byIdOrder),
    );
    expect(items.map((i) => i.id)).not.toContain(id(testMode));
    const sent = opsReceived.filter((body) => body.customerId === customer.id);
    expect(sent).toHaveLength(1);
    expect((sent[0]!.details as AlertRow['details']).records.items).toEqual(items);
    expect(JSON.stringify(sent[0])).not.toContain(crmToken);
  });

  it('skips the one-sided part for a customer without a CRM+ webhook', async () => {
    const customer = await createCustomer(stack, sim, `nohook-${stack.prefix}`, {
      donors: 3,
      gifts: 3,
      campaigns: 1,
      recurringGifts: 0,
    });
    await stack.dataSource.query(
      `INSERT INTO destinations (customer_id, kind, name, config, secrets, enabled)
       VALUES ($1, 'crm-plus', 'crm', $2::jsonb, $3, true)`,
      [customer.id, JSON.stringify({ baseUrl: sim.crmUrl }), box.sealJson({ token: 'unused' })],
    );
    // A stale one-sided row that would be reported if the part ran.
    await stack.dataSource.query(
      `INSERT INTO cross_product_arrivals (customer_id, resource, raise_id, raise_seen_at)
       VALUES ($1, 'gift', '1000001', now() - interval '1 hour')`,
      [customer.id],
    );
    const run = await reconcile(reconciler, customer.id, {
      kind: 'crm-consistency',
      windowStart: new Date(Date.now() - 1000).toISOString(),
      windowEnd: new Date().toISOString(),
    });
    expect(run.status).toBe('done');
    expect(run.counts).toMatchObject({ one_sided_checked: 0, one_sided_only_in_raise: 0 });
    expect(run.discrepancies.items.filter((d) => d.state === 'one_sided')).toEqual([]);
  });
});

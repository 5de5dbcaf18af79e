import { randomUUID } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretBox } from '@raise-sync/shared/crypto';
import { CustomerRepository, DestinationEntity, customerScope } from '@raise-sync/shared/state';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  adminClient,
  expectEventually,
  freePort,
  scrapeMetric,
  startApp,
  useTestStack,
  type AdminCall,
  type RunningApp,
  type TestStack,
  stackEnv,
} from '@raise-sync/testing';

/**
 * Raise vs CRM+ consistency through the built reconciler app: a simulated Raise org and a
 * simulated CRM+ account shaped so that each crmKey state comes from its own records, runs
 * requested as pending rows and claimed by the app's runner, alerts read back from PostgreSQL and
 * from a local HTTP server standing in for the ops URL.
 */

const SECRETS_KEY = randomBytes(32).toString('hex');
const box = SecretBox.fromHex(SECRETS_KEY);

interface OpsServer {
  url: string;
  received: Array<Record<string, unknown>>;
  /** HTTP status the server answers with. */
  status: number;
  close(): Promise<void>;
}

async function startOpsServer(): Promise<OpsServer> {
  const state = { received: [] as Array<Record<string, unknown>>, status: 200 };
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      state.received.push(JSON.parse(body) as Record<string, unknown>);
      response.writeHead(state.status, { 'content-type': 'application/json' });
      response.end(state.status === 200 ? '{"ok":true}' : '{"error":"ops inbox down"}');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    get received() {
      return state.received;
    },
    get status() {
      return state.status;
    },
    set status(value: number) {
      state.status = value;
    },
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

interface Customer {
  id: string;
  org: string;
  crmAccount: string | null;
  crmToken: string;
}

/** A simulator org and the matching customer (sealed Raise token), with or without CRM+. */
async function createCustomer(
  stack: TestStack,
  sim: Simulator,
  org: string,
  data: { donors: number; gifts: number; campaigns: number; recurringGifts: number },
  crm: boolean,
): Promise<Customer> {
  const raiseToken = `raise-${org}-${randomBytes(4).toString('hex')}`;
  sim.control.createOrg({
    id: org,
    raiseToken,
    vomoToken: `vomo-${org}`,
    ...data,
    users: 0,
    testModeFraction: 0,
    // Generated records are older than this; the test's window starts after it.
    anchor: new Date(Date.now() - 2 * 3_600_000).toISOString(),
  });
  const customer = await new CustomerRepository(stack.dataSource, box).create(
    customerScope(randomUUID()),
    {
      name: `Org ${org}`,
      status: 'onboarding',
      credentials: { raise: { apiToken: raiseToken } },
    },
  );
  const crmToken = `crm-${org}-${randomBytes(4).toString('hex')}`;
  let crmAccount: string | null = null;
  if (crm) {
    crmAccount = `${org}-crm`;
    sim.destinations.createAccount({ kind: 'crm-plus', id: crmAccount, token: crmToken });
    const repo = stack.dataSource.getRepository(DestinationEntity);
    await repo.save(
      repo.create({
        customerId: customer.id,
        kind: 'crm-plus',
        name: 'crm-plus',
        config: { baseUrl: sim.crmUrl },
        secrets: box.sealJson({ token: crmToken }),
        enabled: true,
      }),
    );
  }
  return { id: customer.id, org, crmAccount, crmToken };
}

/** Calls the simulated CRM+ the way its API is called (bearer token, JSON). */
async function crmPost(
  sim: Simulator,
  customer: Customer,
  path: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${sim.crmUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${customer.crmToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

interface RunRow {
  id: string;
  status: string;
  counts: Record<string, number>;
  error: string | null;
}

interface DiscrepancyRow {
  resource: string;
  source_id: string;
  state: string;
  actionable: boolean;
  details: Record<string, unknown>;
}

interface AlertRow {
  id: string;
  run_id: string;
  severity: string;
  title: string;
  details: Record<string, unknown>;
  delivery_status: string;
  delivery_attempts: number;
  last_error: string | null;
}

describe('Raise vs CRM+ consistency (built reconciler, simulators, PostgreSQL)', () => {
  const stack = useTestStack();
  let sim: Simulator;
  let ops: OpsServer;
  let app: RunningApp;
  let windowStart: Date;
  let admin: AdminCall;

  /**
   * Requests a crm-consistency run over [windowStart, now) through the admin API and waits until
   * the app's runner finished it.
   */
  async function reconcile(customerId: string): Promise<RunRow> {
    // The simulator keeps modified times strictly increasing per org (a burst of updates runs a
    // few ms ahead of the clock): let the clock pass them so the closed window covers them all.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const requested = await admin<{ id: string; status: string }>(
      'POST',
      `/admin/customers/${customerId}/reconciliations`,
      {
        kind: 'crm-consistency',
        windowStart: windowStart.toISOString(),
        windowEnd: new Date().toISOString(),
      },
    );
    expect(requested.status).toBe(202);
    let run: RunRow | undefined;
    await expectEventually(
      async () => {
        [run] = await stack.dataSource.query<RunRow[]>(
          `SELECT id, status, counts, error FROM reconciliation_runs WHERE id = $1`,
          [requested.body.id],
        );
        expect(['done', 'skipped', 'failed']).toContain(run?.status);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    return run!;
  }

  const discrepancies = (runId: string) =>
    stack.dataSource.query<DiscrepancyRow[]>(
      `SELECT resource, source_id, state, actionable, details FROM reconciliation_discrepancies
        WHERE run_id = $1 ORDER BY resource, source_id`,
      [runId],
    );

  const alertsOf = (customerId: string) =>
    stack.dataSource.query<AlertRow[]>(
      `SELECT id, run_id, severity, title, details, delivery_status, delivery_attempts, last_error
         FROM reconciliation_alerts WHERE customer_id = $1 ORDER BY created_at`,
      [customerId],
    );

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, seed: 5 });
    ops = await startOpsServer();
    windowStart = new Date(Date.now() - 1000);
    const adminToken = randomBytes(24).toString('hex');
    app = startApp(
      'reconciler',
      {
        ...stackEnv(stack, stack.prefix),
        SECRETS_KEY,
        ADMIN_TOKEN: adminToken,
        RAISE_API_URL: sim.raiseUrl,
        VOMO_API_URL: sim.vomoUrl,
        SOURCE_RATE_LIMITS: 'raise=200:200,vomo=50:50',
        RECONCILER_TICK_MS: '200',
        RECONCILER_PAGE_SIZE: '10',
        RECONCILER_LOOKUP_CONCURRENCY: '4',
        RECONCILER_CRM_LAG_MINUTES: '60',
        RECONCILER_OPS_WEBHOOK_URL: ops.url,
        LOG_LEVEL: 'info',
      },
      await freePort(),
    );
    await app.waitUntilReady();
    admin = adminClient(app.url, adminToken);
  });

  afterAll(async () => {
    await app?.stop();
    await ops?.close();
    await sim?.stop();
  });

  it('gives each record its crmKey state and alerts on exactly the actionable ones', async () => {
    const customer = await createCustomer(
      stack,
      sim,
      'crm-main',
      { donors: 30, gifts: 40, campaigns: 3, recurringGifts: 4 },
      true,
    );
    const { org } = customer;
    const c = sim.control;

    // Campaigns: 101 syncs to CRM+, 102 does not.
    const syncing = c.updateRecord(org, 'campaign', 101, { canSync: true });
    const paused = c.updateRecord(org, 'campaign', 102, { canSync: false });

    // Donors. 10001/10002 link to real CRM+ contacts; 10003 has no crmKey; 10004 points at a
    // contact that does not exist; 10005 too, but it is a test-mode donor.
    const contactIds: number[] = [];
    for (const donorId of [10001, 10002]) {
      const email = `linked.${donorId}@example.org`;
      const { contactId } = await crmPost(sim, customer, '/api/Contact/Transaction', {
        referenceSource: 'raise',
        referenceId: String(donorId),
        email,
        firstName: 'Linked',
      });
      contactIds.push(contactId as number);
      c.updateRecord(org, 'donor', donorId, { email, crmKey: String(contactId) });
    }
    c.updateRecord(org, 'donor', 10003, { crmKey: null });
    c.updateRecord(org, 'donor', 10004, { crmKey: '999999' });
    c.updateRecord(org, 'donor', 10005, { crmKey: '888888', isTestMode: true });

    // Gifts, all of donor 10001 (whose crmKeyUrls are the links ops get).
    const onSyncing = { donorId: 10001, campaignName: syncing.name, isTestMode: false };
    c.updateRecord(org, 'gift', 1000001, { ...onSyncing, amount: 50 });
    await crmPost(sim, customer, '/api/v2/Gift/Transaction', {
      transactionSource: 'raise',
      transactionId: '1000001',
      contact: { email: 'linked.10001@example.org' },
      amount: 50,
      currencyCode: 'USD',
      giftDate: new Date().toISOString(),
    });
    c.updateRecord(org, 'gift', 1000002, { ...onSyncing, amount: 125.5 });
    c.updateRecord(org, 'gift', 1000003, { ...onSyncing, campaignName: paused.name, amount: 40 });
    c.updateRecord(org, 'gift', 1000004, { ...onSyncing, isTestMode: true, amount: 15 });
    const young = c.createRecord(org, 'gift', { ...onSyncing, amount: 30 });

    // Recurring gifts: one not linked yet, one linked (no CRM+ lookup exists for those).
    c.updateRecord(org, 'recurring_gift', 50001, { crmKey: null });
    c.updateRecord(org, 'recurring_gift', 50002, { crmKey: '41234' });

    const run = await reconcile(customer.id);
    expect(run).toMatchObject({ status: 'done', error: null });
    expect(run.counts).toMatchObject({
      raise_total: 12,
      donor_total: 5,
      gift_total: 5,
      recurring_gift_total: 2,
      lookups: 9,
      crm_found: 3,
      consistent: 3,
      not_yet_synced: 3,
      not_yet_linked: 2,
      orphaned_crm_key: 1,
      missing_in_crm: 1,
      crm_unreachable: 0,
      expected_not_synced: 1,
      test_mode: 2,
      not_checked: 1,
      actionable: 2,
    });

    // Every non-consistent record is stored with its own state; consistent ones are not.
    const found = await discrepancies(run.id);
    expect(found.map((d) => [d.resource, d.source_id, d.state, d.actionable])).toEqual([
      ['donor', '10003', 'not_yet_synced', false],
      ['donor', '10004', 'orphaned_crm_key', true],
      ['donor', '10005', 'orphaned_crm_key', false],
      ['gift', '1000002', 'missing_in_crm', true],
      ['gift', '1000003', 'missing_in_crm', false],
      ['gift', '1000004', 'missing_in_crm', false],
      ['gift', String(young.id), 'not_yet_synced', false],
      ['recurring_gift', '50001', 'not_yet_synced', false],
    ]);
    const byId = new Map(found.map((d) => [d.source_id, d.details]));
    expect(byId.get('1000003')).toMatchObject({
      likelyCause: 'canSync false',
      canSync: false,
      campaign: { id: '102', name: paused.name },
    });
    expect(byId.get('1000004')).toMatchObject({ likelyCause: 'test mode', isTestMode: true });
    expect(byId.get('10005')).toMatchObject({ likelyCause: 'test mode', isTestMode: true });
    expect(byId.get(String(young.id))).toMatchObject({
      likelyCause: 'within the sync-lag window',
    });

    // One alert, exactly the actionable records, in the row and at the ops URL.
    const donorLink = `https://app.virtuoussoftware.com/Generosity/Contact/View/${contactIds[0]}`;
    const expectedRecords = [
      {
        resource: 'donor',
        id: '10004',
        state: 'orphaned_crm_key',
        likelyCause: 'CRM+ record deleted or link set incorrectly',
        crmKey: '999999',
        crmKeyUrls: [
          {
            integration: 'CRMPlus',
            url: 'https://app.virtuoussoftware.com/Generosity/Contact/View/999999',
            name: 'Virtuous CRM+',
          },
        ],
      },
      {
        resource: 'gift',
        id: '1000002',
        state: 'missing_in_crm',
        likelyCause: 'sync failed: gift not in CRM+ after the sync-lag window',
        amount: 125.5,
        campaign: { id: '101', name: syncing.name },
        canSync: true,
        isTestMode: false,
        crmKeyUrls: [{ integration: 'CRMPlus', url: donorLink, name: 'Virtuous CRM+' }],
      },
    ];
    const [alert, ...more] = await alertsOf(customer.id);
    expect(more).toHaveLength(0);
    expect(alert).toMatchObject({
      run_id: run.id,
      severity: 'warning',
      title: expect.stringMatching(
        /^2 Raise records out of line with CRM\+ for Org crm-main on /,
      ) as string,
      delivery_status: 'delivered',
      delivery_attempts: 1,
      last_error: null,
    });
    const listed = alert!.details.records as { total: number; items: unknown[] };
    expect(listed.total).toBe(2);
    expect(listed.items).toEqual([
      expect.objectContaining(expectedRecords[0]),
      expect.objectContaining(expectedRecords[1]),
    ]);
    expect(alert!.details).toMatchObject({
      customer: { id: customer.id, name: 'Org crm-main' },
      counts: { actionable: 2 },
    });

    const delivered = ops.received.filter((body) => body.customerId === customer.id);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ alertId: alert!.id, title: alert!.title });
    const sent = (delivered[0]!.details as { records: { items: Array<{ id: string }> } }).records
      .items;
    expect(sent).toEqual(listed.items);
    // canSync-false and test-mode records are nowhere in what ops received.
    const sentIds = sent.map((r) => r.id);
    for (const id of ['1000003', '1000004', '10005', '10003', String(young.id)]) {
      expect(sentIds).not.toContain(id);
    }
    expect(JSON.stringify(delivered[0])).not.toContain(customer.crmToken);

    expect(
      await scrapeMetric(app.url, 'raise_sync_reconciliation_alerts_total', {
        customer_id: customer.id,
        delivery: 'delivered',
      }),
    ).toBe(1);
  });

  it('counts records as crm_unreachable and raises one "CRM+ unreachable" alert', async () => {
    const customer = await createCustomer(
      stack,
      sim,
      'crm-down',
      { donors: 5, gifts: 5, campaigns: 1, recurringGifts: 0 },
      true,
    );
    sim.destinations.setDestinationFaults(customer.crmAccount!, { status: 503 });
    sim.control.updateRecord(customer.org, 'donor', 10001, { crmKey: '200001' });
    sim.control.updateRecord(customer.org, 'donor', 10002, { crmKey: '200002' });
    sim.control.updateRecord(customer.org, 'gift', 1000001, { amount: 20 });

    const run = await reconcile(customer.id);
    expect(run.status).toBe('done');
    expect(run.counts).toMatchObject({
      raise_total: 3,
      lookups: 3,
      crm_unreachable: 3,
      consistent: 0,
      actionable: 0,
    });
    const found = await discrepancies(run.id);
    expect(found.map((d) => [d.source_id, d.state, d.actionable])).toEqual([
      ['10001', 'crm_unreachable', false],
      ['10002', 'crm_unreachable', false],
      ['1000001', 'crm_unreachable', false],
    ]);
    expect(found[0]!.details.likelyCause).toMatch(/HTTP 503/);

    const alerts = await alertsOf(customer.id);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      title: expect.stringMatching(/^CRM\+ unreachable for Org crm-down on /) as string,
      delivery_status: 'delivered',
      details: { lookups: 3, reason: expect.stringMatching(/HTTP 503/) as string },
    });
  });

  it('skips single-product customers: no CRM+ destination, or donors that never carry a crmKey', async () => {
    const noCrm = await createCustomer(
      stack,
      sim,
      'crm-none',
      { donors: 3, gifts: 3, campaigns: 1, recurringGifts: 0 },
      false,
    );
    sim.control.updateRecord(noCrm.org, 'donor', 10001, { crmKey: '200001' });
    const skipped = await reconcile(noCrm.id);
    // A skipped run keeps its note in `error`.
    expect(skipped).toMatchObject({
      status: 'skipped',
      counts: {},
      error: 'single-product: no CRM+ configured',
    });

    const raiseOnly = await createCustomer(
      stack,
      sim,
      'crm-raise-only',
      { donors: 25, gifts: 3, campaigns: 1, recurringGifts: 0 },
      true,
    );
    for (let id = 10001; id <= 10020; id += 1) {
      sim.control.updateRecord(raiseOnly.org, 'donor', id, { crmKey: null });
    }
    const detected = await reconcile(raiseOnly.id);
    expect(detected).toMatchObject({
      status: 'skipped',
      error: expect.stringMatching(
        /^single-product: none of 20 donors in the window has a crmKey/,
      ) as string,
    });
    expect(detected.counts).toMatchObject({ donor_total: 20 });
    const [schedule] = await stack.dataSource.query<[{ settings: Record<string, unknown> }]>(
      `SELECT settings FROM reconciliation_schedules
        WHERE customer_id = $1 AND kind = 'crm-consistency'`,
      [raiseOnly.id],
    );
    expect(schedule.settings).toMatchObject({
      singleProduct: true,
      singleProductRunId: detected.id,
    });
    expect(await discrepancies(detected.id)).toEqual([]);

    // Later runs are skipped without reading Raise at all, until an operator clears the flag.
    const before = sim.control.stats(raiseOnly.org).requests.total;
    const later = await reconcile(raiseOnly.id);
    expect(later).toMatchObject({
      status: 'skipped',
      error: expect.stringMatching(
        /^single-product: no donor carried a crmKey \(detected earlier\)/,
      ) as string,
    });
    expect(sim.control.stats(raiseOnly.org).requests.total).toBe(before);

    expect(await alertsOf(noCrm.id)).toEqual([]);
    expect(await alertsOf(raiseOnly.id)).toEqual([]);
  });

  it('keeps the alert when the ops URL fails: delivery failed after 3 attempts', async () => {
    const customer = await createCustomer(
      stack,
      sim,
      'crm-ops-down',
      { donors: 3, gifts: 3, campaigns: 1, recurringGifts: 0 },
      true,
    );
    sim.control.updateRecord(customer.org, 'donor', 10001, { crmKey: '777777' });
    ops.status = 500;
    try {
      const run = await reconcile(customer.id);
      expect(run.counts).toMatchObject({ orphaned_crm_key: 1, actionable: 1 });
      const alerts = await alertsOf(customer.id);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({
        run_id: run.id,
        delivery_status: 'failed',
        delivery_attempts: 3,
        last_error: expect.stringMatching(/^HTTP 500/) as string,
      });
      expect(ops.received.filter((body) => body.customerId === customer.id)).toHaveLength(3);
      expect(
        await scrapeMetric(app.url, 'raise_sync_reconciliation_alerts_total', {
          customer_id: customer.id,
          delivery: 'failed',
        }),
      ).toBe(1);
      expect(
        app
          .logs()
          .some(
            (line) =>
              line.customerId === customer.id &&
              typeof line.msg === 'string' &&
              line.msg.startsWith('ops alert could not be delivered'),
          ),
      ).toBe(true);
    } finally {
      ops.status = 200;
    }
  });
});

import { randomBytes } from 'node:crypto';
import {
  adminClient,
  compareDestinations,
  expectEventually,
  expectNoDifferences,
  startStackApp,
  useTestStack,
  type AdminCall,
  type DestinationReport,
  type RunningApp,
} from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  ADMIN_TOKEN,
  SECRETS_KEY,
  ledgerOf,
  startIngest,
  startSubmitter,
  type LedgerRowView,
  type SubmitterUnderTest,
} from './support';

jest.setTimeout(300_000);

/**
 * Sized for a loaded 2-core machine (the whole file in about two minutes): a history of
 * HISTORY_GIFTS gifts by backfill, then CREATED new gifts and CHANGED changes by webhook, a share
 * of which never arrives (polling and reconciliation fill those gaps).
 */
const HISTORY_DONORS = 60;
const HISTORY_GIFTS = 150;
const CREATED = 100;
const DROP_RATE = 0.1;
const RATES = 'raise=60:60,vomo=20:20';

type Model = Record<string, unknown>;

/**
 * One customer, five destinations, every path at once: history by backfill, live changes by the
 * simulated Raise's signed webhooks (some dropped), polling on a short cadence, one
 * reconciliation window over everything plus a deletion check. Once the ledger has settled,
 * every destination is compared with the source record by record, field by field.
 */
describe('mixed run: backfill, webhooks, polling and reconciliation agree with the source at every destination', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-mixed`;
  let sim: Simulator;
  let submitter: SubmitterUnderTest;
  let ingest: RunningApp;
  let backfiller: RunningApp;
  let reconciler: RunningApp;

  const ingestAdmin: AdminCall = (method, path, body) =>
    adminClient(ingest.url, ADMIN_TOKEN)(method, path, body);
  const backfillAdmin: AdminCall = (method, path, body) =>
    adminClient(backfiller.url, ADMIN_TOKEN)(method, path, body);
  const reconcileAdmin: AdminCall = (method, path, body) =>
    adminClient(reconciler.url, ADMIN_TOKEN)(method, path, body);

  beforeAll(async () => {
    sim = await startSimulator({ seed: 57 });
    const sources = { RAISE_API_URL: sim.raiseUrl, VOMO_API_URL: sim.vomoUrl };
    const shared = { SECRETS_KEY, ADMIN_TOKEN, SOURCE_RATE_LIMITS: RATES, LOG_LEVEL: 'info' };
    // Each app is kept as soon as it is up, so afterAll stops it even when another fails to start.
    const started = await Promise.allSettled([
      startSubmitter(stack, prefix, { ...sources, SOURCE_RATE_LIMITS: RATES }).then((s) => {
        submitter = s;
      }),
      startIngest(stack, prefix, sim, RATES).then((app) => {
        ingest = app;
      }),
      startStackApp('backfiller', stack, prefix, {
        ...shared,
        ...sources,
        BACKFILL_TICK_MS: '200',
      }).then((app) => {
        backfiller = app;
      }),
      startStackApp('reconciler', stack, prefix, {
        ...shared,
        ...sources,
        RECONCILER_TICK_MS: '200',
      }).then((app) => {
        reconciler = app;
      }),
    ]);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      throw failed.reason;
    }
  });

  afterAll(async () => {
    await Promise.all([
      ingest?.stop('SIGTERM'),
      backfiller?.stop('SIGTERM'),
      reconciler?.stop('SIGTERM'),
      submitter?.app.stop('SIGTERM'),
    ]);
    await sim?.stop();
  });

  async function reconcile(customerId: string, body: Record<string, unknown>): Promise<Model> {
    const requested = await reconcileAdmin<{ id: string }>(
      'POST',
      `/admin/customers/${customerId}/reconciliations`,
      body,
    );
    expect(requested.status).toBe(202);
    let run: Model | undefined;
    await expectEventually(
      async () => {
        const { body: found } = await reconcileAdmin<Model>(
          'GET',
          `/admin/reconciliations/${requested.body.id}?limit=1`,
        );
        run = found;
        expect(['done', 'failed', 'skipped']).toContain(run.status);
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    return run!;
  }

  /** The ledger balances with nothing in retry, and stays the same over a few seconds. */
  /**
   * The customer's ledger once it has stopped moving: `destinations` rows, each balanced with
   * nothing in retry or waiting, and each having received at least `atLeast` events.
   */
  async function settledLedger(
    customerId: string,
    destinations: number,
    atLeast = 0,
  ): Promise<LedgerRowView[]> {
    let previous = '';
    let rows: LedgerRowView[] = [];
    await expectEventually(
      async () => {
        rows = await ledgerOf(submitter, customerId);
        const snapshot = JSON.stringify(rows);
        const same = snapshot === previous;
        previous = snapshot;
        expect(rows).toHaveLength(destinations);
        for (const row of rows) {
          expect(row).toEqual(expect.objectContaining({ inRetry: 0, waiting: 0, imbalance: 0 }));
          expect(row.received).toBe(
            row.delivered + row.skipped + row.deadLettered + row.needsSourceFix + row.inRetry,
          );
          expect(row.received).toBeGreaterThanOrEqual(atLeast);
        }
        expect(same).toBe(true);
      },
      { timeoutMs: 180_000, intervalMs: 3000 },
    );
    return rows;
  }

  it('finds no difference between the source and the warehouse, CRM+, accounting, marketing and the partner webhook', async () => {
    const started = Date.now();
    const org = `mx-${randomBytes(3).toString('hex')}`;
    const summary = sim.control.createOrg({
      id: org,
      raiseToken: `${org}-raise`,
      vomoToken: `${org}-vomo`,
      donors: HISTORY_DONORS,
      gifts: HISTORY_GIFTS,
      recurringGifts: 5,
      campaigns: 4,
      users: 0,
    });

    // Onboarding through ingest: Raise token, webhook subscription, destinations. Polling
    // starts after the backfill has handed over its checkpoint.
    const created = await ingestAdmin<{ id: string; webhookSubscription: string }>(
      'POST',
      '/admin/customers',
      {
        name: org,
        raise: { apiToken: `${org}-raise` },
        polling: { enabled: false },
      },
    );
    expect(created.status).toBe(201);
    // The Raise webhook is subscribed as part of onboarding.
    expect(created.body.webhookSubscription).toBe('subscribed');
    const customerId = created.body.id;
    const accounts = {
      crm: `${org}-crm`,
      accounting: `${org}-acct`,
      marketing: `${org}-mkt`,
      hook: `${org}-hook`,
    };
    sim.destinations.createAccount({ kind: 'crm-plus', id: accounts.crm }); // the real 5,000/h
    sim.destinations.createAccount({ kind: 'accounting', id: accounts.accounting });
    const marketing = sim.destinations.createAccount({ kind: 'marketing', id: accounts.marketing });
    const hook = sim.destinations.createAccount({ kind: 'webhook', id: accounts.hook });
    const set = await submitter.admin('PUT', `/admin/customers/${customerId}/destinations`, {
      destinations: [
        { kind: 'warehouse', name: 'warehouse' },
        {
          kind: 'crm-plus',
          name: 'crm-plus',
          config: { baseUrl: sim.crmUrl },
          secrets: { token: `${accounts.crm}-token` },
        },
        {
          kind: 'accounting',
          name: 'accounting',
          config: { baseUrl: sim.accountingUrl },
          secrets: { token: `${accounts.accounting}-token` },
        },
        {
          kind: 'marketing',
          name: 'marketing',
          config: { baseUrl: sim.marketingUrl, listId: marketing.listId },
          secrets: { token: `${accounts.marketing}-token` },
        },
        {
          kind: 'webhook',
          name: 'webhook',
          config: { url: hook.url },
          secrets: { secret: hook.secret },
        },
      ],
    });
    expect(set.status).toBe(200);

    // History by backfill, through the backfiller's admin API.
    const requested = await backfillAdmin<{ runs: Array<{ id: string }> }>(
      'POST',
      `/admin/customers/${customerId}/backfills`,
      { resources: ['donor', 'gift'] },
    );
    expect(requested.status).toBe(202);
    expect(requested.body.runs).toHaveLength(2);
    await expectEventually(
      async () => {
        const { body } = await backfillAdmin<Array<{ resource: string; status: string }>>(
          'GET',
          `/admin/customers/${customerId}/backfills`,
        );
        expect(body.map((r) => r.status)).toEqual(['done', 'done']);
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );

    // The history reaches every destination before anything changes, so the changes below meet
    // records the destinations already hold (accounting re-issues an invoice it has booked). On
    // a loaded machine a backfill is published well before it is delivered, and a change whose
    // event overtook its record's backfill event would be the first version accounting sees.
    await settledLedger(customerId, 5, HISTORY_DONORS + HISTORY_GIFTS);

    // Polling as the gap filler, on a short cadence.
    const polling = await ingestAdmin('PUT', `/admin/customers/${customerId}/sources/raise`, {
      polling: { enabled: true, intervalSeconds: 5 },
    });
    expect(polling.status).toBe(200);

    // Live traffic by webhook, with a share of deliveries lost for good.
    sim.control.setFaults(org, { dropWebhookRate: DROP_RATE });
    const history = sim.control.records(org, 'gift').map((g) => g as unknown as Model);
    const newIds: number[] = [];
    for (let i = 0; i < CREATED; i += 1) {
      newIds.push((sim.control.createRecord(org, 'gift') as unknown as Model).id as number);
    }
    const liveNow = () => sim.control.records(org, 'gift').map((g) => g as unknown as Model);
    const pick = (from: Model[], n: number, taken: Set<number>) => {
      const chosen = from.filter((g) => !taken.has(g.id as number)).slice(0, n);
      chosen.forEach((g) => taken.add(g.id as number));
      return chosen;
    };
    const taken = new Set<number>();
    const all = [...history, ...liveNow().filter((g) => newIds.includes(g.id as number))];
    // Interleave history and new gifts so every change path meets records of both origins.
    const mixed = all
      .map((g, i) => ({ g, key: (i * 7919) % all.length }))
      .sort((a, b) => a.key - b.key)
      .map(({ g }) => g);
    const success = mixed.filter((g) => g.statusText === 'Success');
    const amountChanged = pick(success, 45, taken);
    const refunded = pick(success, 8, taken);
    const pendingToSuccess = pick(
      mixed.filter((g) => g.statusText === 'Pending' || g.statusText === 'Failed'),
      4,
      taken,
    );
    const segmentChanged = pick(mixed, 3, taken);
    const deleted = pick(mixed, 5, taken);
    for (const [i, gift] of amountChanged.entries()) {
      sim.control.updateRecord(org, 'gift', gift.id as number, {
        amount: 12 + ((i * 17) % 90) + 0.5,
      });
    }
    for (const gift of refunded) {
      sim.control.updateRecord(org, 'gift', gift.id as number, { status: 4 });
    }
    for (const gift of pendingToSuccess) {
      sim.control.updateRecord(org, 'gift', gift.id as number, { status: 1 });
    }
    for (const [i, gift] of segmentChanged.entries()) {
      sim.control.updateRecord(org, 'gift', gift.id as number, {
        segment: i === 0 ? null : 'Spring Appeal',
      });
    }
    for (const gift of deleted) {
      sim.control.deleteRecord(org, 'gift', gift.id as number);
    }
    // Donor changes that no gift copies (phone, address): contact, member, row and feed follow.
    const donors = sim.control.records(org, 'donor').map((d) => d as unknown as Model);
    for (const [i, donor] of donors.slice(0, 5).entries()) {
      const address = (donor.primaryAddress as Model | null) ?? {};
      sim.control.updateRecord(org, 'donor', donor.id as number, {
        phone: `(555) 010-${String(1000 + i)}`,
        primaryAddress: { ...address, city: `Newtown ${i}` },
      });
    }
    const changes = amountChanged.length + refunded.length + pendingToSuccess.length;
    expect(changes + segmentChanged.length + deleted.length).toBeGreaterThanOrEqual(55);
    await sim.control.flushWebhooks();
    const dropped = sim.control.droppedWebhooks(org);
    // The seeded stream loses some deliveries, neither none nor most.
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped.length).toBeLessThan(60);

    // Polling catches up with the upserts whose webhook was lost: the warehouse holds every
    // live gift at its current version.
    const latest = () =>
      new Map(liveNow().map((g) => [String(g.id), new Date(String(g.modifiedDate)).getTime()]));
    await expectEventually(
      async () => {
        const want = latest();
        const rows: Array<{ source_id: string; at: Date }> = await stack.dataSource.query(
          `SELECT source_id, source_modified_at AS at FROM warehouse.raise_gift
            WHERE customer_id = $1 AND deleted_at IS NULL`,
          [customerId],
        );
        const current = rows.filter((r) => want.get(r.source_id) === new Date(r.at).getTime());
        expect(current.length).toBe(want.size);
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );

    // One reconciliation over the whole history (window) and the deletion check, which is what
    // finds a delete whose webhook was lost (polling cannot see deletes).
    const newest = Math.max(
      ...[...liveNow(), ...donors].map((m) => new Date(String(m.modifiedDate)).getTime()),
    );
    await expectEventually(() => expect(Date.now()).toBeGreaterThan(newest + 5), {
      timeoutMs: 10_000,
    });
    const windowEnd = new Date().toISOString();
    const windowStart = new Date(Date.parse(summary.anchor) - 32 * 24 * 3600_000).toISOString();
    const window = await reconcile(customerId, { kind: 'window', windowStart, windowEnd });
    expect(window).toMatchObject({ status: 'done' });
    const deletion = await reconcile(customerId, { kind: 'deletion', windowEnd });
    expect(deletion).toMatchObject({ status: 'done' });

    const ledger = await settledLedger(customerId, 5);

    let reports: DestinationReport[] = [];
    let printed = '';
    await expectEventually(
      async () => {
        reports = await compareDestinations({
          source: sim.control,
          org,
          destinations: sim.destinations,
          db: stack.dataSource,
          targets: [
            { kind: 'warehouse', customerId },
            { kind: 'crm-plus', account: accounts.crm },
            { kind: 'accounting', account: accounts.accounting },
            { kind: 'marketing', account: accounts.marketing },
            { kind: 'webhook', account: accounts.hook },
          ],
        });
        printed = expectNoDifferences(reports);
      },
      { timeoutMs: 30_000, intervalMs: 2000 },
    );
    // Changed amounts were re-issued in accounting (old invoice voided, new one booked), not
    // dead-lettered.
    const reissued = sim.destinations
      .invoices(accounts.accounting)
      .filter((inv) => inv.voidReason === 'amended in Raise');
    expect(reissued.length).toBeGreaterThan(0);
    expect(ledger.find((row) => row.destination === 'accounting')).toMatchObject({
      deadLettered: 0,
    });
    // Every destination was really looked at.
    for (const report of reports) {
      expect(report.checked).toBeGreaterThan(HISTORY_DONORS / 2);
    }
    process.stdout.write(
      `mixed run: ${dropped.length} webhooks dropped (event types ${dropped.map((d) => d.eventType).join(',')}), ledger ${JSON.stringify(ledger)}\n${printed}\n` +
        `took ${Math.round((Date.now() - started) / 1000)} s\n`,
    );
  });
});

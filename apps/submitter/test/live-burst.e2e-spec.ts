import { randomBytes } from 'node:crypto';
import {
  adminClient,
  expectEventually,
  useTestStack,
  type AdminCall,
  type RunningApp,
} from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  ADMIN_TOKEN,
  ledgerOf,
  startIngest,
  startSubmitter,
  type LedgerRowView,
  type SubmitterUnderTest,
} from './support';

// About 3 min on a quiet 2-core machine (A's 50,000 webhooks acknowledged in 60 s, as fast as the
// simulated Raise makes them). The simulator signs and sends them on the same cores, so a loaded
// machine stretches the minute; the budget leaves room for that (694 s under two CPU burners with
// the slower intake of session 16).
jest.setTimeout(1_800_000);

/** A's Raise bulk import: this many gifts, each created and then changed once (2 webhooks). */
const GIFTS = 25_000;
const BURST_MS = 60_000;
const CRM_LATENCY_MS = 2000;

const pct = (values: number[], p: number): number => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
};
const summary = (xs: number[]): string =>
  `p50 ${pct(xs, 0.5)} / p95 ${pct(xs, 0.95)} / p99 ${pct(xs, 0.99)} ms (${xs.length})`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Onboarded {
  org: string;
  customerId: string;
  crm: string;
  donors: number[];
}

/**
 * Issue 13, scenarios 2 and 7 at full scale, the way the traffic arrives: customer A's bulk import
 * in Raise fires 50,000 gift webhooks within a minute while A's CRM+ answers in 2 s; customer B's
 * live webhooks keep reaching B's warehouse and B's CRM+ with bounded latency meanwhile. Then A's
 * CRM+ recovers and A drains through three kill -9s of the submitter: every gift at every
 * destination at its newest version, the ledger balanced, nothing dead-lettered.
 */
describe("submitter: a customer's 50,000-webhook burst to a slow CRM+ holds back only itself", () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-burst`;
  let sim: Simulator;
  let submitter: SubmitterUnderTest;
  let ingest: RunningApp;
  const admin: AdminCall = (method, path, body) =>
    adminClient(ingest.url, ADMIN_TOKEN)(method, path, body);

  beforeAll(async () => {
    sim = await startSimulator({ seed: 53 });
    // Raise's deliveries in flight per org: enough for A's minute (its default is 8).
    sim.control.setWebhookRetry({ concurrency: 32 });
    submitter = await startSubmitter(stack, prefix, {
      RAISE_API_URL: sim.raiseUrl,
      VOMO_API_URL: sim.vomoUrl,
    });
    ingest = await startIngest(stack, prefix, sim);
  });

  afterAll(async () => {
    await ingest?.stop('SIGTERM');
    await submitter?.app.stop('SIGTERM');
    await sim?.stop();
  });

  const warehouseCount = async (customerId: string): Promise<number> => {
    const [row] = await stack.dataSource.query<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM warehouse.raise_gift WHERE customer_id = $1`,
      [customerId],
    );
    return row?.n ?? 0;
  };

  /**
   * Onboarded through ingest's admin API (Raise webhook subscribed), warehouse and CRM+ set on the
   * submitter's, and
   * `donors` donors with an email shown once by a gift each: the submitter knows them afterwards,
   * as it does after their own webhooks, so the burst measures delivery rather than A's Raise
   * budget for reading donors (SOURCE_RATE_LIMITS, 1 request/s by default).
   */
  async function onboard(label: string, donors: number): Promise<Onboarded> {
    const org = `${label}-${randomBytes(3).toString('hex')}`;
    sim.control.createOrg({
      id: org,
      raiseToken: `${org}-raise`,
      vomoToken: `${org}-vomo`,
      donors: 100,
      gifts: 0,
      recurringGifts: 0,
    });
    const created = await admin<{ id: string; webhookSubscription: string }>(
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
    const crm = `${org}-crm`;
    sim.destinations.createAccount({
      kind: 'crm-plus',
      id: crm,
      token: `${crm}-token`,
      hourlyLimit: 10_000_000,
    });
    const set = await submitter.admin('PUT', `/admin/customers/${customerId}/destinations`, {
      destinations: [
        { kind: 'warehouse', name: 'warehouse' },
        {
          kind: 'crm-plus',
          name: 'crm-plus',
          config: { baseUrl: sim.crmUrl },
          secrets: { token: `${crm}-token` },
        },
      ],
    });
    expect(set.status).toBe(200);
    const ids = sim.control
      .records(org, 'donor')
      .filter((d) => Boolean((d as { email?: string | null }).email))
      .map((d) => (d as { id: number }).id)
      .slice(0, donors);
    for (const donorId of ids) {
      sim.control.createRecord(org, 'gift', { donorId, isTestMode: false, statusText: 'Success' });
    }
    await expectEventually(
      async () => {
        expect(await warehouseCount(customerId)).toBe(ids.length);
        expect(sim.destinations.crmGifts(crm)).toHaveLength(ids.length);
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    return { org, customerId, crm, donors: ids };
  }

  const rowsOf = async (customerId: string): Promise<LedgerRowView[]> =>
    ledgerOf(submitter, customerId);

  it("B's live latency stays bounded during A's burst; A drains in order through three kill -9s", async () => {
    const a = await onboard('ba', 20);
    const b = await onboard('bb', 10);

    /** B makes a live change every 250 ms while `busy()`; latencies to B's two destinations. */
    const probeB = async (busy: () => boolean): Promise<number[]> => {
      const made = new Map<string, number>();
      while (busy()) {
        const gift = sim.control.createRecord(b.org, 'gift', {
          donorId: b.donors[made.size % b.donors.length],
          isTestMode: false,
          statusText: 'Success',
        }) as unknown as { id: number; modifiedDate: string };
        made.set(String(gift.id), new Date(gift.modifiedDate).getTime());
        await sleep(250);
      }
      const ids = [...made.keys()];
      const latencies: number[] = [];
      await expectEventually(
        async () => {
          const rows = await stack.dataSource.query<Array<{ source_id: string; synced_at: Date }>>(
            `SELECT source_id, synced_at FROM warehouse.raise_gift WHERE customer_id = $1 AND source_id = ANY($2::text[])`,
            [b.customerId, ids],
          );
          const crm = sim.destinations.crmGifts(b.crm).filter((g) => made.has(g.transactionId));
          expect(rows).toHaveLength(ids.length);
          expect(crm).toHaveLength(ids.length);
          latencies.length = 0;
          for (const r of rows) {
            latencies.push(new Date(r.synced_at).getTime() - (made.get(r.source_id) ?? 0));
          }
          for (const g of crm) {
            latencies.push(new Date(g.createdAt).getTime() - (made.get(g.transactionId) ?? 0));
          }
        },
        { timeoutMs: 120_000, intervalMs: 250 },
      );
      return latencies;
    };

    const aloneUntil = Date.now() + 10_000;
    const alone = await probeB(() => Date.now() < aloneUntil);

    // A's bulk import: GIFTS gifts created, then each changed (a new amount), all within a
    // minute, while A's CRM+ answers in 2 s.
    sim.destinations.setDestinationFaults(a.crm, { latencyMs: CRM_LATENCY_MS });
    const newest = new Map<string, number>();
    let burstDone = false;
    const started = Date.now();
    const burst = (async () => {
      const ticks = BURST_MS / 100;
      const ids: number[] = [];
      for (let t = 0; t < ticks; t += 1) {
        // The first half of the minute creates, the second half changes what was created.
        const half = ticks / 2;
        const share = (n: number, k: number): number => Math.round((GIFTS * n) / k);
        if (t < half) {
          for (let i = share(t, half); i < share(t + 1, half); i += 1) {
            const gift = sim.control.createRecord(a.org, 'gift', {
              donorId: a.donors[i % a.donors.length],
              isTestMode: false,
              statusText: 'Success',
              amount: 10,
            }) as unknown as { id: number };
            ids.push(gift.id);
            newest.set(String(gift.id), 10);
          }
        } else {
          for (let i = share(t - half, half); i < share(t - half + 1, half); i += 1) {
            const id = ids[i] as number;
            const amount = 20 + (i % 50);
            sim.control.updateRecord(a.org, 'gift', id, { amount });
            newest.set(String(id), amount);
          }
        }
        await sleep(Math.max(0, started + (t + 1) * 100 - Date.now()));
      }
      await sim.control.flushWebhooks();
      burstDone = true;
    })();
    const during = await probeB(() => !burstDone);
    await burst;
    const ackedMs = Date.now() - started;
    process.stdout.write(
      `live burst: A's ${2 * GIFTS} webhooks acknowledged in ${ackedMs} ms; B's live latency (warehouse and CRM+) alone ${summary(alone)}, during the burst ${summary(during)}\n`,
    );
    const failedAcks = sim.control.webhookDeliveries(a.org).filter((d) => !d.success).length;
    expect(failedAcks).toBe(0);
    // Safety margin for a loaded 2-core machine; `npm run bench -- fairness` carries the target
    // (2 s).
    expect(pct(during, 0.99)).toBeLessThan(Math.max(8000, 4 * pct(alone, 0.99)));

    // A's warehouse is not held by A's CRM+.
    await expectEventually(
      async () => {
        const rows = await stack.dataSource.query<Array<{ source_id: string; amount: string }>>(
          `SELECT source_id, amount::text AS amount FROM warehouse.raise_gift WHERE customer_id = $1`,
          [a.customerId],
        );
        const current = rows.filter((r) => newest.get(r.source_id) === Number(r.amount));
        expect(current).toHaveLength(GIFTS);
      },
      { timeoutMs: 600_000, intervalMs: 1000 },
    );
    const warehouseMs = Date.now() - started;

    // A's CRM+ recovers; the submitter is killed three times while A's lane drains.
    sim.destinations.clearDestinationFaults(a.crm);
    const crmCount = (): number => sim.destinations.crmGifts(a.crm).length;
    for (let kill = 0; kill < 3; kill += 1) {
      const before = crmCount();
      await expectEventually(() => expect(crmCount()).toBeGreaterThan(before + 500), {
        timeoutMs: 300_000,
        intervalMs: 200,
      });
      expect(await submitter.app.stop('SIGKILL')).toBeNull();
      submitter = await startSubmitter(stack, prefix, {
        RAISE_API_URL: sim.raiseUrl,
        VOMO_API_URL: sim.vomoUrl,
      });
    }
    await expectEventually(
      async () => {
        const gifts = sim.destinations.crmGifts(a.crm).filter((g) => newest.has(g.transactionId));
        expect(gifts).toHaveLength(GIFTS);
        // In order per record: every gift ends at its newest amount, none at an older one.
        expect(gifts.filter((g) => newest.get(g.transactionId) !== Number(g.amount))).toEqual([]);
        for (const who of [a, b]) {
          for (const row of await rowsOf(who.customerId)) {
            expect(row).toMatchObject({ waiting: 0, inRetry: 0, deadLettered: 0, imbalance: 0 });
          }
        }
      },
      { timeoutMs: 900_000, intervalMs: 2000 },
    );
    const rows = await rowsOf(a.customerId);
    process.stdout.write(
      `live burst: A's warehouse current ${warehouseMs} ms after the burst began; CRM+ drained through 3 kills ${Date.now() - started} ms after; ledger ${JSON.stringify(rows.map((r) => [r.destination, r.received, r.delivered, r.skipped]))}\n`,
    );
  });
});

import { randomBytes } from 'node:crypto';
import type { SourceEvent } from '@raise-sync/shared/events';
import {
  artifactPath,
  expectEventually,
  launchBrowser,
  scrapeMetric,
  useTestStack,
} from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import type { Browser } from 'playwright-core';
import {
  createCustomer,
  giftEvent,
  ledgerOf,
  publish,
  startSubmitter,
  type LedgerRowView,
  type SubmitterUnderTest,
} from './support';

jest.setTimeout(600_000);

/** Retry tiers and breaker probes scaled down (30 s / 5 min / 1 h; first probe 10 s, at most 5 min). */
const ENV = {
  SUBMITTER_RETRY_DELAYS_MS: '1000,2000,4000',
  SUBMITTER_MAX_ATTEMPTS: '4',
  SUBMITTER_BREAKER_PROBE_MS: '1000',
  SUBMITTER_BREAKER_PROBE_MAX_MS: '4000',
};
/** The whole retry ladder above: 1 + 2 + 4 s. */
const LADDER_MS = 7000;

const pct = (values: number[], p: number): number => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
};

/**
 * Lanes and breakers: a destination that is down or slow holds only its own events. They wait in
 * its lane (no attempt spent, no dead letter) and drain oldest first once it can take them, while
 * every other customer's events flow as before.
 */
describe('submitter: an unavailable or slow destination waits in its own lane', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-lane`;
  let sim: Simulator;
  let submitter: SubmitterUnderTest;
  let browser: Browser | undefined;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 17 });
    submitter = await startSubmitter(stack, prefix, ENV);
  });

  afterAll(async () => {
    await browser?.close();
    await submitter?.app.stop('SIGTERM');
    await sim?.stop();
  });

  const rowOf = async (customerId: string, destination: string): Promise<LedgerRowView> => {
    const row = (await ledgerOf(submitter, customerId)).find((r) => r.destination === destination);
    if (!row) {
      throw new Error(`no ledger row for ${destination} yet`);
    }
    return row;
  };

  it("A's CRM+ down for longer than the retry ladder: 0 dead letters, breaker opens, probes, closes, everything delivered once; the console shows it paused", async () => {
    const a = await createCustomer(stack, sim, `la-${randomBytes(3).toString('hex')}`, [
      'crm-plus',
      'warehouse',
    ]);
    const b = await createCustomer(stack, sim, `lb-${randomBytes(3).toString('hex')}`, [
      'crm-plus',
    ]);
    const crmA = a.destinations['crm-plus']!.account;
    const crmB = b.destinations['crm-plus']!.account;
    sim.destinations.setDestinationFaults(crmA, { status: 503 });
    const downSince = Date.now();
    const first = Array.from({ length: 50 }, () => giftEvent(a.id));
    await publish(stack, prefix, first);
    await expectEventually(async () => {
      expect(await rowOf(a.id, 'crm-plus')).toMatchObject({ breaker: 'open' });
    });
    // More of A's gifts while the breaker is open, and B's, which must not wait.
    const later = Array.from({ length: 50 }, () => giftEvent(a.id));
    const bEvents = Array.from({ length: 20 }, () => giftEvent(b.id));
    const bSent = Date.now();
    await publish(stack, prefix, [...later, ...bEvents]);
    await expectEventually(() => {
      expect(sim.destinations.crmGifts(crmB)).toHaveLength(bEvents.length);
    });
    const bTook = Date.now() - bSent;

    // The outage outlasts the whole retry ladder three times over.
    browser = await launchBrowser();
    const issued = await submitter.admin<{ token: string }>(
      'POST',
      `/admin/customers/${a.id}/console-tokens`,
      { label: 'lanes e2e' },
    );
    expect(issued.status).toBe(201);
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${submitter.app.url}/console`);
    await page.getByTestId('token').fill(issued.body.token);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('customer-name').waitFor();
    await expectEventually(
      async () => {
        await page.reload();
        await page.getByTestId('destination-crm-plus').waitFor();
        expect(await page.getByTestId('destination-crm-plus').textContent()).toMatch(
          /paused since \d\d:\d\d UTC, \d+ waiting/,
        );
        expect(await page.getByTestId('reasons').textContent()).toMatch(
          /paused: crm-plus unavailable since \d\d:\d\d UTC, \d+ waiting/,
        );
        expect(Date.now() - downSince).toBeGreaterThan(3 * LADDER_MS);
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    await page.screenshot({ path: artifactPath('console-destination-paused.png') });
    await page.close();
    const during = await rowOf(a.id, 'crm-plus');
    const probesFailed = await scrapeMetric(
      submitter.app.url,
      'raise_sync_breaker_transitions_total',
      { customer_id: a.id, transition: 'probe_failed' },
    );
    const requestsDuringOutage = sim.destinations.destinationStats(crmA).requests.total;
    expect(during).toMatchObject({ deadLettered: 0, breaker: 'open', imbalance: 0 });
    expect(during.waiting).toBeGreaterThan(0);
    expect(probesFailed).toBeGreaterThanOrEqual(1);
    expect(
      await scrapeMetric(submitter.app.url, 'raise_sync_destination_paused', {
        customer_id: a.id,
        destination: 'crm-plus',
      }),
    ).toBe(1);
    // The warehouse of the same customer is not held by its CRM+.
    expect(await rowOf(a.id, 'warehouse')).toMatchObject({ delivered: 100, waiting: 0 });

    const recovered = Date.now();
    sim.destinations.clearDestinationFaults(crmA);
    await expectEventually(
      async () => {
        expect(sim.destinations.crmGifts(crmA)).toHaveLength(100);
        expect(await rowOf(a.id, 'crm-plus')).toMatchObject({
          delivered: 100,
          waiting: 0,
          inRetry: 0,
          deadLettered: 0,
          imbalance: 0,
          breaker: 'closed',
        });
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const drained = Date.now() - recovered;
    const ids = [...first, ...later].map((e) => e.recordId).sort();
    expect(
      sim.destinations
        .crmGifts(crmA)
        .map((g) => g.transactionId)
        .sort(),
    ).toEqual(ids);
    const [attempts] = await stack.dataSource.query<Array<{ most: number }>>(
      `SELECT max(attempts)::int AS most FROM sync_records WHERE destination_id = $1`,
      [a.destinations['crm-plus']!.id],
    );
    process.stdout.write(
      `lanes: outage of ${recovered - downSince} ms (ladder ${LADDER_MS} ms): ${requestsDuringOutage} CRM+ requests for 100 gifts during it, ${probesFailed} failed probes, ${during.waiting} waiting, 0 dead letters; drained ${drained} ms after recovery; most attempts of a record ${attempts?.most}; B's 20 gifts in ${bTook} ms\n`,
    );
    // Far fewer requests than attempts of every gift through the ladder (100 × 4).
    expect(requestsDuringOutage).toBeLessThan(100);
    // The failure that happened before the breaker opened, and the delivery: nothing else.
    expect(attempts?.most).toBeLessThanOrEqual(2);
    expect(bTook).toBeLessThan(LADDER_MS);
  });

  it("A's burst to a webhook answering in 2 s: B's live latency stays bounded; A drains in order per record through three kill -9s", async () => {
    const a = await createCustomer(stack, sim, `ls-${randomBytes(3).toString('hex')}`, [
      'webhook',
      'warehouse',
    ]);
    const b = await createCustomer(stack, sim, `lq-${randomBytes(3).toString('hex')}`, [
      'webhook',
      'warehouse',
    ]);
    const hookA = a.destinations.webhook!.account;
    const hookB = b.destinations.webhook!.account;

    /** B's end-to-end latencies (publish to arrival) at its webhook and its warehouse. */
    const measureB = async (waves: number): Promise<number[]> => {
      const latencies: number[] = [];
      for (let w = 0; w < waves; w += 1) {
        const wave = Array.from({ length: 20 }, () => giftEvent(b.id));
        const ids = new Set(wave.map((e) => e.recordId));
        const sent = Date.now();
        await publish(stack, prefix, wave);
        await expectEventually(
          async () => {
            const rows = await stack.dataSource.query<Array<{ synced_at: Date }>>(
              `SELECT synced_at FROM warehouse.raise_gift WHERE customer_id = $1 AND source_id = ANY($2::text[])`,
              [b.id, [...ids]],
            );
            const hooks = sim.destinations
              .hookDeliveries(hookB)
              .filter((d) => ids.has(d.recordId ?? ''));
            expect(rows).toHaveLength(ids.size);
            expect(hooks).toHaveLength(ids.size);
            latencies.push(
              ...rows.map((r) => new Date(r.synced_at).getTime() - sent),
              ...hooks.map((d) => new Date(d.receivedAt).getTime() - sent),
            );
          },
          { timeoutMs: 60_000, intervalMs: 50 },
        );
      }
      return latencies;
    };
    const alone = await measureB(3);

    // A: 500 records in 4 versions each, newest last, to a webhook answering in 2 s.
    sim.destinations.setDestinationFaults(hookA, { latencyMs: 2000 });
    const base = Date.now() - 60_000;
    const aEvents: SourceEvent[] = [];
    const records = Array.from({ length: 500 }, () => giftEvent(a.id).recordId);
    for (let v = 0; v < 4; v += 1) {
      for (const id of records) {
        aEvents.push(
          giftEvent(a.id, {
            id: Number(id),
            modifiedAt: new Date(base + v * 1000),
            amount: `${10 + v}.00`,
          }),
        );
      }
    }
    await publish(stack, prefix, aEvents);
    await expectEventually(async () => {
      expect((await rowOf(a.id, 'webhook')).waiting).toBeGreaterThan(0);
    });
    const during = await measureB(5);
    const summary = (xs: number[]): string =>
      `p50 ${pct(xs, 0.5)} / p95 ${pct(xs, 0.95)} / p99 ${pct(xs, 0.99)} ms`;
    process.stdout.write(
      `lanes: B's live latency alone ${summary(alone)}; during A's ${aEvents.length}-event burst to a 2 s webhook ${summary(during)} (A delivered ${sim.destinations.hookDeliveries(hookA).length} by then)\n`,
    );
    // Safety margin: the task budget (1 s) plus one 2 s request in flight, twice over.
    expect(pct(during, 0.99)).toBeLessThan(Math.max(6000, 3 * pct(alone, 0.99)));

    // A's webhook speeds up (still slower than B's) and the submitter is killed three times
    // while A drains its lane.
    sim.destinations.setDestinationFaults(hookA, { latencyMs: 300 });
    const arrived = (): number => sim.destinations.hookDeliveries(hookA).length;
    for (let kill = 0; kill < 3; kill += 1) {
      const before = arrived();
      await expectEventually(() => expect(arrived()).toBeGreaterThan(before + 30), {
        timeoutMs: 120_000,
        intervalMs: 100,
      });
      expect(await submitter.app.stop('SIGKILL')).toBeNull();
      submitter = await startSubmitter(stack, prefix, ENV);
    }
    sim.destinations.clearDestinationFaults(hookA);
    const newest = new Map(records.map((id) => [id, new Date(base + 3000).toISOString()]));
    await expectEventually(
      async () => {
        const last = new Map<string, string>();
        for (const d of sim.destinations.hookDeliveries(hookA)) {
          last.set(d.recordId ?? '', (d.body as { sourceModifiedAt: string }).sourceModifiedAt);
        }
        expect(last).toEqual(newest);
        for (const destination of ['webhook', 'warehouse']) {
          expect(await rowOf(a.id, destination)).toMatchObject({
            waiting: 0,
            inRetry: 0,
            deadLettered: 0,
            imbalance: 0,
          });
        }
      },
      { timeoutMs: 240_000, intervalMs: 1000 },
    );
    // In order per record: no record's older version arrived after a newer one.
    const seen = new Map<string, string>();
    const overtaken: string[] = [];
    for (const d of sim.destinations.hookDeliveries(hookA)) {
      const at = (d.body as { sourceModifiedAt: string }).sourceModifiedAt;
      const previous = seen.get(d.recordId ?? '');
      if (previous !== undefined && at < previous) {
        overtaken.push(`${d.recordId}: ${at} after ${previous}`);
      }
      seen.set(d.recordId ?? '', at);
    }
    expect(overtaken).toEqual([]);
    const amounts = await stack.dataSource.query<Array<{ source_id: string; amount: string }>>(
      `SELECT source_id, amount::text AS amount FROM warehouse.raise_gift WHERE customer_id = $1`,
      [a.id],
    );
    expect(amounts).toHaveLength(records.length);
    expect(amounts.filter((r) => Number(r.amount) !== 13)).toEqual([]);
    process.stdout.write(
      `lanes: A's ${aEvents.length} events drained through 3 kills: ${sim.destinations.hookDeliveries(hookA).length} webhook deliveries (${sim.destinations.hookDuplicates(hookA).length} duplicates absorbed by the idempotency key), every record at its newest version, in order\n`,
    );
  });
});

import { randomBytes } from 'node:crypto';
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
});

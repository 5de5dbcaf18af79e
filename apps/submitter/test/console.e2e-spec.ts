import { randomBytes } from 'node:crypto';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  adminClient,
  artifactPath,
  expectEventually,
  launchBrowser,
  scrapeMetric,
  useTestStack,
  type AdminCall,
  type RunningApp,
} from '@raise-sync/testing';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_TOKEN, startIngest, startSubmitter, type SubmitterUnderTest } from './support';

interface Customer {
  id: string;
  org: string;
  raiseToken: string;
  hooksAccount: string;
  hooksDestinationId: string;
  warehouseDestinationId: string;
}

interface TrailView {
  found: boolean;
  records: Array<{
    resource: string;
    captures: Array<{ origin: string; topic: string; partition: number; offset: string }>;
    destinations: Array<{
      destinationId: string;
      status: string;
      destinationRecordId: string | null;
      attempts: number;
    }>;
    deadLetters: Array<{ id: string; status: string }>;
  }>;
}

/**
 * The sync-health console in a real (headless) Chromium against the built ingest and submitter,
 * real Kafka, registry and PostgreSQL: gifts arrive by signed webhook, the warehouse takes them,
 * a webhook destination refuses them (422, dead letters). A customer's read-only token sees its
 * own health and audit trail and is refused another customer's data and every action; the admin
 * token sees every customer and retries or discards dead letters from the page.
 */
describe('submitter: sync-health console in a browser', () => {
  const stack = useTestStack();
  const prefix = `console-${randomBytes(3).toString('hex')}`;
  let sim: Simulator;
  let ingest: RunningApp;
  let ingestAdmin: AdminCall;
  let submitter: SubmitterUnderTest;
  let browser: Browser;
  let a: Customer;
  let b: Customer;
  let emittedDonors: { firstId: number | null; lastId: number | null };

  async function onboard(name: string): Promise<Customer> {
    const org = `${prefix}-${name}`;
    const raiseToken = `raise-${org}`;
    sim.control.createOrg({
      id: org,
      raiseToken,
      vomoToken: `vomo-${org}`,
      donors: 3,
      gifts: 0,
      recurringGifts: 0,
      campaigns: 1,
      users: 0,
      testModeFraction: 0,
    });
    const hooksAccount = `${org}-hooks`;
    const hooksSecret = `secret-${org}-0123456789`;
    sim.destinations.createAccount({ kind: 'webhook', id: hooksAccount, secret: hooksSecret });
    const created = await ingestAdmin<{ id: string; webhookSubscription: string }>(
      'POST',
      '/admin/customers',
      {
        name: `Customer ${name.toUpperCase()}`,
        raise: { apiToken: raiseToken },
        polling: { enabled: false },
      },
    );
    expect(created.status).toBe(201);
    // The Raise webhook is subscribed as part of onboarding.
    expect(created.body.webhookSubscription).toBe('subscribed');
    const id = created.body.id;
    const set = await submitter.admin<{ destinations: Array<{ id: string; kind: string }> }>(
      'PUT',
      `/admin/customers/${id}/destinations`,
      {
        destinations: [
          { kind: 'warehouse', name: 'warehouse' },
          {
            kind: 'webhook',
            name: 'partner-hook',
            config: { url: `${sim.hooksUrl}/${hooksAccount}`, resources: ['gift'] },
            secrets: { secret: hooksSecret },
          },
        ],
      },
    );
    expect(set.status).toBe(200);
    const destinationId = (kind: string): string =>
      set.body.destinations.find((d) => d.kind === kind)?.id ?? '';
    return {
      id,
      org,
      raiseToken,
      hooksAccount,
      hooksDestinationId: destinationId('webhook'),
      warehouseDestinationId: destinationId('warehouse'),
    };
  }

  async function consoleToken(customerId: string): Promise<string> {
    const issued = await submitter.admin<{ token: string }>(
      'POST',
      `/admin/customers/${customerId}/console-tokens`,
      { label: 'e2e' },
    );
    expect(issued.status).toBe(201);
    return issued.body.token;
  }

  async function api<T>(
    token: string,
    path: string,
    method = 'GET',
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`${submitter.app.url}/console/api${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.goto(`${submitter.app.url}/console`);
    await page.getByTestId('token').fill(token);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('role').waitFor();
  }

  beforeAll(async () => {
    sim = await startSimulator({});
    ingest = await startIngest(stack, prefix, sim, 'raise=200:200,vomo=200:200');
    ingestAdmin = adminClient(ingest.url, ADMIN_TOKEN);
    submitter = await startSubmitter(stack, prefix, {
      RAISE_API_URL: sim.raiseUrl,
    });
    a = await onboard('a');
    b = await onboard('b');
    // A's partner hook refuses everything (permanent 422): each gift becomes a dead letter there,
    // while the warehouse takes it.
    sim.destinations.setDestinationFaults(a.hooksAccount, { status: 422 });
    sim.control.emitWebhooks(a.org, { count: 6, resource: 'gift' });
    emittedDonors = sim.control.emitWebhooks(a.org, { count: 12, resource: 'donor' });
    sim.control.emitWebhooks(b.org, { count: 3, resource: 'gift' });
    await sim.control.flushWebhooks();
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await submitter?.app.stop();
    await ingest?.stop();
    await sim?.stop();
  });

  it("shows a customer its own health and a gift's audit trail, and refuses it another customer's data", async () => {
    // Wait until the pipeline has dead-lettered A's gifts at the hook and the warehouse has them.
    let deadLetters: Array<{ id: string; sourceId: string; resource: string }> = [];
    await expectEventually(
      async () => {
        const { body } = await submitter.admin<typeof deadLetters>(
          'GET',
          `/admin/dead-letters?customerId=${a.id}&status=open`,
        );
        expect(body.filter((d) => d.resource === 'gift')).toHaveLength(6);
        deadLetters = body;
      },
      { timeoutMs: 60_000 },
    );
    const giftId = deadLetters[0]!.sourceId;
    let trail: TrailView = { found: false, records: [] };
    await expectEventually(
      async () => {
        const { body } = await api<TrailView>(
          ADMIN_TOKEN,
          `/customers/${a.id}/records/${giftId}?resource=gift`,
        );
        expect(
          body.records[0]?.destinations.map((d) => [d.destinationId, d.status]).sort(),
        ).toEqual(
          [
            [a.hooksDestinationId, 'failed'],
            [a.warehouseDestinationId, 'confirmed'],
          ].sort(),
        );
        trail = body;
      },
      { timeoutMs: 30_000 },
    );
    // The trail says how the gift came in and where it sits in Kafka.
    const gift = trail.records[0]!;
    expect(gift.captures).toEqual([
      expect.objectContaining({
        origin: 'webhook',
        topic: `${prefix}.source.raise.gift`,
        partition: expect.any(Number) as number,
        offset: expect.stringMatching(/^\d+$/) as string,
      }),
    ]);
    expect(gift.deadLetters).toEqual([expect.objectContaining({ status: 'open' })]);

    const tokenA = await consoleToken(a.id);
    const tokenB = await consoleToken(b.id);
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    try {
      await signIn(page, tokenA);
      // A read-only token goes straight to its customer.
      await page.getByTestId('customer-name').waitFor();
      expect(await page.getByTestId('role').textContent()).toContain('read-only');
      expect(await page.getByTestId('customer-name').textContent()).toContain('Customer A');
      // Created with no mode and no backfill: its history comes by polling.
      expect(await page.getByTestId('onboarding-mode').textContent()).toBe(
        'onboarded without a backfill (history read by polling)',
      );
      expect(Number(await page.getByTestId('synced-today').textContent())).toBeGreaterThanOrEqual(
        6 + 12,
      );
      expect(await page.getByTestId('open-dead-letters').textContent()).toBe(
        String(deadLetters.length),
      );
      expect(await page.getByTestId('reasons').textContent()).toContain('open dead letter');
      expect(await page.getByTestId('sources').textContent()).toContain('subscribed');
      // Read-only: the dead letters are listed without actions.
      await page.getByTestId(`dead-letter-${deadLetters[0]!.id}`).waitFor();
      expect(await page.getByTestId('retry').count()).toBe(0);

      // The audit trail of one gift, found by its Raise ID.
      await page.getByTestId('record-id').fill(giftId);
      await page.getByTestId('record-resource').selectOption('gift');
      await page.getByTestId('record-go').click();
      const section = page.getByTestId('trail-gift');
      await section.waitFor();
      const captures = await section.getByTestId('captures').textContent();
      expect(captures).toContain('webhook');
      expect(captures).toContain(`${prefix}.source.raise.gift`);
      const warehouseRow = section.getByTestId(`trail-destination-${a.warehouseDestinationId}`);
      expect(await warehouseRow.textContent()).toContain('confirmed');
      expect(
        await section.getByTestId(`trail-destination-${a.hooksDestinationId}`).textContent(),
      ).toContain('failed');
      expect(await section.getByTestId('trail-dead-letters').textContent()).toContain('open');
      await page.screenshot({
        path: artifactPath('console-customer-a-gift-trail.png'),
        fullPage: true,
      });

      // A donor with a crmKey: the trail links to CRM+ through crmKeyUrls read from Raise.
      const donors = await fetchDonorsWithCrmKey(sim, a, emittedDonors);
      expect(donors.length).toBeGreaterThan(0);
      const donor = donors[0]!;
      const links = await api<{ links: Array<{ url: string }>; unavailable: string | null }>(
        tokenA,
        `/customers/${a.id}/records/${donor.id}/links?resource=donor`,
      );
      expect(links.body).toEqual(
        expect.objectContaining({ links: [expect.objectContaining({ url: donor.url })] }),
      );
      await page.goto(
        `${submitter.app.url}/console#/customers/${a.id}/records/${donor.id}?resource=donor`,
      );
      const link = page.getByTestId('links-donor').getByTestId('crm-link').first();
      await link.waitFor();
      expect(await link.getAttribute('href')).toBe(donor.url);

      // Another customer's page is refused, in the browser and at the API.
      await page.goto(`${submitter.app.url}/console#/customers/${b.id}`);
      await page.getByTestId('error').waitFor();
      expect(await page.getByTestId('error').textContent()).toContain('another customer');
      await page.screenshot({ path: artifactPath('console-customer-a-refused-b.png') });
    } finally {
      await page.close();
    }
    expect((await api(tokenA, `/customers/${b.id}/health`)).status).toBe(403);
    expect((await api(tokenA, `/customers/${b.id}/records/${giftId}`)).status).toBe(403);
    expect((await api(tokenA, `/customers/${b.id}/dead-letters`)).status).toBe(403);
    expect(
      (await api(tokenA, `/customers/${a.id}/dead-letters/${deadLetters[0]!.id}/retry`, 'POST'))
        .status,
    ).toBe(403);
    expect((await api(tokenB, `/customers/${a.id}/records/${giftId}`)).status).toBe(403);
    const listed = await api<Array<{ id: string }>>(tokenA, '/customers');
    expect(listed.body.map((c) => c.id)).toEqual([a.id]);
    expect((await api('rsc_not-a-real-token', '/customers')).status).toBe(401);
    expect(
      await scrapeMetric(submitter.app.url, 'raise_sync_console_access_denied_total', {
        customer_id: a.id,
        reason: 'other_customer',
      }),
    ).toBeGreaterThanOrEqual(4);

    // A revoked token stops working at once.
    const tokens = await submitter.admin<Array<{ id: string }>>(
      'GET',
      `/admin/customers/${b.id}/console-tokens`,
    );
    expect(
      (await submitter.admin('POST', `/admin/console-tokens/${tokens.body[0]!.id}/revoke`)).status,
    ).toBe(200);
    expect((await api(tokenB, '/customers')).status).toBe(401);
  });

  it('lets an operator see every customer and retry or discard dead letters from the page', async () => {
    const open = async (): Promise<Array<{ id: string; sourceId: string }>> =>
      (
        await submitter.admin<Array<{ id: string; sourceId: string; resource: string }>>(
          'GET',
          `/admin/dead-letters?customerId=${a.id}&status=open`,
        )
      ).body;
    const before = await open();
    expect(before.length).toBeGreaterThanOrEqual(2);
    // The partner hook is fixed: a retried dead letter now gets through.
    sim.destinations.setDestinationFaults(a.hooksAccount, {});

    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    page.on('dialog', (dialog) => void dialog.accept());
    try {
      await signIn(page, ADMIN_TOKEN);
      expect(await page.getByTestId('role').textContent()).toContain('operator');
      await page.getByTestId(`customer-${a.id}`).waitFor();
      await page.getByTestId(`customer-${b.id}`).waitFor();
      expect(await page.getByTestId(`customer-${a.id}`).textContent()).toContain('attention');
      await page.getByTestId(`customer-${a.id}`).click();
      await page.getByTestId('customer-name').waitFor();

      const [toRetry, toDiscard] = before;
      await page.getByTestId(`dead-letter-${toRetry!.id}`).getByTestId('retry').click();
      await page.getByTestId(`dead-letter-${toRetry!.id}`).waitFor({ state: 'detached' });
      await page.getByTestId(`dead-letter-${toDiscard!.id}`).getByTestId('discard').click();
      await page.getByTestId(`dead-letter-${toDiscard!.id}`).waitFor({ state: 'detached' });
      // The whole page is drawn again after an action: the count follows the list.
      expect(await page.getByTestId('open-dead-letters').textContent()).toBe(
        String(before.length - 2),
      );
      // Dead letters are grouped by destination and reason: one group here, all at the hook.
      const group = page.getByTestId('dead-letter-group-0');
      expect(await group.textContent()).toContain(String(before.length - 2));
      expect(await page.getByTestId('dead-letter-group-1').count()).toBe(0);
      // Nothing of A's waits for a fix in the source (it has no email-keyed destination).
      await page.getByTestId('source-fix-none').waitFor();
      await page.screenshot({
        path: artifactPath('console-operator-dead-letters.png'),
        fullPage: true,
      });
      // Retry all: the rest of the group goes back through the pipeline.
      await group.getByTestId('retry-group').click();
      await group.waitFor({ state: 'detached' });
      expect(await page.getByTestId('open-dead-letters').textContent()).toBe('0');
    } finally {
      await page.close();
    }

    expect(await open()).toEqual([]);
    // The retried gifts (one by one and as a group) reach the partner hook; the discarded one
    // stays undelivered there.
    const retried = [before[0]!, ...before.slice(2)];
    await expectEventually(
      async () => {
        for (const letter of retried) {
          const { body } = await api<TrailView>(
            ADMIN_TOKEN,
            `/customers/${a.id}/records/${letter.sourceId}?resource=gift`,
          );
          const hook = body.records[0]?.destinations.find(
            (d) => d.destinationId === a.hooksDestinationId,
          );
          expect(hook?.status).toBe('confirmed');
        }
      },
      { timeoutMs: 30_000 },
    );
    const discarded = await api<TrailView>(
      ADMIN_TOKEN,
      `/customers/${a.id}/records/${before[1]!.sourceId}?resource=gift`,
    );
    expect(discarded.body.records[0]?.deadLetters.map((d) => d.status)).toEqual(['discarded']);
  });
});

/** Donors of the org that Raise links to a CRM+ record (their crmKeyUrls), read from the simulator. */
async function fetchDonorsWithCrmKey(
  sim: Simulator,
  customer: Customer,
  emitted: { firstId: number | null; lastId: number | null },
): Promise<Array<{ id: string; url: string }>> {
  const found: Array<{ id: string; url: string }> = [];
  const synced = sim.control
    .recordKeys(customer.org, 'donor')
    .filter((k) => k.id >= (emitted.firstId ?? Infinity) && k.id <= (emitted.lastId ?? -Infinity));
  for (const key of synced) {
    const res = await fetch(`${sim.raiseUrl}/api/Donor/${key.id}`, {
      headers: { authorization: `Bearer ${customer.raiseToken}` },
    });
    const donor = (await res.json()) as { crmKeyUrls?: Record<string, { url?: string }> | null };
    const url = Object.values(donor.crmKeyUrls ?? {})[0]?.url;
    if (url) {
      found.push({ id: String(key.id), url });
    }
  }
  return found;
}

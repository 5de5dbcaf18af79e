import { randomBytes } from 'node:crypto';
import {
  adminClient,
  compareDestinations,
  expectEventually,
  expectNoDifferences,
  scrapeMetric,
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

jest.setTimeout(480_000);

const CREATED = 500;
const CHANGED = 300;

type Model = Record<string, unknown>;

/** The donor's email as Raise shows it: `email`, else the primary `donorEmailAddresses` entry. */
function emailOf(donor: Model | undefined): string | null {
  if (!donor) {
    return null;
  }
  if (typeof donor.email === 'string' && donor.email !== '') {
    return donor.email;
  }
  const addresses = Array.isArray(donor.donorEmailAddresses)
    ? (donor.donorEmailAddresses as Model[])
    : [];
  const primary = addresses.find((a) => a.isPrimary === true);
  return typeof primary?.value === 'string' ? primary.value : null;
}

interface Onboarded {
  customerId: string;
  crm: string;
  accounting: string;
}

/**
 * Gifts made in Raise reach every destination by webhook alone, the way Raise sends them: the
 * gift without its donor. The submitter completes them with the donor, so CRM+ (which needs the
 * donor's email) takes them and accounting invoices carry the contact.
 */
describe('submitter: webhook gifts reach CRM+, accounting and the warehouse with their donor', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-wg`;
  let sim: Simulator;
  let submitter: SubmitterUnderTest;
  let ingest: RunningApp;

  const admin: AdminCall = (method, path, body) =>
    adminClient(ingest.url, ADMIN_TOKEN)(method, path, body);

  beforeAll(async () => {
    sim = await startSimulator({ seed: 41 });
    submitter = await startSubmitter(stack, prefix, {
      // The submitter reads donors from Raise when it must complete a gift.
      RAISE_API_URL: sim.raiseUrl,
      VOMO_API_URL: sim.vomoUrl,
      SOURCE_RATE_LIMITS: 'raise=20:20,vomo=20:20',
    });
    ingest = await startIngest(stack, prefix, sim);
  });

  afterAll(async () => {
    await ingest?.stop('SIGTERM');
    await submitter?.app.stop('SIGTERM');
    await sim?.stop();
  });

  /**
   * A customer onboarded through ingest's admin API, Raise webhook subscribed, and three
   * destinations set on the submitter's.
   */
  async function onboard(org: string, donors: number, polling = true): Promise<Onboarded> {
    sim.control.createOrg({
      id: org,
      raiseToken: `${org}-raise`,
      vomoToken: `${org}-vomo`,
      donors,
      gifts: 0,
      recurringGifts: 0,
    });
    const created = await admin<{ id: string; webhookSubscription: string }>(
      'POST',
      '/admin/customers',
      {
        name: org,
        raise: { apiToken: `${org}-raise` },
        ...(polling ? {} : { polling: { enabled: false } }),
      },
    );
    expect(created.status).toBe(201);
    // The Raise webhook is subscribed as part of onboarding.
    expect(created.body.webhookSubscription).toBe('subscribed');
    const customerId = created.body.id;
    const crm = `${org}-crm`;
    const accounting = `${org}-acct`;
    sim.destinations.createAccount({ kind: 'crm-plus', id: crm, token: `${crm}-token` });
    sim.destinations.createAccount({
      kind: 'accounting',
      id: accounting,
      token: `${accounting}-token`,
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
        {
          kind: 'accounting',
          name: 'accounting',
          config: { baseUrl: sim.accountingUrl },
          secrets: { token: `${accounting}-token` },
        },
      ],
    });
    expect(set.status).toBe(200);
    return { customerId, crm, accounting };
  }

  /**
   * Settled: the warehouse shows the source's latest version of every gift, and every destination
   * has received as many events as the others with nothing left in retry.
   */
  async function settled(customerId: string, org: string): Promise<LedgerRowView[]> {
    const latest = new Map(
      sim.control
        .records(org, 'gift')
        .map((g) => [String(g.id), new Date(g.modifiedDate).getTime()]),
    );
    await expectEventually(
      async () => {
        const rows: Array<{ source_id: string; at: Date }> = await stack.dataSource.query(
          `SELECT source_id, source_modified_at AS at FROM warehouse.raise_gift WHERE customer_id = $1`,
          [customerId],
        );
        const current = rows.filter((r) => latest.get(r.source_id) === new Date(r.at).getTime());
        expect(current.length).toBe(latest.size);
      },
      { timeoutMs: 240_000, intervalMs: 1000 },
    );
    let rows: LedgerRowView[] = [];
    await expectEventually(
      async () => {
        rows = await ledgerOf(submitter, customerId);
        expect(rows).toHaveLength(3);
        expect(new Set(rows.map((r) => r.received)).size).toBe(1);
        for (const row of rows) {
          expect(row).toEqual(expect.objectContaining({ inRetry: 0, waiting: 0, imbalance: 0 }));
        }
      },
      { timeoutMs: 240_000, intervalMs: 1000 },
    );
    return rows;
  }

  it(`${CREATED} gifts created and ${CHANGED} changed in Raise, by webhook only, match the source at CRM+, accounting and the warehouse`, async () => {
    const org = `wg-${randomBytes(3).toString('hex')}`;
    const { customerId, crm, accounting } = await onboard(org, 150);

    const ids: number[] = [];
    for (let i = 0; i < CREATED; i += 1) {
      ids.push((sim.control.createRecord(org, 'gift') as { id: number }).id);
    }
    await sim.control.flushWebhooks();
    // Changes: new amounts, segments and a share of refunds, each fired as "updated".
    for (const [i, id] of ids.slice(0, CHANGED).entries()) {
      const patch: Model =
        i % 10 === 0
          ? { statusText: 'Refunded' }
          : { amount: 10 + (i % 37) * 5 + 0.25, segment: i % 3 === 0 ? 'Spring Appeal' : null };
      sim.control.updateRecord(org, 'gift', id, patch);
    }
    await sim.control.flushWebhooks();

    const rows = await settled(customerId, org);
    const source = new Map(
      sim.control.records(org, 'gift').map((g) => [String((g as Model).id), g as Model]),
    );
    const donors = new Map(
      sim.control.records(org, 'donor').map((d) => [String((d as Model).id), d as Model]),
    );
    const donorOf = (gift: Model): Model | undefined => donors.get(String(gift.donorId));
    const live = [...source.values()].filter((g) => g.isTestMode !== true);
    const withEmail = live.filter((g) => emailOf(donorOf(g)) !== null);
    expect(withEmail.length).toBeGreaterThan(CREATED * 0.5);

    // CRM+: every gift whose donor has an email, with the right amount and segment; refunds as
    // reversing transactions.
    const crmGifts = new Map(sim.destinations.crmGifts(crm).map((g) => [g.transactionId, g]));
    const wrong: string[] = [];
    for (const gift of withEmail) {
      const id = String(gift.id);
      const there = crmGifts.get(id);
      if (!there) {
        wrong.push(`${id}: missing in CRM+`);
        continue;
      }
      if (there.amount !== gift.amount) {
        wrong.push(`${id}: amount ${there.amount} != ${String(gift.amount)}`);
      }
      if ((there.segment ?? null) !== (gift.segment ?? null)) {
        wrong.push(`${id}: segment ${there.segment} != ${String(gift.segment)}`);
      }
      const refund = crmGifts.get(`${id}-refund`);
      if (gift.statusText === 'Refunded' && refund?.amount !== -(gift.amount as number)) {
        wrong.push(`${id}: refund ${refund?.amount} != -${String(gift.amount)}`);
      }
      if (gift.statusText !== 'Refunded' && refund) {
        wrong.push(`${id}: refund transaction for a gift that is not refunded`);
      }
    }
    expect(wrong.slice(0, 20)).toEqual([]);

    // Accounting, record by record and field by field: contact from the donor, the gift's
    // current amount (a changed amount re-issues the invoice), a credit note for each refund.
    const [accountingReport] = await compareDestinations({
      source: sim.control,
      org,
      destinations: sim.destinations,
      db: stack.dataSource,
      targets: [{ kind: 'accounting', account: accounting }],
    });
    expect(accountingReport!.checked).toBeGreaterThan(CREATED * 0.5);
    expectNoDifferences([accountingReport!]);
    const reissued = sim.destinations
      .invoices(accounting)
      .filter((inv) => inv.voidReason === 'amended in Raise');
    expect(reissued.length).toBeGreaterThan(0);

    // Warehouse: the donor's email on every gift row.
    const warehouse: Array<{ source_id: string; donor_email: string | null; amount: string }> =
      await stack.dataSource.query(
        `SELECT source_id, donor_email, amount::text AS amount FROM warehouse.raise_gift WHERE customer_id = $1`,
        [customerId],
      );
    expect(warehouse).toHaveLength(source.size);
    const rowWrong = warehouse.filter((r) => {
      const gift = source.get(r.source_id) as Model;
      return r.donor_email !== emailOf(donorOf(gift)) || Number(r.amount) !== gift.amount;
    });
    expect(rowWrong.slice(0, 20)).toEqual([]);

    // No dead letters: what CRM+ cannot take as Raise has it (a donor without email, and the
    // gifts waiting for it) is held for a fix in the source, each hold explained by the source.
    const { body: dead } = await submitter.admin<unknown[]>(
      'GET',
      `/admin/dead-letters?customerId=${customerId}&limit=1000`,
    );
    expect(dead).toEqual([]);
    const [crmDestination] = await stack.dataSource.query<Array<{ id: string }>>(
      `SELECT id FROM destinations WHERE customer_id = $1 AND kind = 'crm-plus'`,
      [customerId],
    );
    const holds: Array<{
      destination_id: string;
      resource: string;
      source_id: string;
      problem: string;
      waiting_for: string;
    }> = await stack.dataSource.query(
      `SELECT destination_id, resource, source_id, problem, waiting_for FROM source_fix_holds
        WHERE customer_id = $1 AND status = 'open'`,
      [customerId],
    );
    expect(holds.filter((h) => h.destination_id !== crmDestination?.id)).toEqual([]);
    const unexplained = holds.filter((hold) => {
      const donor =
        hold.resource === 'gift'
          ? donorOf(source.get(hold.source_id) as Model)
          : donors.get(hold.source_id);
      const expected = hold.resource === 'gift' ? 'donor_without_email' : 'contact_without_email';
      return (
        hold.problem !== expected ||
        hold.waiting_for !== `donor:${String(donor?.id)}` ||
        emailOf(donor) !== null
      );
    });
    expect(unexplained.slice(0, 20)).toEqual([]);
    const heldGifts = new Set(holds.filter((h) => h.resource === 'gift').map((h) => h.source_id));
    const expectedHeld = live.filter((g) => emailOf(donorOf(g)) === null).map((g) => String(g.id));
    expect([...heldGifts].sort()).toEqual(expectedHeld.sort());
    const crmRow = rows.find((r) => r.destination === 'crm-plus');
    expect(crmRow?.deadLettered).toBe(0);
    expect(crmRow?.needsSourceFix).toBe(holds.length);
    // The admin API says it in words, by cause.
    const { body: fixes } = await submitter.admin<{
      total: number;
      groups: Array<{ problem: string; resource: string; records: number; summary: string }>;
    }>('GET', `/admin/customers/${customerId}/source-fixes`);
    const giftGroup = fixes.groups.find((g) => g.problem === 'donor_without_email');
    expect(giftGroup?.records).toBe(heldGifts.size);
    expect(giftGroup?.summary).toMatch(
      new RegExp(`^${heldGifts.size} gifts? waits? for \\d+ donors? without an email$`),
    );
    // Completed from the source API (donors first seen through their gifts) or from what the
    // submitter already knew; never left empty.
    const completed =
      ((await scrapeMetric(submitter.app.url, 'raise_sync_records_completed_total', {
        customer_id: customerId,
        outcome: 'fetched',
      })) ?? 0) +
      ((await scrapeMetric(submitter.app.url, 'raise_sync_records_completed_total', {
        customer_id: customerId,
        outcome: 'known',
      })) ?? 0);
    expect(completed).toBeGreaterThanOrEqual(CREATED);
  });

  it('a donor without email and its gift, held at CRM+ (needs_source_fix, no dead letter), are delivered on their own once the email is added in Raise', async () => {
    const org = `wr-${randomBytes(3).toString('hex')}`;
    const { customerId, crm } = await onboard(org, 5);
    const donor = sim.control.createRecord(org, 'donor', {
      email: null,
      donorEmailAddresses: [],
      isTestMode: false,
    }) as unknown as Model;
    const gift = sim.control.createRecord(org, 'gift', {
      donorId: donor.id,
      isTestMode: false,
      statusText: 'Success',
    } as never) as unknown as Model;
    await sim.control.flushWebhooks();
    // This donor's and this gift's open holds (the org's seeded donors may lack an email too:
    // those are held for good, and seen once the first poll reads them).
    const holdsOf = (): Promise<Array<{ resource: string; source_id: string; problem: string }>> =>
      stack.dataSource.query(
        `SELECT resource, source_id, problem FROM source_fix_holds
          WHERE customer_id = $1 AND status = 'open'
            AND ((resource = 'donor' AND source_id = $2) OR (resource = 'gift' AND source_id = $3))`,
        [customerId, String(donor.id), String(gift.id)],
      );
    const openHolds = async (): Promise<number> =>
      Number(
        (
          await stack.dataSource.query<Array<{ n: string }>>(
            `SELECT count(*) AS n FROM source_fix_holds WHERE customer_id = $1 AND status = 'open'`,
            [customerId],
          )
        )[0]?.n,
      );
    await expectEventually(
      async () => {
        const held = await holdsOf();
        // (More than one per record when the first poll read it too: each copy is held once.)
        expect(new Set(held.map((h) => `${h.resource}:${h.source_id}:${h.problem}`))).toEqual(
          new Set([
            `donor:${String(donor.id)}:contact_without_email`,
            `gift:${String(gift.id)}:donor_without_email`,
          ]),
        );
      },
      { timeoutMs: 60_000 },
    );
    const { body: dead } = await submitter.admin<unknown[]>(
      'GET',
      `/admin/dead-letters?customerId=${customerId}&status=open`,
    );
    expect(dead).toEqual([]);
    expect(sim.destinations.crmGifts(crm).map((g) => g.transactionId)).not.toContain(
      String(gift.id),
    );
    // Not a failure: no dead-letter metric, so the dead-letter alert has nothing to fire on.
    expect(
      (await scrapeMetric(submitter.app.url, 'raise_sync_dead_letters_open', {
        customer_id: customerId,
      })) ?? 0,
    ).toBe(0);

    // Someone adds the email in Raise: the donor webhook is all it takes.
    const email = `added-${String(donor.id)}@example.org`;
    sim.control.updateRecord(org, 'donor', donor.id as number, { email });
    await sim.control.flushWebhooks();
    await expectEventually(
      () => {
        const there = sim.destinations
          .crmGifts(crm)
          .find((g) => g.transactionId === String(gift.id));
        expect(there?.amount).toBe(gift.amount);
        expect(sim.destinations.crmContacts(crm).map((c) => c.email)).toContain(email);
      },
      { timeoutMs: 60_000 },
    );
    // A second copy of the gift (the first poll's) can still be in flight when the donor's email
    // arrives: completed against the old donor in one partition while the donor's release runs
    // in another, it is held just after that release, and the sweep (every 30 s) takes it. So
    // the wait covers a sweep.
    await expectEventually(
      async () => {
        expect(await holdsOf()).toEqual([]);
        const crmRow = (await ledgerOf(submitter, customerId)).find(
          (r) => r.destination === 'crm-plus',
        );
        expect(crmRow).toEqual(
          expect.objectContaining({
            inRetry: 0,
            waiting: 0,
            deadLettered: 0,
            needsSourceFix: await openHolds(),
            imbalance: 0,
          }),
        );
      },
      { timeoutMs: 75_000 },
    );
    expect(
      await scrapeMetric(submitter.app.url, 'raise_sync_source_fixes_released_total', {
        customer_id: customerId,
      }),
    ).toBeGreaterThanOrEqual(1);
  }, 240_000);

  it('a gift whose donor cannot be read from Raise right now is retried, never delivered without its donor', async () => {
    const org = `wu-${randomBytes(3).toString('hex')}`;
    // No polling: the donors are unknown to the pipeline, so completing the gift needs Raise.
    const { customerId, crm } = await onboard(org, 20, false);
    const donor = sim.control
      .records(org, 'donor')
      .find((d) => emailOf(d as unknown as Model) !== null && !d.isTestMode) as unknown as Model;
    sim.control.setFaults(org, { errorRate: 1 });
    const gift = sim.control.createRecord(org, 'gift', {
      donorId: donor.id,
      isTestMode: false,
      statusText: 'Success',
    } as never) as unknown as Model;
    await sim.control.flushWebhooks();
    await expectEventually(
      async () =>
        expect(
          await scrapeMetric(submitter.app.url, 'raise_sync_records_completed_total', {
            customer_id: customerId,
            outcome: 'unavailable',
          }),
        ).toBeGreaterThanOrEqual(1),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    // Nothing went out without the donor meanwhile.
    const early: Array<{ donor_email: string | null }> = await stack.dataSource.query(
      `SELECT donor_email FROM warehouse.raise_gift WHERE customer_id = $1`,
      [customerId],
    );
    expect(early).toEqual([]);
    sim.control.setFaults(org, {});
    await expectEventually(
      async () => {
        const rows: Array<{ donor_email: string | null }> = await stack.dataSource.query(
          `SELECT donor_email FROM warehouse.raise_gift WHERE customer_id = $1 AND source_id = $2`,
          [customerId, String(gift.id)],
        );
        expect(rows).toEqual([{ donor_email: emailOf(donor) }]);
        expect(sim.destinations.crmGifts(crm).map((g) => g.transactionId)).toContain(
          String(gift.id),
        );
      },
      { timeoutMs: 60_000 },
    );
  });
});

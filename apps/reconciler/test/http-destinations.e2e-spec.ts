import { randomBytes } from 'node:crypto';
import { DestinationEntity } from '@raise-sync/shared/state';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { expectEventually, useTestStack } from '@raise-sync/testing';
import {
  box,
  createCustomer,
  reconcile,
  startReconciler,
  startSubmitter,
  warehouseIds,
  type AppUnderTest,
  type Onboarded,
} from './support';

const DONORS = 80;
const DAY_MS = 24 * 3600 * 1000;

interface SimDonor {
  id: number;
  email: string | null;
  isTestMode: boolean;
}

/**
 * Window reconciliation against HTTP destinations next to the warehouse: CRM+ (answers lookups)
 * and a marketing list (cannot be asked, judged by the sync state). Records a destination never
 * takes on purpose (test-mode donors; donors without email for marketing) are not gaps, and a
 * record parked in the dead-letter queue is reported once per run, never republished again.
 */
describe('reconciler: HTTP destinations, records never taken, dead letters', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-http`;
  let sim: Simulator;
  let submitter: AppUnderTest;
  let reconciler: AppUnderTest;
  let customer: Onboarded;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 606 });
    // One after the other: apps starting on a fresh prefix race on schema registration.
    submitter = await startSubmitter(stack, prefix, sim);
    reconciler = await startReconciler(stack, prefix, sim);
    customer = await createCustomer(stack, sim, `http-${randomBytes(3).toString('hex')}`, {
      donors: DONORS,
      gifts: 2,
      testModeFraction: 0.25,
    });
    const suffix = customer.id.slice(0, 8);
    sim.destinations.createAccount({
      kind: 'crm-plus',
      id: `crm-${suffix}`,
      token: `crm-${suffix}-t`,
    });
    sim.destinations.createAccount({
      kind: 'marketing',
      id: `mkt-${suffix}`,
      token: `mkt-${suffix}-t`,
      listId: 'donors',
    });
    const repo = stack.dataSource.getRepository(DestinationEntity);
    await repo.save([
      repo.create({
        customerId: customer.id,
        kind: 'crm-plus',
        name: 'crm-plus',
        config: { baseUrl: sim.crmUrl },
        secrets: box.sealJson({ token: `crm-${suffix}-t` }),
        enabled: true,
      }),
      repo.create({
        customerId: customer.id,
        kind: 'marketing',
        name: 'marketing',
        config: { baseUrl: sim.marketingUrl, listId: 'donors' },
        secrets: box.sealJson({ token: `mkt-${suffix}-t` }),
        enabled: true,
      }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([submitter?.app.stop('SIGTERM'), reconciler?.app.stop('SIGTERM')]);
    await sim?.stop();
  });

  it('republishes what each destination misses, never what it does not take; records held for a fix in the source are counted, not resent', async () => {
    const donors = sim.control.records(customer.org, 'donor') as unknown as SimDonor[];
    expect(donors).toHaveLength(DONORS);
    const testMode = donors.filter((d) => d.isTestMode);
    const live = donors.filter((d) => !d.isTestMode);
    const liveWithEmail = live.filter((d) => d.email);
    const liveWithoutEmail = live.filter((d) => !d.email);
    // The seeded data holds every case this test is about.
    expect(testMode.length).toBeGreaterThan(0);
    expect(liveWithoutEmail.length).toBeGreaterThan(0);
    expect(liveWithEmail.length).toBeGreaterThan(0);

    // Generated records lie in the 30 days before the start of today (UTC): a closed window.
    const anchor = new Date(new Date().toISOString().slice(0, 10));
    const window = {
      windowStart: new Date(anchor.getTime() - 31 * DAY_MS).toISOString(),
      windowEnd: anchor.toISOString(),
      resources: ['donor'],
    };

    // Nothing was ever synced: every destination misses what it takes, and only that.
    const first = await reconcile(reconciler, customer.id, window);
    expect(first.status).toBe('done');
    expect(first.counts).toMatchObject({
      source_total: DONORS,
      'missing_in_destination:warehouse': DONORS,
      // CRM+ takes every live donor (it refuses the ones without email, see below).
      'missing_in_destination:crm-plus': live.length,
      'not_taken:crm-plus': testMode.length,
      // Marketing takes live donors with an email address only.
      'missing_in_destination:marketing': liveWithEmail.length,
      'not_taken:marketing': DONORS - liveWithEmail.length,
      republished: DONORS,
      dead_lettered: 0,
    });
    const states = new Set(first.discrepancies.items.map((d) => d.state));
    expect(states).toEqual(new Set(['missing_in_destination']));

    // The submitter delivers the republished donors; CRM+ cannot take the ones without email (a
    // contact needs one): they are held for a fix in the source, not dead-lettered.
    await expectEventually(
      async () =>
        expect(await warehouseIds(stack, customer.id, 'raise_donor')).toHaveLength(DONORS),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const heldAtCrm = async (): Promise<string[]> =>
      (
        await stack.dataSource.query<Array<{ source_id: string }>>(
          `SELECT DISTINCT h.source_id FROM source_fix_holds h JOIN destinations t ON t.id = h.destination_id
            WHERE h.customer_id = $1 AND t.name = 'crm-plus' AND h.status = 'open'`,
          [customer.id],
        )
      ).map((r) => r.source_id);
    await expectEventually(
      async () => {
        expect((await heldAtCrm()).sort()).toEqual(
          liveWithoutEmail.map((d) => String(d.id)).sort(),
        );
        const members = sim.destinations.members(`mkt-${customer.id.slice(0, 8)}`);
        expect(members).toHaveLength(liveWithEmail.length);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );

    // Second run: nothing missing; the held donors are counted as waiting for a fix in the
    // source (delivered on their own once fixed), neither republished nor actionable.
    const second = await reconcile(reconciler, customer.id, window);
    expect(second.status).toBe('done');
    expect(second.counts).toMatchObject({
      source_total: DONORS,
      missing_in_destination: 0,
      stale: 0,
      republished: 0,
      dead_lettered: 0,
      needs_source_fix: liveWithoutEmail.length,
      'needs_source_fix:crm-plus': liveWithoutEmail.length,
      'not_taken:crm-plus': testMode.length,
      'not_taken:marketing': DONORS - liveWithEmail.length,
      actionable: 0,
    });
    expect(second.discrepancies.items).toEqual([]);
    const [dead] = await stack.dataSource.query<Array<{ n: string }>>(
      `SELECT count(*) AS n FROM dead_letters WHERE customer_id = $1`,
      [customer.id],
    );
    expect(Number(dead?.n)).toBe(0);
    expect((await heldAtCrm()).length).toBe(liveWithoutEmail.length);
  });
});

import { randomBytes } from 'node:crypto';
import type { RaiseDonorModel } from '@raise-sync/sources';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { expectEventually, freePort, useTestStack } from '@raise-sync/testing';
import {
  destinationsViaSubmitter,
  onboardWithWebhooks,
  startIngestOnPort,
  startReconciler,
  startSubmitter,
  type AppUnderTest,
  type Onboarded,
  type RunBody,
} from './support';

const GIFTS = 50;
const OUTAGE_MS = 10_000;

interface LogEntry {
  id: number;
  eventType: number;
  contextId: number;
  success: boolean;
  httpStatusCode: number | null;
  createdDate: string;
}

interface ScheduleBody {
  kind: string;
  settings: Record<string, unknown>;
  lastRunId: string | null;
}

/**
 * Issue 12: deletes lost while ingest is down. The built ingest (one replica), submitter and
 * reconciler against the real stack and the simulated Raise, with a warehouse, a partner webhook
 * and CRM+ as destinations. Ingest is SIGKILLed for 10 s while 50 gifts are deleted in Raise,
 * whose webhook retries give up within that time; polling is off (it cannot see deletes anyway)
 * and the other reconciliation kinds are disabled, so the only repair is the webhook-log pass.
 */
describe('reconciler: webhook delivery log (ingest down while deletes arrive)', () => {
  const stack = useTestStack();
  const topicPrefix = `${stack.prefix}-whlog`;
  let sim: Simulator;
  let ingestPort: number;
  let ingest: AppUnderTest | undefined;
  let submitter: AppUnderTest;
  let reconciler: AppUnderTest;
  let customer: Onboarded;
  const crmAccount = `whlog-crm-${randomBytes(3).toString('hex')}`;
  const hookAccount = `whlog-hook-${randomBytes(3).toString('hex')}`;
  let giftIds: number[] = [];

  beforeAll(async () => {
    // Three attempts 0.4 s and 0.8 s apart, 2 s timeout each: Raise gives up well inside 10 s.
    sim = await startSimulator({
      seed: 1212,
      webhooks: { attempts: 3, baseDelayMs: 400, maxDelayMs: 1000, timeoutMs: 2000 },
    });
    ingestPort = await freePort();
    [ingest, submitter, reconciler] = await Promise.all([
      startIngestOnPort(stack, topicPrefix, sim, ingestPort),
      startSubmitter(stack, topicPrefix, sim),
      startReconciler(stack, topicPrefix, sim),
    ]);
  });

  afterAll(async () => {
    await Promise.all([ingest?.app.stop(), submitter?.app.stop(), reconciler?.app.stop()]);
    await sim?.stop();
  });

  const schedules = async (): Promise<ScheduleBody[]> => {
    const response = await reconciler.admin<ScheduleBody[]>(
      'GET',
      `/admin/customers/${customer.id}/reconciliation-schedules`,
    );
    expect(response.status).toBe(200);
    return response.body;
  };

  const putSchedule = async (body: Record<string, unknown>): Promise<void> => {
    const response = await reconciler.admin(
      'PUT',
      `/admin/customers/${customer.id}/reconciliation-schedules`,
      body,
    );
    expect(response.status).toBe(200);
  };

  /** The webhook-log runs of the customer, newest first. */
  const webhookLogRuns = async (): Promise<RunBody[]> => {
    const response = await reconciler.admin<{ runs: RunBody[] }>(
      'GET',
      `/admin/customers/${customer.id}/reconciliations?kind=webhook-log&limit=50`,
    );
    expect(response.status).toBe(200);
    return response.body.runs;
  };

  /** Waits for a finished webhook-log run requested after `after`; returns it. */
  const nextFinishedRun = async (after: Set<string>): Promise<RunBody> => {
    let found: RunBody | undefined;
    await expectEventually(
      async () => {
        const runs = (await webhookLogRuns()).filter((r) => !after.has(r.id));
        found = runs[runs.length - 1];
        expect(found?.status).toBe('done');
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    return found as RunBody;
  };

  const raiseLog = async (): Promise<LogEntry[]> => {
    const entries: LogEntry[] = [];
    for (let skip = 0; ; skip += 100) {
      const response = await fetch(`${sim.raiseUrl}/api/Webhook/log/list?Skip=${skip}&Take=100`, {
        headers: { authorization: `Bearer ${customer.raiseToken}` },
      });
      expect(response.status).toBe(200);
      const page = (await response.json()) as { items: LogEntry[]; total: number };
      entries.push(...page.items);
      if (page.items.length < 100) {
        return entries;
      }
    }
  };

  it('finds every delete Raise gave up on in its delivery log and brings it to every destination', async () => {
    const org = `whlog-${stack.prefix}`;
    customer = await onboardWithWebhooks(
      ingest as AppUnderTest,
      destinationsViaSubmitter(submitter),
      sim,
      org,
      {
        donors: 10,
        gifts: 0,
        recurringGifts: 0,
        campaigns: 2,
      },
    );
    const crmToken = `crm-${randomBytes(6).toString('hex')}`;
    const hookSecret = `hook-${randomBytes(8).toString('hex')}`;
    sim.destinations.createAccount({ kind: 'crm-plus', id: crmAccount, token: crmToken });
    sim.destinations.createAccount({
      kind: 'webhook',
      id: hookAccount,
      token: `tok-${hookAccount}`,
      secret: hookSecret,
    });
    const set = await submitter.admin('PUT', `/admin/customers/${customer.id}/destinations`, {
      destinations: [
        { kind: 'warehouse', name: 'warehouse' },
        {
          kind: 'crm-plus',
          name: 'crm',
          config: { baseUrl: sim.crmUrl },
          secrets: { token: crmToken },
        },
        {
          kind: 'webhook',
          name: 'partner',
          config: { url: `${sim.hooksUrl}/${hookAccount}` },
          secrets: { secret: hookSecret },
        },
      ],
    });
    expect(set.status).toBe(200);

    // Live (schedules only run for live customers); polling stays off.
    const resumed = await (ingest as AppUnderTest).admin(
      'POST',
      `/admin/customers/${customer.id}/resume`,
    );
    expect(resumed.status).toBeLessThan(300);

    // Only the webhook-log check may repair anything in this test.
    expect((await schedules()).map((s) => s.kind)).toContain('webhook-log');
    for (const kind of ['window', 'deletion', 'crm-consistency', 'webhook-log']) {
      await putSchedule({ kind, enabled: false });
    }

    // Gifts of donors CRM+ takes (an email, not test mode), created in Raise and delivered by
    // webhook to every destination.
    const donors = (await (
      await fetch(`${sim.raiseUrl}/api/Donor/list?Take=100`, {
        headers: { authorization: `Bearer ${customer.raiseToken}` },
      })
    ).json()) as { items: RaiseDonorModel[] };
    const eligible = donors.items.filter((d) => d.email && !d.isTestMode);
    expect(eligible.length).toBeGreaterThan(0);
    giftIds = Array.from({ length: GIFTS }, (_, i) => {
      const donor = eligible[i % eligible.length] as RaiseDonorModel;
      return sim.control.createRecord(customer.org, 'gift', {
        donorId: donor.id,
        isTestMode: false,
      }).id;
    });
    const wanted = giftIds.map(String).sort();
    await expectEventually(
      async () => {
        const rows: Array<{ source_id: string }> = await stack.dataSource.query(
          `SELECT source_id FROM warehouse.raise_gift WHERE customer_id = $1 AND deleted_at IS NULL`,
          [customer.id],
        );
        expect(rows.map((r) => r.source_id).sort()).toEqual(wanted);
        // (A refunded gift also has its reversing `<id>-refund` transaction in CRM+.)
        const crm = sim.destinations.crmGifts(crmAccount).map((g) => g.transactionId);
        expect([...new Set(crm)].filter((id) => !id.endsWith('-refund')).sort()).toEqual(wanted);
        const hooks = sim.destinations.hookDeliveries(hookAccount).map((h) => h.recordId);
        expect(wanted.every((id) => hooks.includes(id))).toBe(true);
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );

    // A first pass sets the checkpoint: every creation was delivered, nothing to repair.
    const before = new Set((await webhookLogRuns()).map((r) => r.id));
    await putSchedule({
      kind: 'webhook-log',
      enabled: true,
      settings: { intervalSeconds: 3600 },
      nextRunAt: new Date().toISOString(),
    });
    const first = await nextFinishedRun(before);
    expect(first.counts).toMatchObject({ failed_deliveries: 0, republished: 0 });
    expect(first.counts.log_entries_read).toBeGreaterThanOrEqual(GIFTS);

    // Ingest down for 10 s while the 50 deletes are made; Raise gives up on each delivery.
    const killedAt = Date.now();
    await (ingest as AppUnderTest).app.stop('SIGKILL');
    ingest = undefined;
    for (const id of giftIds) {
      sim.control.deleteRecord(customer.org, 'gift', id);
    }
    await sim.control.flushWebhooks();
    const outageLeft = OUTAGE_MS - (Date.now() - killedAt);
    expect(outageLeft).toBeGreaterThan(0); // Raise gave up inside the outage
    await new Promise((resolve) => setTimeout(resolve, outageLeft));

    const log = await raiseLog();
    const deletes = log.filter((e) => e.eventType === 12);
    expect(new Set(deletes.map((e) => e.contextId))).toEqual(new Set(giftIds));
    expect(deletes.every((e) => !e.success && e.httpStatusCode === null)).toBe(true);
    // Three attempts per delete and partner, no success among them.
    expect(deletes).toHaveLength(GIFTS * 3);

    ingest = await startIngestOnPort(stack, topicPrefix, sim, ingestPort);
    // Nothing else repairs the deletes: they are still live everywhere after the restart.
    const live: Array<{ n: string }> = await stack.dataSource.query(
      `SELECT count(*) AS n FROM warehouse.raise_gift WHERE customer_id = $1 AND deleted_at IS NULL`,
      [customer.id],
    );
    expect(Number(live[0]?.n)).toBe(GIFTS);

    // A short interval from now on; the checkpoint in the settings is kept.
    const current = (await schedules()).find((s) => s.kind === 'webhook-log') as ScheduleBody;
    expect(current.settings.webhookLogCheckpoint).toBeDefined();
    const seen = new Set((await webhookLogRuns()).map((r) => r.id));
    await putSchedule({
      kind: 'webhook-log',
      settings: { ...current.settings, intervalSeconds: 5 },
    });
    const pass = await nextFinishedRun(seen);
    expect(pass.counts).toMatchObject({
      failed_deliveries: GIFTS,
      failed_deletes: GIFTS,
      failed_upserts: 0,
      deletes_published: GIFTS,
      upserts_republished: 0,
      deleted_but_present: 0,
      log_entries_malformed: 0,
    });
    expect(pass.counts.log_entries_read).toBe(GIFTS * 3);

    await expectEventually(
      async () => {
        const rows: Array<{ source_id: string; deleted: boolean }> = await stack.dataSource.query(
          `SELECT source_id, deleted_at IS NOT NULL AS deleted FROM warehouse.raise_gift WHERE customer_id = $1`,
          [customer.id],
        );
        expect(
          rows
            .filter((r) => r.deleted)
            .map((r) => r.source_id)
            .sort(),
        ).toEqual(wanted);
        const hookDeletes = sim.destinations
          .hookDeliveries(hookAccount)
          .filter((h) => (h.body as { operation?: string }).operation === 'delete')
          .map((h) => h.recordId);
        expect([...new Set(hookDeletes)].sort()).toEqual(wanted);
        // CRM+ has no gift delete: the adapter cancels the transaction (cancelDate set).
        const cancelled = sim.destinations
          .crmGifts(crmAccount)
          .filter((g) => g.cancelDate !== null && !g.transactionId.endsWith('-refund'))
          .map((g) => g.transactionId);
        expect([...new Set(cancelled)].sort()).toEqual(wanted);
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
  }, 300_000);
});

import { randomBytes } from 'node:crypto';
import {
  adminClient,
  expectEventually,
  scrapeMetric,
  useTestStack,
  type AdminCall,
  type RunningApp,
} from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { ADMIN_TOKEN, startIngest, startSubmitter, type SubmitterUnderTest } from './support';

describe('two-way sync: our own write to Raise comes back as a webhook and is not synced out again', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-echo`;
  let sim: Simulator;
  let submitter: SubmitterUnderTest;
  let ingest: RunningApp;

  const admin: AdminCall = (method, path, body) =>
    adminClient(ingest.url, ADMIN_TOKEN)(method, path, body);

  beforeAll(async () => {
    sim = await startSimulator({ seed: 21 });
    submitter = await startSubmitter(stack, prefix);
    ingest = await startIngest(stack, prefix, sim);
  });

  afterAll(async () => {
    await ingest?.stop('SIGTERM');
    await submitter?.app.stop('SIGTERM');
    await sim?.stop();
  });

  it('skips the echo (counted as skipped/echo), then syncs a genuine change of the same donor', async () => {
    const org = `echo-${randomBytes(3).toString('hex')}`;
    sim.control.createOrg({
      id: org,
      raiseToken: `${org}-raise`,
      vomoToken: `${org}-vomo`,
      donors: 3,
      gifts: 1,
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
    expect(
      (
        await submitter.admin('PUT', `/admin/customers/${customerId}/destinations`, {
          destinations: [{ kind: 'warehouse', name: 'warehouse' }],
        })
      ).status,
    ).toBe(200);
    const donorId = (sim.control.records(org, 'donor')[0] as { id: number }).id;

    // Our write back to Raise (e.g. a phone number corrected in the CRM).
    const written = await admin('PATCH', `/admin/customers/${customerId}/raise/donors/${donorId}`, {
      fields: { phone: '(555) 010-9999' },
    });
    expect(written.status).toBe(200);
    await sim.control.flushWebhooks();
    await expectEventually(
      async () =>
        expect(
          await scrapeMetric(submitter.app.url, 'raise_sync_deliveries_total', {
            customer_id: customerId,
            outcome: 'skipped',
            reason: 'echo',
          }),
        ).toBe(1),
      { timeoutMs: 30_000 },
    );
    const before: unknown[] = await stack.dataSource.query(
      `SELECT 1 FROM warehouse.raise_donor WHERE customer_id = $1 AND source_id = $2`,
      [customerId, String(donorId)],
    );
    expect(before).toHaveLength(0);

    // A change made in Raise by someone else is synced as usual.
    sim.control.updateRecord(org, 'donor', donorId, { phone: '(555) 010-1234' });
    await sim.control.flushWebhooks();
    await expectEventually(
      async () => {
        const rows: Array<{ phone: string }> = await stack.dataSource.query(
          `SELECT phone FROM warehouse.raise_donor WHERE customer_id = $1 AND source_id = $2`,
          [customerId, String(donorId)],
        );
        expect(rows.map((r) => r.phone)).toEqual(['(555) 010-1234']);
      },
      { timeoutMs: 30_000 },
    );
  });
});

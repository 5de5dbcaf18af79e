import {
  DestinationUnavailableError,
  NeedsSourceFixError,
  RecordRejectedError,
} from '@raise-sync/shared';
import { type Simulator, startSimulator } from '@raise-sync/simulators';
import { contextFor, deleteEvent, upsertEvent } from '../../test/fixtures';
import { CrmPlusAdapter } from './crm-plus.adapter';

describe('CrmPlusAdapter against the CRM+ simulator', () => {
  let sim: Simulator;
  const adapter = new CrmPlusAdapter();
  // One destination per simulator account: the hourly budget is tracked per customer + destination.
  const ctx = (account: string, config: Record<string, unknown> = {}) =>
    contextFor(
      'crm-plus',
      { baseUrl: sim.crmUrl, ...config },
      { token: `tok-${account}` },
      { destinationId: account },
    );

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('writes donors, volunteers and gifts; a refund is a reversing transaction', async () => {
    sim.destinations.createAccount({ kind: 'crm-plus', id: 'crm-a', token: 'tok-crm-a' });
    const results = await adapter.deliver(ctx('crm-a'), [
      upsertEvent('donor'),
      upsertEvent('user', { email: 'ADA@example.org' }),
      upsertEvent('gift', { statusText: 'Refunded' }),
      upsertEvent('donor', { id: 'no-email', email: null }),
    ]);
    expect(results.slice(0, 3).map((r) => (r instanceof Error ? r.message : r.outcome))).toEqual([
      'delivered',
      'delivered',
      'delivered',
    ]);
    expect(results[3]).toBeInstanceOf(NeedsSourceFixError);
    expect(results[3]).toMatchObject({
      problem: 'contact_without_email',
      waitingFor: 'donor:no-email',
    });

    // One contact: CRM+ matches by email, both references are attached.
    const contacts = sim.destinations.crmContacts('crm-a');
    expect(contacts).toHaveLength(1);
    expect(contacts[0]?.references).toEqual([
      { referenceSource: 'raise', referenceId: '48213' },
      { referenceSource: 'vomo', referenceId: '8205' },
    ]);
    expect(
      sim.destinations.crmGifts('crm-a').map((g) => [g.transactionId, g.amount, g.giftType]),
    ).toEqual([
      ['900113', 125.5, 'Credit'],
      ['900113-refund', -125.5, 'ReversingTransaction'],
    ]);

    // Re-delivering updates the same gift, never a second one.
    await adapter.deliver(ctx('crm-a'), [upsertEvent('gift')]);
    expect(sim.destinations.crmGifts('crm-a')).toHaveLength(2);
    await expect(adapter.lookup(ctx('crm-a'), 'gift', '900113')).resolves.toMatchObject({
      exists: true,
      deleted: false,
    });
    await expect(adapter.lookup(ctx('crm-a'), 'donor', '48213')).resolves.toMatchObject({
      exists: true,
    });
    await expect(adapter.health(ctx('crm-a'))).resolves.toBeUndefined();
  });

  it('cancels a deleted gift by re-sending it with cancelDate (contact email via GET /api/Contact/{id})', async () => {
    sim.destinations.createAccount({ kind: 'crm-plus', id: 'crm-b', token: 'tok-crm-b' });
    await adapter.deliver(ctx('crm-b'), [upsertEvent('gift')]);
    const deletedAt = new Date('2026-11-22T08:00:00.000Z');
    const [result] = await adapter.deliver(ctx('crm-b'), [
      deleteEvent('gift', '900113', { modifiedAt: deletedAt }),
    ]);
    expect(result).toEqual({
      outcome: 'delivered',
      destinationRecordId: expect.any(String) as string,
    });
    expect(sim.destinations.crmGifts('crm-b')).toEqual([
      expect.objectContaining({
        transactionId: '900113',
        amount: 125.5,
        cancelDate: deletedAt.toISOString(),
        writes: 2,
      }),
    ]);
    await expect(adapter.lookup(ctx('crm-b'), 'gift', '900113')).resolves.toMatchObject({
      exists: true,
      deleted: true,
    });
    // Cancelling again changes nothing.
    await adapter.deliver(ctx('crm-b'), [deleteEvent('gift', '900113', { modifiedAt: deletedAt })]);
    expect(sim.destinations.crmGifts('crm-b')[0]?.writes).toBe(2);
  });

  it('stops before the reserve of the hourly budget instead of running into 429s', async () => {
    sim.destinations.createAccount({
      kind: 'crm-plus',
      id: 'crm-c',
      token: 'tok-crm-c',
      hourlyLimit: 55,
    });
    const events = Array.from({ length: 8 }, (_, i) =>
      upsertEvent('donor', { id: `d${i}`, email: `d${i}@example.org` }),
    );
    const results = await adapter.deliver(ctx('crm-c', { reserve: 50 }), events);
    // 55 → 54 … → 50 after five requests: the last 50 are kept, the other three refused locally.
    expect(results.filter((r) => !(r instanceof Error))).toHaveLength(5);
    const refused = results[5] as DestinationUnavailableError;
    expect(refused).toBeInstanceOf(DestinationUnavailableError);
    expect(refused.retryAfterMs).toBeGreaterThan(3_500_000);
    expect(sim.destinations.destinationStats('crm-c')).toMatchObject({
      rateLimited: 0,
      requests: { total: 5 },
    });
  });

  it('classifies faults: 503 unavailable, a rejected record with the CRM+ detail', async () => {
    sim.destinations.createAccount({ kind: 'crm-plus', id: 'crm-d', token: 'tok-crm-d' });
    sim.destinations.setDestinationFaults('crm-d', { statusFor: { 'ada@example.org': 422 } });
    const [rejected] = await adapter.deliver(ctx('crm-d'), [upsertEvent('donor')]);
    expect(rejected).toBeInstanceOf(RecordRejectedError);
    expect((rejected as Error).message).toContain("email 'ada@example.org' is rejected");
    sim.destinations.setDestinationFaults('crm-d', { status: 503 });
    const [down] = await adapter.deliver(ctx('crm-d'), [upsertEvent('donor')]);
    expect(down).toBeInstanceOf(DestinationUnavailableError);
    expect((down as DestinationUnavailableError).retryAfterMs).toBe(1000);
    const [denied] = await adapter.deliver(
      contextFor('crm-plus', { baseUrl: sim.crmUrl }, { token: 'wrong-token' }),
      [upsertEvent('donor')],
    );
    expect((denied as Error).message).toMatch(/credentials rejected/);
  });
});

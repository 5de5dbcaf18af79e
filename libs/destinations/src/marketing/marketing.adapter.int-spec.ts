import { RecordRejectedError } from '@raise-sync/shared';
import { type Simulator, startSimulator, subscriberHash } from '@raise-sync/simulators';
import { contextFor, upsertEvent } from '../../test/fixtures';
import { MarketingAdapter } from './marketing.adapter';

describe('MarketingAdapter against the marketing simulator', () => {
  let sim: Simulator;
  const adapter = new MarketingAdapter();

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    sim.destinations.createAccount({
      kind: 'marketing',
      id: 'mkt-a',
      token: 'tok-mkt-a',
      listId: 'donors',
    });
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('upserts opted-in and other donors with the right status, skipping test mode', async () => {
    const ctx = contextFor(
      'marketing',
      { baseUrl: sim.marketingUrl, listId: 'donors', includeVolunteers: true, tags: ['raise'] },
      { token: 'tok-mkt-a' },
    );
    const results = await adapter.deliver(ctx, [
      upsertEvent('donor', { id: '1', email: 'Opted.In@example.org', emailOptIn: true }),
      upsertEvent('donor', { id: '2', email: 'out@example.org', emailOptIn: false }),
      upsertEvent('donor', { id: '3', email: 'unknown@example.org', emailOptIn: null }),
      upsertEvent('donor', { id: '4', email: 'test@example.org', isTestMode: true }),
      upsertEvent('user'),
    ]);
    expect(results.map((r) => (r instanceof Error ? r.message : r.outcome))).toEqual([
      'delivered',
      'delivered',
      'delivered',
      'skipped',
      'delivered',
    ]);
    const members = Object.fromEntries(
      sim.destinations.members('mkt-a').map((m) => [m.email_address, m]),
    );
    expect(Object.keys(members).sort()).toEqual([
      'grace@example.org',
      'opted.in@example.org',
      'out@example.org',
      'unknown@example.org',
    ]);
    expect(members['opted.in@example.org']).toMatchObject({
      id: subscriberHash('opted.in@example.org'),
      status: 'subscribed',
      merge_fields: { FNAME: 'Ada', LNAME: 'Lovelace' },
      tags: ['raise', 'donor'],
    });
    expect(members['out@example.org']?.status).toBe('transactional');
    expect(members['unknown@example.org']?.status).toBe('transactional');
    expect(members['grace@example.org']).toMatchObject({
      status: 'transactional',
      tags: ['raise', 'volunteer'],
    });

    // A donor who unsubscribed in the tool stays unsubscribed, even with opt-in true in Raise.
    await fetch(
      `${sim.marketingUrl}/lists/donors/members/${subscriberHash('opted.in@example.org')}`,
      {
        method: 'PUT',
        headers: { authorization: 'Bearer tok-mkt-a', 'content-type': 'application/json' },
        body: JSON.stringify({
          email_address: 'opted.in@example.org',
          status_if_new: 'subscribed',
          status: 'unsubscribed',
        }),
      },
    );
    await adapter.deliver(ctx, [
      upsertEvent('donor', { id: '1', email: 'Opted.In@example.org', emailOptIn: true }),
    ]);
    expect(
      sim.destinations.members('mkt-a').find((m) => m.email_address === 'opted.in@example.org')
        ?.status,
    ).toBe('unsubscribed');
    await expect(adapter.health(ctx)).resolves.toBeUndefined();
  });

  it('reports an invalid email as a rejected record', async () => {
    const ctx = contextFor(
      'marketing',
      { baseUrl: sim.marketingUrl, listId: 'donors' },
      { token: 'tok-mkt-a' },
    );
    const [result] = await adapter.deliver(ctx, [upsertEvent('donor', { email: 'not an email' })]);
    expect(result).toBeInstanceOf(RecordRejectedError);
  });
});

import { RecordRejectedError } from '@raise-sync/shared';
import { LookupNotSupportedError } from '../adapter-support';
import {
  type FakeDestination,
  contextFor,
  deleteEvent,
  startFakeDestination,
  upsertEvent,
} from '../../test/fixtures';
import { MarketingAdapter } from './marketing.adapter';
import { subscriberHashOf } from './marketing.mapping';

describe(MarketingAdapter.name, () => {
  let server: FakeDestination;
  const adapter = new MarketingAdapter();
  const ctx = (config: Record<string, unknown> = {}) =>
    contextFor(
      'marketing',
      { baseUrl: server.url, listId: 'donors', ...config },
      { token: 'mkt-token-123456' },
    );

  beforeEach(async () => {
    server = await startFakeDestination((request) =>
      request.method === 'PUT' ? { status: 200, body: { id: 'x' } } : { status: 204 },
    );
  });
  afterEach(async () => {
    await server.close();
  });

  it('takes donors, and VOMO users only when includeVolunteers', () => {
    expect(adapter.accepts('donor', ctx())).toBe(true);
    expect(adapter.accepts('gift', ctx())).toBe(false);
    expect(adapter.accepts('user', ctx())).toBe(false);
    expect(adapter.accepts('user', ctx({ includeVolunteers: true }))).toBe(true);
  });

  it('upserts a donor as a list member under its subscriber hash', async () => {
    const hash = subscriberHashOf('ada@example.org');
    await expect(
      adapter.deliver(ctx({ tags: ['raise'] }), [upsertEvent('donor')]),
    ).resolves.toEqual([{ outcome: 'delivered', destinationRecordId: hash }]);
    const [request] = server.requests;
    expect(`${request?.method} ${request?.url}`).toBe(`PUT /lists/donors/members/${hash}`);
    expect(request?.json()).toEqual({
      email_address: 'ada@example.org',
      status_if_new: 'subscribed',
      merge_fields: { FNAME: 'Ada', LNAME: 'Lovelace' },
      tags: ['raise', 'donor'],
    });
  });

  it('skips test-mode donors, donors without email, gifts and volunteers by default', async () => {
    const results = await adapter.deliver(ctx(), [
      upsertEvent('donor', { id: '1', isTestMode: true }),
      upsertEvent('donor', { id: '2', email: null }),
      upsertEvent('gift'),
      upsertEvent('user'),
    ]);
    expect(results.map((r) => (r instanceof Error ? 'error' : r.outcome))).toEqual([
      'skipped',
      'skipped',
      'skipped',
      'skipped',
    ]);
    expect(server.requests).toHaveLength(0);
  });

  it('names in advance exactly the upserts deliver skips on purpose (what reconciliation asks)', async () => {
    const events = [
      upsertEvent('donor', { id: '1', isTestMode: true }),
      upsertEvent('donor', { id: '2', email: null }),
      upsertEvent('donor', { id: '3' }),
      upsertEvent('gift'),
      upsertEvent('user'),
    ];
    const predicted = events.map((e) => adapter.intentionalSkip(ctx(), e));
    const results = await adapter.deliver(ctx(), events);
    expect(predicted).toEqual(
      results.map((r) => (!(r instanceof Error) && r.outcome === 'skipped' ? r.reason : null)),
    );
    expect(predicted.filter((p) => p === null)).toHaveLength(1);
  });

  it('syncs volunteers when asked to', async () => {
    await adapter.deliver(ctx({ includeVolunteers: true }), [upsertEvent('user')]);
    expect(server.requests[0]?.url).toBe(
      `/lists/donors/members/${subscriberHashOf('grace@example.org')}`,
    );
  });

  it('cannot archive on a delete that carries no email, and says so', async () => {
    await expect(adapter.deliver(ctx(), [deleteEvent('donor', '48213')])).resolves.toEqual([
      {
        outcome: 'skipped',
        reason: 'cannot archive: the delete event carries no email to find the member by',
      },
    ]);
  });

  it('archives the member when a delete carries the email', async () => {
    const event = { ...upsertEvent('donor'), operation: 'delete' as const };
    await adapter.deliver(ctx(), [event]);
    expect(`${server.requests[0]?.method} ${server.requests[0]?.url}`).toBe(
      `POST /lists/donors/members/${subscriberHashOf('ada@example.org')}/actions/archive`,
    );
  });

  it('rejects an invalid email with the destination detail', async () => {
    server.respond(() => ({
      status: 422,
      body: { title: 'Invalid Resource', detail: 'Please provide a valid email address.' },
    }));
    const [result] = await adapter.deliver(ctx(), [
      upsertEvent('donor', { email: 'not-an-email' }),
    ]);
    expect(result).toBeInstanceOf(RecordRejectedError);
    expect((result as Error).message).toContain(
      'Invalid Resource: Please provide a valid email address.',
    );
  });

  it('needs a list id and cannot look records up by source id', async () => {
    const [result] = await adapter.deliver(
      contextFor('marketing', { baseUrl: server.url }, { token: 't' }),
      [upsertEvent('donor')],
    );
    expect((result as Error).message).toMatch(/listId is required/);
    await expect(adapter.lookup(ctx(), 'donor', '1')).rejects.toThrow(LookupNotSupportedError);
  });

  it('erases a person by archiving the member of every email known for them', async () => {
    server.respond((request) =>
      request.url.includes(subscriberHashOf('gone@example.org'))
        ? { status: 404, body: {} }
        : { status: 204 },
    );
    const outcome = await adapter.erasePerson(ctx(), {
      sourceId: '48213',
      emails: ['Ada@Example.org', 'ada@example.org', 'gone@example.org'],
    });
    expect(outcome).toBe('archived');
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `POST /lists/donors/members/${subscriberHashOf('ada@example.org')}/actions/archive`,
      `POST /lists/donors/members/${subscriberHashOf('gone@example.org')}/actions/archive`,
    ]);
  });

  it('answers not_found when the list holds none of the emails', async () => {
    server.respond(() => ({ status: 404, body: {} }));
    expect(await adapter.erasePerson(ctx(), { sourceId: '1', emails: ['x@example.org'] })).toBe(
      'not_found',
    );
    expect(await adapter.erasePerson(ctx(), { sourceId: '1', emails: [] })).toBe('not_found');
  });
});

import { createHmac } from 'node:crypto';
import { DestinationUnavailableError } from '@raise-sync/shared';
import {
  DESTINATION_ID,
  type FakeDestination,
  contextFor,
  deleteEvent,
  startFakeDestination,
  upsertEvent,
} from '../../test/fixtures';
import { WebhookAdapter } from './webhook.adapter';
import { verifyWebhookSignature, webhookBodyOf, webhookRecordOf } from './webhook.mapping';

const SECRET = 'whsec-partner-0123456789';
const NOW_MS = Date.UTC(2026, 10, 20, 12, 0, 0);

describe(WebhookAdapter.name, () => {
  let server: FakeDestination;
  const adapter = new WebhookAdapter({ now: () => NOW_MS });
  const ctx = (config: Record<string, unknown> = {}) =>
    contextFor('webhook', { url: `${server.url}/hooks/acme`, ...config }, { secret: SECRET });

  beforeEach(async () => {
    server = await startFakeDestination(() => ({ status: 204 }));
  });
  afterEach(async () => {
    await server.close();
  });

  it('posts a signed event that the receiver can verify', async () => {
    const event = upsertEvent('gift');
    await expect(adapter.deliver(ctx(), [event])).resolves.toEqual([
      { outcome: 'delivered', destinationRecordId: null },
    ]);
    const [request] = server.requests;
    expect(request?.url).toBe('/hooks/acme');
    const timestamp = request?.headers['x-raisesync-timestamp'] as string;
    expect(timestamp).toBe(String(NOW_MS / 1000));
    const expected = createHmac('sha256', SECRET)
      .update(`${timestamp}.${request?.body ?? ''}`)
      .digest('base64');
    expect(request?.headers['x-raisesync-signature']).toBe(expected);
    expect(verifyWebhookSignature(SECRET, timestamp, request?.body ?? '', expected)).toBe(true);
    expect(verifyWebhookSignature('other-secret', timestamp, request?.body ?? '', expected)).toBe(
      false,
    );
    expect(request?.headers['idempotency-key']).toBe(`${event.eventId}:${DESTINATION_ID}`);
    expect(request?.json()).toEqual({
      eventId: event.eventId,
      customerId: event.customerId,
      resource: 'gift',
      operation: 'upsert',
      recordId: '900113',
      sourceModifiedAt: '2026-11-20T10:00:00.000Z',
      record: expect.not.objectContaining({ raw: expect.anything() as unknown }) as unknown,
    });
  });

  it('posts every event of a record in order (an event feed is not collapsed)', async () => {
    const first = upsertEvent('donor', {}, { modifiedAt: new Date('2026-11-20T10:00:00Z') });
    const second = deleteEvent('donor', '48213', { modifiedAt: new Date('2026-11-20T11:00:00Z') });
    await adapter.deliver(ctx(), [first, second]);
    expect(server.requests.map((r) => (r.json() as { operation: string }).operation)).toEqual([
      'upsert',
      'delete',
    ]);
    expect((server.requests[1]?.json() as { record: unknown }).record).toBeNull();
  });

  it('treats a 5xx as unavailable and keeps the secret out of messages', async () => {
    server.respond(() => ({ status: 500, body: `bad signature for ${SECRET}` }));
    const [result] = await adapter.deliver(ctx(), [upsertEvent('gift')]);
    expect(result).toBeInstanceOf(DestinationUnavailableError);
    expect((result as Error).message).not.toContain(SECRET);
  });

  it('skips resources the endpoint does not subscribe to', async () => {
    const [result] = await adapter.deliver(ctx({ resources: ['donor'] }), [upsertEvent('gift')]);
    expect(result).toMatchObject({ outcome: 'skipped' });
    expect(adapter.accepts('gift', ctx({ resources: ['donor'] }))).toBe(false);
  });
});

describe(webhookRecordOf.name, () => {
  const record = upsertEvent('donor', { phone: null }).record;

  it('sends every field with dates as ISO strings and nulls kept, raw only on request', () => {
    const mapped = webhookRecordOf(record!, { includeRaw: false });
    expect(mapped).toMatchObject({
      id: '48213',
      phone: null,
      createdDate: '2026-01-04T10:00:00.000Z',
    });
    expect(mapped).not.toHaveProperty('raw');
    expect(webhookRecordOf(record!, { includeRaw: true }).raw).toEqual({
      id: 48213,
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@example.org',
    });
  });

  it('renames, adds and drops fields through the field map', () => {
    const mapped = webhookRecordOf(record!, {
      includeRaw: false,
      fieldMap: {
        donorEmail: 'email',
        email: null,
        source: { value: 'raise' },
        rawFirstName: 'raw.firstName',
      },
    });
    expect(mapped).toMatchObject({
      donorEmail: 'ada@example.org',
      source: 'raise',
      rawFirstName: 'Ada',
    });
    expect(mapped).not.toHaveProperty('email');
  });

  it('builds the envelope of a delete with a null record', () => {
    expect(webhookBodyOf(deleteEvent('gift', '1'), { includeRaw: false }).record).toBeNull();
  });
});

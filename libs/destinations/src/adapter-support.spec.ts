import { DestinationUnavailableError, RecordRejectedError } from '@raise-sync/shared';
import type { SourceEvent } from '@raise-sync/shared/events';
import { contextFor, upsertEvent } from '../test/fixtures';
import { ConfigReader, SUPERSEDED, asDeliveryError, deliverPerRecord } from './adapter-support';
import { DestinationConfigError } from './mapping/field-map';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 20, 10, minute));
const gift = (id: string, minute: number) =>
  upsertEvent('gift', { id }, { modifiedAt: at(minute) });

describe(deliverPerRecord.name, () => {
  it('sends only the newest event of a record when collapsing, answering the others as superseded', async () => {
    const events = [gift('1', 3), gift('2', 1), gift('1', 5), gift('1', 4)];
    const sent: SourceEvent[] = [];
    const results = await deliverPerRecord(events, { concurrency: 2, collapse: true }, (event) => {
      sent.push(event);
      return Promise.resolve({ outcome: 'delivered', destinationRecordId: event.recordId });
    });
    expect(sent.map((e) => [e.recordId, e.sourceModifiedAt.getUTCMinutes()])).toEqual(
      expect.arrayContaining([
        ['1', 5],
        ['2', 1],
      ]),
    );
    expect(sent).toHaveLength(2);
    expect(results).toEqual([
      SUPERSEDED,
      { outcome: 'delivered', destinationRecordId: '2' },
      { outcome: 'delivered', destinationRecordId: '1' },
      SUPERSEDED,
    ]);
  });

  it('keeps every event of a record in order when not collapsing', async () => {
    const events = [gift('1', 1), gift('2', 1), gift('1', 2), gift('1', 3)];
    const order: string[] = [];
    await deliverPerRecord(events, { concurrency: 4, collapse: false }, async (event) => {
      await new Promise((resolve) => setTimeout(resolve, event.recordId === '1' ? 5 : 0));
      order.push(`${event.recordId}@${event.sourceModifiedAt.getUTCMinutes()}`);
      return { outcome: 'delivered', destinationRecordId: null };
    });
    expect(order.filter((o) => o.startsWith('1@'))).toEqual(['1@1', '1@2', '1@3']);
  });

  it('returns per-event errors and stops sending after the destination became unavailable', async () => {
    const events = [gift('1', 1), gift('2', 1), gift('3', 1), gift('4', 1)];
    let calls = 0;
    const results = await deliverPerRecord(events, { concurrency: 1, collapse: true }, (event) => {
      calls += 1;
      if (event.recordId === '1') {
        return Promise.reject(new RecordRejectedError('bad record'));
      }
      return Promise.reject(new DestinationUnavailableError('down', 1500));
    });
    expect(calls).toBe(2);
    expect(results[0]).toBeInstanceOf(RecordRejectedError);
    expect(results[1]).toBeInstanceOf(DestinationUnavailableError);
    expect(results[2]).toBeInstanceOf(DestinationUnavailableError);
    expect((results[3] as DestinationUnavailableError).retryAfterMs).toBe(1500);
    expect((results[3] as Error).message).toMatch(/^not sent: down/);
  });
});

describe(ConfigReader.name, () => {
  const reader = (config: Record<string, unknown>, secrets: Record<string, string> = {}) =>
    new ConfigReader(contextFor('crm-plus', config, secrets), 'CRM+');

  it('reads typed settings with defaults', () => {
    const config = reader(
      { baseUrl: 'https://api.example.org/', reserve: 10, tags: ['a'] },
      { token: 't' },
    );
    expect(config.url('baseUrl')).toBe('https://api.example.org');
    expect(config.integer('reserve', 50)).toBe(10);
    expect(config.integer('other', 50)).toBe(50);
    expect(config.stringList('tags')).toEqual(['a']);
    expect(config.boolean('flag', true)).toBe(true);
    expect(config.secret('token')).toBe('t');
  });

  it.each([
    [{ baseUrl: 'ftp://x' }, 'url'],
    [{ baseUrl: 'not a url' }, 'url'],
    [{ reserve: -1 }, 'reserve'],
    [{ tags: 'a' }, 'tags'],
  ])('names the bad key of %j', (config, key) => {
    const read = reader(config);
    const attempt = () =>
      key === 'url'
        ? read.url('baseUrl')
        : key === 'reserve'
          ? read.integer('reserve', 1)
          : read.stringList('tags');
    expect(attempt).toThrow(DestinationConfigError);
  });

  it('reports a missing secret by name, never a value', () => {
    expect(() => reader({}).secret('token')).toThrow(/secret "token" is missing/);
  });

  it('turns configuration errors into retriable delivery errors', () => {
    const error = asDeliveryError(new DestinationConfigError('config.listId is required'));
    expect(error).toBeInstanceOf(DestinationUnavailableError);
    expect(error.message).toContain('misconfigured');
  });
});

import { eventIdFor, newSourceEvent } from './source-event';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';

describe(eventIdFor.name, () => {
  const at = new Date('2026-11-20T09:12:04.250Z');

  it('is the same for the same change, whatever path it arrived by', () => {
    const fields = {
      customerId: 'c1',
      source: 'raise',
      resource: 'gift',
      operation: 'upsert',
      recordId: '900113',
      sourceModifiedAt: at,
      record: SAMPLE_RECORDS.gift,
    } as const;
    const viaWebhook = newSourceEvent({ ...fields, origin: 'webhook' });
    const viaPoll = newSourceEvent({ ...fields, origin: 'poll', capturedAt: new Date() });
    expect(viaWebhook.eventId).toBe(viaPoll.eventId);
    expect(viaWebhook.eventId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('differs when the record, its modification time or its resource differ', () => {
    const base = eventIdFor('raise', 'gift', '1', at);
    expect(eventIdFor('raise', 'gift', '2', at)).not.toBe(base);
    expect(eventIdFor('raise', 'gift', '1', new Date(at.getTime() + 1))).not.toBe(base);
    expect(eventIdFor('raise', 'donor', '1', at)).not.toBe(base);
  });
});

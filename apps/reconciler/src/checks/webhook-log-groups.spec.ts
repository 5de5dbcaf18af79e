import type { RaiseWebhookLogEntry } from '@raise-sync/sources';
import { failedDeliveries, readCheckpoint } from './webhook-log-groups';

let nextId = 1;
const attempt = (
  eventType: number,
  contextId: string,
  success: boolean,
  second: number,
): RaiseWebhookLogEntry => ({
  id: String(nextId++),
  webhookId: '1',
  eventType,
  eventTypeDisplay: null,
  contextId,
  success,
  httpStatusCode: success ? 202 : null,
  createdAt: new Date(Date.UTC(2026, 10, 20, 9, 0, second)),
});

describe('failedDeliveries', () => {
  beforeEach(() => {
    nextId = 1;
  });

  it('reports a delivery whose every attempt failed, once, with its first failed attempt', () => {
    const entries = [attempt(12, '500', false, 1), attempt(12, '500', false, 3)];
    expect(failedDeliveries(entries)).toEqual([
      { eventType: 12, contextId: '500', attempts: 2, firstFailedAt: entries[0]?.createdAt },
    ]);
  });

  it('ignores a delivery that succeeded on a retry, in whatever order the entries come', () => {
    const entries = [attempt(12, '500', false, 1), attempt(12, '500', true, 2)];
    expect(failedDeliveries(entries)).toEqual([]);
    expect(failedDeliveries([...entries].reverse())).toEqual([]);
  });

  it('reports an update that failed after an earlier one was delivered, not the reverse', () => {
    const deliveredThenLost = [attempt(11, '7', true, 1), attempt(11, '7', false, 2)];
    expect(failedDeliveries(deliveredThenLost).map((d) => d.contextId)).toEqual(['7']);
    const lostThenNewerDelivered = [attempt(11, '8', false, 1), attempt(11, '8', true, 2)];
    expect(failedDeliveries(lostThenNewerDelivered)).toEqual([]);
  });

  it('keeps event types and records apart', () => {
    const entries = [
      attempt(10, '1', false, 1),
      attempt(11, '1', true, 2),
      attempt(12, '2', false, 3),
      attempt(32, '2', false, 4),
    ];
    expect(failedDeliveries(entries).map((d) => `${d.eventType}:${d.contextId}`)).toEqual([
      '10:1',
      '12:2',
      '32:2',
    ]);
  });

  it('compares log ids as numbers, not text', () => {
    const early = { ...attempt(12, '3', true, 1), id: '9' };
    const late = { ...attempt(12, '3', false, 2), id: '10' };
    expect(failedDeliveries([early, late]).map((d) => d.contextId)).toEqual(['3']);
  });
});

describe('readCheckpoint', () => {
  it('reads what the check stores and refuses anything else', () => {
    expect(readCheckpoint({ id: '42', at: '2026-11-20T09:00:00.000Z' })).toEqual({
      id: '42',
      at: '2026-11-20T09:00:00.000Z',
    });
    expect(readCheckpoint({ id: 42 })).toBeNull();
    expect(readCheckpoint({ id: '4x' })).toBeNull();
    expect(readCheckpoint(undefined)).toBeNull();
    expect(readCheckpoint('42')).toBeNull();
  });
});

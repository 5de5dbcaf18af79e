import { newSourceEvent, type SourceEvent } from '@raise-sync/shared/events';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import { REPLAY_DESTINATION_HEADER } from '@raise-sync/shared/state';
import {
  BoundsError,
  offsetsDone,
  parseOffsetsOption,
  positionKey,
  remainingPartitions,
  replayPercent,
  resolveBounds,
} from './replay-bounds';
import { eventMatches, keyBelongsTo, replayCopy, replayHeaders } from './replay-filter';
import { renderReplayLine, toReplayView } from './replay-view';
import type { ReplayRunRow } from './replay-run.repository';

const PARTITIONS = [
  { partition: 1, low: 5, high: 40 },
  { partition: 0, low: 0, high: 100 },
  { partition: 2, low: 0, high: 0 },
];

describe('replay bounds', () => {
  it('defaults to everything retained up to the high-water marks', () => {
    expect(resolveBounds(PARTITIONS, {}, {})).toEqual({
      bounds: [
        { partition: 0, from: 0, to: 100 },
        { partition: 1, from: 5, to: 40 },
        { partition: 2, from: 0, to: 0 },
      ],
      total: 135,
    });
  });

  it('takes one offset for every partition or offsets by partition, raising starts below the retained ones', () => {
    const { bounds, total } = resolveBounds(PARTITIONS, { all: 3 }, { byPartition: { '0': 50 } });
    expect(bounds).toEqual([
      { partition: 0, from: 3, to: 50 },
      { partition: 1, from: 5, to: 40 },
      { partition: 2, from: 0, to: 0 },
    ]);
    expect(total).toBe(47 + 35);
  });

  it('uses offsets resolved from timestamps, explicit offsets winning over nothing else', () => {
    const { bounds } = resolveBounds(
      PARTITIONS,
      { fromTimestamp: { '0': 60, '1': 40, '2': 0 } },
      { fromTimestamp: { '0': 90, '1': 40, '2': 0 } },
    );
    expect(bounds).toEqual([
      { partition: 0, from: 60, to: 90 },
      { partition: 1, from: 40, to: 40 },
      { partition: 2, from: 0, to: 0 },
    ]);
  });

  it('a time-resolved start after an offset end gives an empty partition, not an error', () => {
    const { bounds } = resolveBounds(
      [{ partition: 0, low: 0, high: 100 }],
      { fromTimestamp: { '0': 80 } },
      { all: 20 },
    );
    expect(bounds).toEqual([{ partition: 0, from: 20, to: 20 }]);
  });

  it('refuses ends beyond the high-water mark, start after end and unknown partitions', () => {
    expect(() => resolveBounds(PARTITIONS, {}, { all: 101 })).toThrow(BoundsError);
    expect(() => resolveBounds(PARTITIONS, {}, { all: 101 })).toThrow(/beyond its high-water mark/);
    expect(() => resolveBounds(PARTITIONS, { all: 30 }, { all: 20 })).toThrow(/after its end/);
    expect(() => resolveBounds(PARTITIONS, { byPartition: { '7': 1 } }, {})).toThrow(
      /names partition 7/,
    );
    expect(() => resolveBounds(PARTITIONS, { byPartition: { '0': -1 } }, {})).toThrow(
      /non-negative integer/,
    );
  });

  it('parses the CLI offset forms', () => {
    expect(parseOffsetsOption(undefined)).toBeUndefined();
    expect(parseOffsetsOption('120')).toEqual({ all: 120 });
    expect(parseOffsetsOption('0:120, 3:400')).toEqual({ byPartition: { '0': 120, '3': 400 } });
    expect(() => parseOffsetsOption('0-120')).toThrow(BoundsError);
  });

  it('tracks positions: remaining partitions, offsets done, percent', () => {
    const bounds = [
      { partition: 0, from: 10, to: 20 },
      { partition: 1, from: 0, to: 10 },
      { partition: 2, from: 5, to: 5 },
    ];
    expect(remainingPartitions(bounds, {})).toEqual([
      { partition: 0, position: 10, to: 20 },
      { partition: 1, position: 0, to: 10 },
    ]);
    const positions = { '0': 20, '1': 4 };
    expect(remainingPartitions(bounds, positions)).toEqual([{ partition: 1, position: 4, to: 10 }]);
    expect(offsetsDone(bounds, positions)).toBe(14);
    expect(replayPercent(14, 20, false)).toBe(70);
    expect(replayPercent(0, 0, false)).toBe(0);
    expect(replayPercent(0, 0, true)).toBe(100);
  });

  it('keeps the positions of a run over two topics (by resource: live and bulk) apart', () => {
    const live = 'p.source.raise.gift';
    const bulk = 'p.bulk.raise.gift';
    const bounds = [
      { topic: live, partition: 0, from: 0, to: 10 },
      { topic: live, partition: 1, from: 0, to: 10 },
      { topic: bulk, partition: 0, from: 100, to: 300 },
      { topic: bulk, partition: 1, from: 0, to: 0 },
    ];
    expect(positionKey({ partition: 3 })).toBe('3'); // a run of one topic, as before
    expect(positionKey({ topic: bulk, partition: 0 })).toBe(`${bulk}:0`);
    const positions = { [`${live}:0`]: 10, [`${live}:1`]: 4, [`${bulk}:0`]: 150, '0': 999 };
    expect(remainingPartitions(bounds, positions)).toEqual([
      { topic: live, partition: 1, position: 4, to: 10 },
      { topic: bulk, partition: 0, position: 150, to: 300 },
    ]);
    expect(offsetsDone(bounds, positions)).toBe(10 + 4 + 50);
  });
});

describe('replay filter and copies', () => {
  const event = (customerId: string, resource: 'gift' | 'donor' = 'gift'): SourceEvent =>
    newSourceEvent({
      customerId,
      source: 'raise',
      resource,
      operation: 'upsert',
      origin: 'webhook',
      recordId: '42',
      sourceModifiedAt: new Date('2026-02-01T00:00:00Z'),
      capturedAt: new Date('2026-02-01T00:00:01Z'),
      record: SAMPLE_RECORDS[resource],
    } as never);

  it('keeps only the customer (by key, then by event) and the resource when named', () => {
    const scope = { customerId: 'cust-a', resource: 'gift' };
    expect(keyBelongsTo(Buffer.from('cust-a:gift:42'), scope)).toBe(true);
    expect(keyBelongsTo('cust-ab:gift:42', scope)).toBe(false);
    expect(keyBelongsTo(null, scope)).toBe(false);
    expect(eventMatches(event('cust-a'), scope)).toBe(true);
    expect(eventMatches(event('cust-b'), scope)).toBe(false);
    expect(eventMatches(event('cust-a', 'donor'), scope)).toBe(false);
    expect(eventMatches(event('cust-a', 'donor'), { customerId: 'cust-a', resource: null })).toBe(
      true,
    );
  });

  it('a copy is the same change marked origin replay', () => {
    const original = event('cust-a');
    const copy = replayCopy(original);
    expect(copy).toEqual({ ...original, origin: 'replay' });
    expect(original.origin).toBe('webhook');
    expect(replayHeaders('d-1')).toEqual({ [REPLAY_DESTINATION_HEADER]: 'd-1' });
    expect(replayHeaders(null)).toEqual({});
  });
});

describe('replay view', () => {
  const row: ReplayRunRow = {
    id: '0b8e41c2-0000-4000-8000-000000000001',
    customer_id: 'c',
    topic: 't.source.raise.gift',
    source: 'raise',
    resource: 'gift',
    destination_id: null,
    from_time: new Date('2026-02-01T00:00:00Z'),
    to_time: null,
    bounds: [
      { partition: 0, from: 0, to: 60 },
      { partition: 1, from: 0, to: 40 },
    ],
    positions: { '0': 60, '1': 10 },
    status: 'running',
    trigger: 'cli',
    requested_by: 'ops',
    messages_total: '100',
    messages_scanned: '70',
    messages_matched: '1200',
    messages_published: '1200',
    messages_undecodable: '1',
    pages_done: '3',
    lease_owner: 'h-1',
    lease_expires_at: null,
    attempts: 1,
    last_error: null,
    requested_at: new Date('2026-02-02T00:00:00Z'),
    started_at: new Date('2026-02-02T00:00:01Z'),
    finished_at: null,
    updated_at: new Date('2026-02-02T00:00:02Z'),
  };

  it('shows positions and progress, and renders a plain line', () => {
    const view = toReplayView(row);
    expect(view.partitions).toEqual([
      { partition: 0, from: 0, to: 60, position: 60 },
      { partition: 1, from: 0, to: 40, position: 10 },
    ]);
    expect(view.progress).toMatchObject({ offsetsTotal: 100, offsetsDone: 70, percent: 70 });
    expect(renderReplayLine(view, { tty: false })).toBe(
      'replay 0b8e41c2 gift running 70.0%: 70/100 offsets scanned, 1,200 matched, 1,200 published, 1 undecodable',
    );
    expect(toReplayView({ ...row, status: 'done' }).progress.percent).toBe(100);
    expect(view.topics).toEqual(['t.source.raise.gift']);
    expect(view.pushback).toBeNull();
  });

  it('a replay by resource shows both topics, per partition; push-back shows while it waits', () => {
    const byResource: ReplayRunRow = {
      ...row,
      bounds: [
        { topic: 't.source.raise.gift', partition: 0, from: 0, to: 60 },
        { topic: 't.bulk.raise.gift', partition: 0, from: 0, to: 40 },
      ],
      positions: { 't.source.raise.gift:0': 60, 't.bulk.raise.gift:0': 10 },
    };
    const view = toReplayView(byResource, { waiting: 5001, limit: 5000 });
    expect(view.topics).toEqual(['t.source.raise.gift', 't.bulk.raise.gift']);
    expect(view.partitions).toEqual([
      { topic: 't.source.raise.gift', partition: 0, from: 0, to: 60, position: 60 },
      { topic: 't.bulk.raise.gift', partition: 0, from: 0, to: 40, position: 10 },
    ]);
    expect(view.progress.offsetsDone).toBe(70);
    expect(renderReplayLine(view, { tty: false })).toBe(
      "replay 0b8e41c2 gift running 70.0%: 70/100 offsets scanned, 1,200 matched, 1,200 published, 1 undecodable, held: over 5,000 events wait in the customer's destination lanes",
    );
    // Finished runs are never shown as held.
    expect(toReplayView({ ...byResource, status: 'done' }, { waiting: 1, limit: 0 }).pushback).toBe(
      null,
    );
  });
});

import type { OutgoingMessage as Message } from './connection';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import { newSourceEvent, type SourceEvent } from '../events/source-event';
import { BatchingPublisher, type BatchSink } from './batching-publisher';
import { EventTooLargeError } from './producer';

const event = (id: string): SourceEvent =>
  newSourceEvent({
    customerId: 'c1',
    source: 'raise',
    resource: 'gift',
    operation: 'upsert',
    origin: 'webhook',
    recordId: id,
    sourceModifiedAt: new Date('2026-11-20T00:00:00Z'),
    record: { ...SAMPLE_RECORDS.gift, id },
  });

class RecordingSink implements BatchSink {
  batches: Array<Array<{ topic: string; messages: Message[] }>> = [];
  acknowledged: string[] = [];
  fail = false;
  release?: () => void;
  hold = false;
  holdKey?: string;
  poisonKey?: string;
  tooLargeKey?: string;
  valueBytes?: number;
  partitionOf?: (topic: string, key: Message['key']) => Promise<number>;
  failKeyPrefix?: string;
  holdPatientFailures = false;
  private held: Array<() => void> = [];
  releaseAll(): void {
    for (const release of this.held.splice(0)) {
      release();
    }
  }
  toMessage(_topic: string, e: SourceEvent): Promise<Message> {
    if (e.recordId === this.tooLargeKey) {
      return Promise.reject(new EventTooLargeError(2_000_000, 1_000_000));
    }
    const value = this.valueBytes ? Buffer.alloc(this.valueBytes) : Buffer.from(e.eventId);
    return Promise.resolve({ key: e.recordId, value });
  }
  async sendBatch(
    topicMessages: Array<{ topic: string; messages: Message[] }>,
    options: { once?: boolean } = {},
  ): Promise<void> {
    this.batches.push(topicMessages);
    const keys = topicMessages.flatMap((t) => t.messages.map((m) => String(m.key)));
    if (this.failKeyPrefix && keys.some((k) => k.startsWith(this.failKeyPrefix ?? ''))) {
      if (!options.once && this.holdPatientFailures) {
        await new Promise<void>((resolve) => this.held.push(resolve));
      }
      throw new Error('partition down');
    }
    if (this.hold || (this.holdKey && keys.includes(this.holdKey))) {
      await new Promise<void>((resolve) => (this.release = resolve));
    }
    if (this.fail) {
      throw new Error('broker down');
    }
    if (this.poisonKey && keys.includes(this.poisonKey)) {
      throw Object.assign(new Error('invalid record'), { type: 'INVALID_RECORD' });
    }
    this.acknowledged.push(...keys);
  }
}

describe('BatchingPublisher', () => {
  it('gathers concurrent publishes into one produce request per linger window', async () => {
    const sink = new RecordingSink();
    const publisher = new BatchingPublisher(sink, { lingerMs: 20 });
    await Promise.all([
      publisher.publish('a', [event('1')]),
      publisher.publish('b', [event('2')]),
      publisher.publish('a', [event('3'), event('4')]),
    ]);
    expect(sink.batches).toHaveLength(1);
    const [batch] = sink.batches;
    expect(batch?.map((t) => [t.topic, t.messages.map((m) => m.key)])).toEqual([
      ['a', ['1', '3', '4']],
      ['b', ['2']],
    ]);
  });

  it('keeps each request within the byte limit, in order', async () => {
    const sink = new RecordingSink();
    sink.valueBytes = 400;
    const publisher = new BatchingPublisher(sink, { lingerMs: 5, maxBatchBytes: 1000 });
    await publisher.publish('a', ['1', '2', '3', '4', '5'].map(event));
    expect(sink.batches.map((b) => b[0]?.messages.map((m) => String(m.key)))).toEqual([
      ['1', '2'],
      ['3', '4'],
      ['5'],
    ]);
  });

  it('a failing partition fails only its own callers and never holds back the others', async () => {
    const sink = new RecordingSink();
    sink.partitionOf = (_topic, key) => Promise.resolve(String(key).startsWith('bad') ? 1 : 0);
    sink.failKeyPrefix = 'bad';
    sink.holdPatientFailures = true; // the client's resends of the failing partition take long
    const publisher = new BatchingPublisher(sink, { lingerMs: 5 });
    const bad = publisher.publish('a', [event('bad-1')]);
    const good = publisher.publish('a', [event('good-1')]);
    // The shared request failed fast; the good partition's part went again alone and succeeded
    // while the bad one is still being resent.
    await expect(good).resolves.toBeUndefined();
    // Later traffic of the good partition does not wait either; the bad one stays isolated.
    await expect(publisher.publish('a', [event('good-2')])).resolves.toBeUndefined();
    const later = publisher.publish('a', [event('bad-2')]);
    sink.holdPatientFailures = false;
    sink.releaseAll();
    await expect(bad).rejects.toThrow('partition down');
    await expect(later).rejects.toThrow('partition down');
    const shared = sink.batches.filter((b) => b.flatMap((t) => t.messages).length > 1);
    expect(
      shared.flatMap((b) => b.flatMap((t) => t.messages.map((m) => String(m.key)))).sort(),
    ).toEqual(['bad-1', 'good-1']);
    expect(sink.acknowledged).toEqual(['good-1', 'good-2']);
  });

  it("a message's own error fails only that message: the request is split until it is alone", async () => {
    const sink = new RecordingSink();
    sink.poisonKey = '3';
    const publisher = new BatchingPublisher(sink, { lingerMs: 10 });
    const results = await Promise.allSettled(
      ['1', '2', '3', '4', '5'].map((id) => publisher.publish('a', [event(id)])),
    );
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(sink.acknowledged.sort()).toEqual(['1', '2', '4', '5']);
  });

  it('refuses an event the sink cannot fit before it joins any request', async () => {
    const sink = new RecordingSink();
    sink.tooLargeKey = 'big';
    const publisher = new BatchingPublisher(sink, { lingerMs: 10 });
    const [big, small] = await Promise.allSettled([
      publisher.publish('a', [event('big')]),
      publisher.publish('a', [event('small')]),
    ]);
    expect(big?.status).toBe('rejected');
    expect(small?.status).toBe('fulfilled');
    expect(sink.batches.flat().flatMap((t) => t.messages.map((m) => String(m.key)))).toEqual([
      'small',
    ]);
  });

  it('queues while a send is in flight and sends the backlog together next', async () => {
    const sink = new RecordingSink();
    sink.hold = true;
    const publisher = new BatchingPublisher(sink, { lingerMs: 0 });
    const first = publisher.publish('a', [event('1')]);
    await new Promise((r) => setTimeout(r, 5));
    const rest = [publisher.publish('a', [event('2')]), publisher.publish('a', [event('3')])];
    await new Promise((r) => setTimeout(r, 5));
    expect(publisher.queued()).toBe(2);
    sink.hold = false;
    sink.release?.();
    await Promise.all([first, ...rest]);
    expect(sink.batches.map((b) => b[0]?.messages.length)).toEqual([1, 2]);
  });

  it('rejects every caller of a failed send and keeps working afterwards', async () => {
    const sink = new RecordingSink();
    sink.fail = true;
    const publisher = new BatchingPublisher(sink, { lingerMs: 1 });
    const results = await Promise.allSettled([
      publisher.publish('a', [event('1')]),
      publisher.publish('a', [event('2')]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    sink.fail = false;
    await expect(publisher.publish('a', [event('3')])).resolves.toBeUndefined();
  });

  it('splits a backlog larger than the batch limit', async () => {
    const sink = new RecordingSink();
    const publisher = new BatchingPublisher(sink, { lingerMs: 1, maxBatchMessages: 2 });
    await publisher.publish('a', ['1', '2', '3', '4', '5'].map(event));
    expect(sink.batches.map((b) => b[0]?.messages.length)).toEqual([2, 2, 1]);
  });
});

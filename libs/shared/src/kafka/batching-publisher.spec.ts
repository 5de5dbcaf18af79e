import type { Message } from 'kafkajs';
import { SAMPLE_RECORDS } from '../events/samples';
import { newSourceEvent, type SourceEvent } from '../events/source-event';
import { BatchingPublisher, type BatchSink } from './batching-publisher';

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
  fail = false;
  release?: () => void;
  hold = false;
  toMessage(_topic: string, e: SourceEvent): Promise<Message> {
    return Promise.resolve({ key: e.recordId, value: Buffer.from(e.eventId) });
  }
  async sendBatch(topicMessages: Array<{ topic: string; messages: Message[] }>): Promise<void> {
    this.batches.push(topicMessages);
    if (this.hold) {
      await new Promise<void>((resolve) => (this.release = resolve));
    }
    if (this.fail) {
      throw new Error('broker down');
    }
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

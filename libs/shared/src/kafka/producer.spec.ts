import type { Kafka, Message, Producer, ProducerBatch, ProducerRecord } from 'kafkajs';
import { KafkaConnection } from './connection';
import type { EventCodec } from './codec';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import { newSourceEvent } from '../events/source-event';
import {
  EVENT_HEADROOM_BYTES,
  EventProducer,
  EventTooLargeError,
  isMessageError,
  messageBytes,
} from './producer';

/** A kafkajs stand-in: records every request; `failures` makes the next sends fail. */
class FakeKafka {
  producers: FakeProducer[] = [];
  producer(): Producer {
    const p = new FakeProducer();
    this.producers.push(p);
    return p as unknown as Producer;
  }
  admin() {
    return {
      connect: () => Promise.resolve(),
      disconnect: () => Promise.resolve(),
      fetchTopicMetadata: () =>
        Promise.resolve({ topics: [{ name: 't', partitions: [{}, {}, {}] }] }),
    };
  }
}

class FakeProducer {
  sends: Message[][] = [];
  failures = 0;
  connected = false;
  connect(): Promise<void> {
    this.connected = true;
    return Promise.resolve();
  }
  disconnect(): Promise<void> {
    this.connected = false;
    return Promise.resolve();
  }
  send(record: ProducerRecord) {
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new Error('Connection error: ECONNREFUSED'));
    }
    this.sends.push(record.messages);
    return Promise.resolve(
      record.messages.map(() => ({ topicName: record.topic, partition: 0, errorCode: 0 })),
    );
  }
  sendBatch(batch: ProducerBatch) {
    return this.send({ topic: 't', messages: batch.topicMessages?.[0]?.messages ?? [] });
  }
}

const codec = {
  encode: (_topic: string, event: { record: { description?: string } | null }) =>
    Promise.resolve(Buffer.from(JSON.stringify(event))),
} as unknown as EventCodec;

const campaign = (description: string) =>
  newSourceEvent({
    customerId: 'c1',
    source: 'raise',
    resource: 'campaign',
    operation: 'upsert',
    origin: 'webhook',
    recordId: '7',
    sourceModifiedAt: new Date('2026-11-20T00:00:00Z'),
    record: { ...SAMPLE_RECORDS.campaign, description },
  });

describe('EventProducer', () => {
  it('bounds a message by its key, value and headers', () => {
    const m = { key: 'k', value: Buffer.alloc(100), headers: { h: 'vv' } };
    expect(messageBytes(m)).toBeGreaterThanOrEqual(1 + 100 + 1 + 2);
    expect(messageBytes(m)).toBeLessThan(1 + 100 + 1 + 2 + 50);
  });

  it('refuses an event that would not leave the headroom, before sending anything', async () => {
    const kafka = new FakeKafka();
    const producer = new EventProducer(KafkaConnection.around(kafka as unknown as Kafka), codec, {
      maxMessageBytes: 100_000,
    });
    await producer.connect();
    expect(producer.maxEventBytes).toBe(100_000 - 512 - EVENT_HEADROOM_BYTES);
    await expect(producer.publish('t', [campaign('x'.repeat(90_000))])).rejects.toBeInstanceOf(
      EventTooLargeError,
    );
    expect(kafka.producers[0]?.sends).toEqual([]);
    // With a callback the big one is left out and the small one written.
    const refused: string[] = [];
    await producer.publish('t', [campaign('x'.repeat(90_000)), campaign('small')], (_e, ev) =>
      refused.push(ev.recordId),
    );
    expect(refused).toEqual(['7']);
    expect(kafka.producers[0]?.sends).toHaveLength(1);
  });

  it('splits raw writes so no request passes the record-batch limit, keeping order', async () => {
    const kafka = new FakeKafka();
    const producer = new EventProducer(KafkaConnection.around(kafka as unknown as Kafka), codec, {
      maxMessageBytes: 100_000,
    });
    await producer.connect();
    const messages = ['a', 'b', 'c', 'd', 'e'].map((key) => ({ key, value: Buffer.alloc(40_000) }));
    await producer.publishRaw('t', messages);
    const sends = kafka.producers[0]?.sends ?? [];
    expect(sends.map((s) => s.map((m) => m.key))).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    await expect(
      producer.publishRaw('t', [{ key: 'z', value: Buffer.alloc(200_000) }]),
    ).rejects.toBeInstanceOf(EventTooLargeError);
  });

  it('reports unhealthy after consecutive failures, recreates itself, and heals on success', async () => {
    const kafka = new FakeKafka();
    const health: Array<{ healthy: boolean; recreated?: boolean }> = [];
    const producer = new EventProducer(KafkaConnection.around(kafka as unknown as Kafka), codec, {
      failuresBeforeRecreate: 3,
      recreateIntervalMs: 0,
      onHealth: ({ healthy, recreated }) => health.push({ healthy, recreated }),
    });
    await producer.connect();
    const first = kafka.producers[0] as FakeProducer;
    first.failures = 100; // this producer refuses every write from now on
    for (let i = 0; i < 3; i++) {
      await expect(producer.publishRaw('t', [{ key: 'k', value: 'v' }])).rejects.toThrow();
    }
    expect(producer.health().healthy).toBe(false);
    // The replacement connects and takes over: the next write goes through it.
    await new Promise((resolve) => setImmediate(resolve));
    // two kafkajs producers each time: the resending one and the one-shot one
    expect(kafka.producers).toHaveLength(4);
    await producer.publishRaw('t', [{ key: 'k', value: 'v' }]);
    expect(kafka.producers[2]?.sends).toHaveLength(1);
    expect(producer.health().healthy).toBe(true);
    expect(health).toEqual([
      { healthy: false, recreated: undefined },
      { healthy: false, recreated: true },
      { healthy: true, recreated: undefined },
    ]);
    await producer.disconnect();
  });

  it("a message's own fault (MESSAGE_TOO_LARGE, INVALID_RECORD) is not a producer failure", () => {
    const wrapped = Object.assign(new Error('outer'), {
      cause: Object.assign(new Error('inner'), { type: 'MESSAGE_TOO_LARGE' }),
    });
    expect(isMessageError(wrapped)).toBe(true);
    expect(isMessageError(new Error('Connection error'))).toBe(false);
  });

  it('spreads keys over partitions like the producer itself', async () => {
    const kafka = new FakeKafka();
    const producer = new EventProducer(KafkaConnection.around(kafka as unknown as Kafka), codec);
    await producer.connect();
    const partitions = await Promise.all(
      Array.from({ length: 30 }, (_v, i) => producer.partitionOf('t', `c1:gift:${i}`)),
    );
    expect(new Set(partitions)).toEqual(new Set([0, 1, 2]));
    expect(await producer.partitionOf('t', 'c1:gift:1')).toBe(partitions[1]);
  });
});

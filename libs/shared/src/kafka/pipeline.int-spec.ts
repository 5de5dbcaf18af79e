import { useTestStack, expectEventually } from '@raise-sync/testing';
import { EventCodec } from './codec';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import { newSourceEvent, type SourceEvent } from '../events/source-event';
import { pipelineTopicSpecs } from './admin';
import { BatchConsumer, type BatchHandler } from './batch-consumer';
import { clientOf, KafkaConnection } from './connection';
import type { ConsumedMessage } from './consumed-message';
import { EventProducer } from './producer';
import { topicsFor } from './topics';

/** A batch handler that hands one message at a time to `handle` and resolves it once handled. */
const oneByOne =
  (handle: (message: ConsumedMessage) => Promise<void>): BatchHandler =>
  async (batch, control) => {
    for (const message of batch.slice(0)) {
      if (!control.shouldContinue()) {
        return;
      }
      await handle(message);
      control.resolveOffset(message.offset);
    }
  };

const giftEvent = (customerId: string, giftId: string, minute: number): SourceEvent =>
  newSourceEvent({
    customerId,
    source: 'raise',
    resource: 'gift',
    operation: 'upsert',
    origin: 'webhook',
    recordId: giftId,
    sourceModifiedAt: new Date(Date.UTC(2026, 10, 20, 9, minute)),
    record: { ...SAMPLE_RECORDS.gift, id: giftId },
  });

describe('Kafka plumbing against the real broker and registry', () => {
  const stack = useTestStack();

  it('creates every pipeline topic with explicit partitions, idempotently', async () => {
    const topics = topicsFor(`${stack.prefix}.admin`);
    const specs = pipelineTopicSpecs(topics);
    const first = await stack.kafka.ensureTopics(specs);
    const second = await stack.kafka.ensureTopics(specs);

    expect(first.created.sort()).toEqual(specs.map((s) => s.topic).sort());
    expect(second).toEqual({ created: [], underPartitioned: [] });
    const counts = await stack.kafka.partitionCounts([
      topics.sourceEvents('raise', 'gift'),
      topics.deadLetters,
    ]);
    // Topic configs are no question the services ask: read them with the client itself.
    const admin = clientOf(stack.kafka).admin();
    await admin.connect();
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: topics.deadLetters, configNames: ['retention.ms'] }],
    });
    await admin.disconnect();
    expect(Object.fromEntries(counts)).toEqual({
      [topics.sourceEvents('raise', 'gift')]: 6,
      [topics.deadLetters]: 3,
    });
    expect(configs.resources[0]?.configEntries[0]?.configValue).toBe(
      String(90 * 24 * 60 * 60 * 1000),
    );
  });

  it('produces Avro events keyed by customer and consumes them in per-record order', async () => {
    const topics = topicsFor(`${stack.prefix}.flow`);
    const topic = topics.sourceEvents('raise', 'gift');
    await stack.kafka.ensureTopics(pipelineTopicSpecs(topics));
    const codec = new EventCodec(stack.registryUrl);
    const producer = new EventProducer(
      KafkaConnection.create({ brokers: stack.kafkaBrokers, clientId: `${stack.prefix}-p` }),
      codec,
    );
    await producer.connect();
    const events = [
      giftEvent('cust-a', '1', 0),
      giftEvent('cust-b', '1', 1),
      giftEvent('cust-a', '1', 2),
      giftEvent('cust-a', '2', 3),
      giftEvent('cust-a', '1', 4),
    ];
    await producer.publish(topic, events);
    await producer.disconnect();

    const seen: Array<{ message: ConsumedMessage; event: SourceEvent }> = [];
    const reader = new EventCodec(stack.registryUrl);
    const loop = new BatchConsumer(
      KafkaConnection.create({ brokers: stack.kafkaBrokers, clientId: `${stack.prefix}-c` }),
      { groupId: `${stack.prefix}.flow`, topics: [topic], partitionsConsumedConcurrently: 3 },
      oneByOne(async (message) => {
        const decoded = await reader.decode(message.value);
        if (!decoded.ok) {
          throw decoded.error;
        }
        seen.push({ message, event: decoded.event });
      }),
    );
    await loop.start();
    await expectEventually(() => expect(seen).toHaveLength(events.length));
    await loop.stop();

    for (const { message, event } of seen) {
      expect(message.key?.toString()).toBe(`${event.customerId}:gift:${event.recordId}`);
      expect(message.headers['x-event-id']).toBe(event.eventId);
    }
    const giftA1 = seen.filter((s) => s.message.key?.toString() === 'cust-a:gift:1');
    expect(new Set(giftA1.map((s) => s.message.partition)).size).toBe(1);
    expect(giftA1.map((s) => s.event.sourceModifiedAt.getUTCMinutes())).toEqual([0, 2, 4]);
    expect(seen.map((s) => s.event).sort((a, b) => a.eventId.localeCompare(b.eventId))).toEqual(
      [...events].sort((a, b) => a.eventId.localeCompare(b.eventId)),
    );
  });

  it('stops gracefully: the in-flight message finishes and is committed, nothing later is skipped', async () => {
    const topics = topicsFor(`${stack.prefix}.stop`);
    const topic = topics.sourceEvents('raise', 'gift');
    await stack.createTopics([topic], 1);
    const producer = new EventProducer(
      KafkaConnection.create({ brokers: stack.kafkaBrokers, clientId: `${stack.prefix}-p2` }),
      new EventCodec(stack.registryUrl),
    );
    await producer.connect();
    await producer.publish(topic, [
      giftEvent('cust-a', '10', 0),
      giftEvent('cust-a', '11', 1),
      giftEvent('cust-a', '12', 2),
    ]);
    await producer.disconnect();

    const groupId = `${stack.prefix}.stop`;
    const handled: string[] = [];
    let release!: () => void;
    const slowStarted = new Promise<void>((resolve) => {
      release = resolve;
    });
    let finishSlow!: () => void;
    const slowDone = new Promise<void>((resolve) => {
      finishSlow = resolve;
    });
    const first = new BatchConsumer(
      KafkaConnection.create({ brokers: stack.kafkaBrokers, clientId: `${stack.prefix}-c1` }),
      { groupId, topics: [topic] },
      oneByOne(async (message) => {
        if (message.offset === '0') {
          release();
          await slowDone; // still running when stop() is called
        }
        handled.push(message.offset);
      }),
    );
    await first.start();
    await slowStarted;
    const stopping = first.stop();
    finishSlow();
    await stopping;
    expect(handled).toContain('0');

    const second: string[] = [];
    const next = new BatchConsumer(
      KafkaConnection.create({ brokers: stack.kafkaBrokers, clientId: `${stack.prefix}-c2` }),
      { groupId, topics: [topic] },
      oneByOne((message) => {
        second.push(message.offset);
        return Promise.resolve();
      }),
    );
    await next.start();
    // Everything the first loop did not finish arrives again; what it finished does not.
    await expectEventually(() => expect([...handled, ...second].sort()).toEqual(['0', '1', '2']));
    await next.stop();
    expect(second).not.toContain('0');
  });

  it('hands a batch over for conversion a chunk at a time, within the fetch size it was given', async () => {
    const topics = topicsFor(`${stack.prefix}.chunks`);
    const topic = topics.sourceEvents('raise', 'gift');
    await stack.createTopics([topic], 1);
    const producer = new EventProducer(
      KafkaConnection.create({ brokers: stack.kafkaBrokers, clientId: `${stack.prefix}-p3` }),
      new EventCodec(stack.registryUrl),
    );
    await producer.connect();
    const events = Array.from({ length: 40 }, (_, i) => giftEvent('cust-c', String(i), i % 60));
    // Eight record batches of five: a fetch returns whole record batches.
    for (let i = 0; i < events.length; i += 5) {
      await producer.publish(topic, events.slice(i, i + 5));
    }
    await producer.disconnect();

    const sizes: number[] = [];
    const offsets: string[] = [];
    const batches = new BatchConsumer(
      KafkaConnection.create({ brokers: stack.kafkaBrokers, clientId: `${stack.prefix}-c3` }),
      // A few events per fetch: the batches must be bounded by it.
      { groupId: `${stack.prefix}.chunks`, topics: [topic], maxBytesPerPartition: 4096 },
      async (batch, control) => {
        sizes.push(batch.size);
        for (let start = 0; start < batch.size; start += 3) {
          const chunk = batch.slice(start, start + 3);
          offsets.push(...chunk.map((m) => m.offset));
          control.resolveOffset((chunk[chunk.length - 1] as ConsumedMessage).offset);
        }
        await Promise.resolve();
      },
    );
    await batches.start();
    await expectEventually(() => expect(offsets).toHaveLength(events.length));
    await batches.stop();
    expect(offsets).toEqual(events.map((_, i) => String(i)));
    expect(sizes.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThan(events.length);
  });
});

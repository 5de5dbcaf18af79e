import { randomUUID } from 'node:crypto';
/**
 * The floor the submitter is measured against: a bare consumer-group loop that decodes the same Avro
 * events and writes them with the same batched PostgreSQL upserts (WarehouseAdapter), without
 * sync state, ledger, audit log or retries. Shared by the submitter and fairness benchmarks.
 */
import { randomBytes } from 'node:crypto';
import { WarehouseAdapter, type DestinationContext } from '@raise-sync/destinations';
import { newSourceEvent, type SourceEvent } from '@raise-sync/shared/events';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import { EventCodec } from '@raise-sync/shared/kafka';
import {
  EventProducer,
  pipelineTopicSpecs,
  topicsFor,
  BatchConsumer,
  type KafkaConnection,
} from '@raise-sync/shared/kafka';
import { CustomerRepository, DestinationEntity, customerScope } from '@raise-sync/shared/state';
import type { DataSource } from 'typeorm';

type Kafka = KafkaConnection;

/** `n` backfill gift events of one customer, each a distinct record. */
export function backfillGifts(customerId: string, n: number): SourceEvent[] {
  const base = Date.UTC(2025, 0, 1);
  return Array.from({ length: n }, (_, i) =>
    newSourceEvent({
      customerId,
      source: 'raise',
      resource: 'gift',
      operation: 'upsert',
      origin: 'backfill',
      recordId: String(1_000_000 + i),
      sourceModifiedAt: new Date(base + i),
      record: {
        ...SAMPLE_RECORDS.gift,
        id: String(1_000_000 + i),
        amount: `${10 + (i % 90)}.00`,
        donorEmail: `donor${i}@example.org`,
        modifiedDate: new Date(base + i),
        raw: JSON.stringify({ id: 1_000_000 + i }),
      },
    } as never),
  );
}

/** Rows of a customer in the warehouse's gift table. */
export async function warehouseGifts(db: DataSource, customerId: string): Promise<number> {
  const result = await db.query<Array<{ n: string }>>(
    `SELECT count(*) AS n FROM warehouse.raise_gift WHERE customer_id = $1`,
    [customerId],
  );
  return Number(result[0]?.n ?? 0);
}

export interface PreparedBacklog {
  prefix: string;
  customerId: string;
  destinationId: string;
}

/**
 * A topic prefix of its own, a live customer with one warehouse destination, and `n` of its
 * gift events already in `topic(prefix)` (the live gift topic unless said otherwise).
 */
export async function prepareBacklog(
  kafka: Kafka,
  codec: EventCodec,
  db: DataSource,
  customers: CustomerRepository,
  label: string,
  n: number,
): Promise<PreparedBacklog> {
  const prefix = `bench-${label}-${randomBytes(3).toString('hex')}`;
  const topics = topicsFor(prefix);
  await kafka.ensureTopics(pipelineTopicSpecs(topics));
  const customer = await customers.create(customerScope(randomUUID()), {
    name: `bench ${label}`,
    status: 'live',
  });
  const repo = db.getRepository(DestinationEntity);
  const dest = await repo.save(
    repo.create({
      customerId: customer.id,
      kind: 'warehouse',
      name: 'warehouse',
      config: {},
      enabled: true,
    }),
  );
  const producer = new EventProducer(kafka, codec);
  await producer.connect();
  const all = backfillGifts(customer.id, n);
  const topic = topics.sourceEvents('raise', 'gift');
  for (let i = 0; i < all.length; i += 5000) {
    await producer.publish(topic, all.slice(i, i + 5000));
  }
  await producer.disconnect();
  return { prefix, customerId: customer.id, destinationId: dest.id };
}

export interface FloorResult {
  seconds: number;
  recordsPerSecond: number;
}

/**
 * Starts the bare consumer over a prepared backlog: decode a partition batch, then the same
 * warehouse upserts in slices of 500. Resolves once it runs; the result stops it.
 */
export async function startFloorConsumer(
  kafka: Kafka,
  codec: EventCodec,
  db: DataSource,
  backlog: PreparedBacklog,
): Promise<{ stop(): Promise<void> }> {
  const warehouse = new WarehouseAdapter(db);
  const ctx: DestinationContext = {
    customerId: backlog.customerId,
    destinationId: backlog.destinationId,
    name: 'warehouse',
    kind: 'warehouse',
    config: {},
    secrets: {},
  };
  // The plain loop under the submitter's consumers: message values only, no headers decoded,
  // the whole batch's offsets resolved once it is written.
  const consumer = new BatchConsumer(
    kafka,
    {
      groupId: `${backlog.prefix}.floor`,
      topics: [topicsFor(backlog.prefix).sourceEvents('raise', 'gift')],
      partitionsConsumedConcurrently: 3,
    },
    async (batch, control) => {
      const decoded: SourceEvent[] = [];
      for (const value of batch.values(0)) {
        const d = await codec.decode(value);
        if (d.ok) {
          decoded.push(d.event);
        }
      }
      for (let i = 0; i < decoded.length; i += 500) {
        await warehouse.deliver(ctx, decoded.slice(i, i + 500));
      }
      const last = batch.slice(batch.size - 1)[0];
      if (last) {
        control.resolveOffset(last.offset);
      }
    },
  );
  await consumer.start();
  return { stop: () => consumer.stop() };
}

/** Runs the bare consumer in this process until all `n` events are in the warehouse. */
export async function measureFloor(
  kafka: Kafka,
  codec: EventCodec,
  db: DataSource,
  backlog: PreparedBacklog,
  n: number,
): Promise<FloorResult> {
  const started = Date.now();
  const floor = await startFloorConsumer(kafka, codec, db, backlog);
  while ((await warehouseGifts(db, backlog.customerId)) < n) {
    await new Promise((r) => setTimeout(r, 250));
  }
  const seconds = (Date.now() - started) / 1000;
  await floor.stop();
  return { seconds, recordsPerSecond: n / seconds };
}

/**
 * Submitter benchmark: records/s end to end into the warehouse for N events, next to a floor
 * measured in the same run: a bare kafkajs consumer that decodes the same Avro events and writes
 * them with the same batched PostgreSQL upserts (WarehouseAdapter), without sync state, ledger,
 * audit log or retries. Also the submitter's peak RSS.
 *
 *   npm run bench -- submitter --events 200000
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { WarehouseAdapter, type DestinationContext } from '@raise-sync/destinations';
import { SecretBox } from '@raise-sync/shared/crypto';
import {
  EventCodec,
  newSourceEvent,
  SAMPLE_RECORDS,
  type SourceEvent,
} from '@raise-sync/shared/events';
import {
  createKafka,
  ensureTopics,
  EventProducer,
  pipelineTopicSpecs,
  topicsFor,
} from '@raise-sync/shared/kafka';
import { CustomerRepository, DestinationEntity } from '@raise-sync/shared/state';
import { benchDatabase, env, freePort } from './util';

const ROOT = resolve(__dirname, '../../../../../..');
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const EVENTS = arg('events', 200_000);

function events(customerId: string, n: number): SourceEvent[] {
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

async function main(): Promise<void> {
  const database = await benchDatabase('benchsub');
  const { db, url: databaseUrl } = database;
  const secretsKey = randomBytes(32).toString('hex');
  const customers = new CustomerRepository(db, SecretBox.fromHex(secretsKey));
  const brokers = env('KAFKA_BROKERS').split(',');
  const kafka = createKafka({ brokers, clientId: 'bench' });
  const codec = new EventCodec(env('SCHEMA_REGISTRY_URL'));
  const rows = async (customerId: string): Promise<number> => {
    const result = await db.query<Array<{ n: string }>>(
      `SELECT count(*) AS n FROM warehouse.raise_gift WHERE customer_id = $1`,
      [customerId],
    );
    return Number(result[0]?.n ?? 0);
  };

  const prepare = async (
    label: string,
  ): Promise<{ prefix: string; customerId: string; destinationId: string }> => {
    const prefix = `bench-${label}-${randomBytes(3).toString('hex')}`;
    const topics = topicsFor(prefix);
    await ensureTopics(kafka, pipelineTopicSpecs(topics));
    const customer = await customers.create({ name: `bench ${label}`, status: 'live' });
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
    const all = events(customer.id, EVENTS);
    const topic = topics.sourceEvents('raise', 'gift');
    for (let i = 0; i < all.length; i += 5000) {
      await producer.publish(topic, all.slice(i, i + 5000));
    }
    await producer.disconnect();
    return { prefix, customerId: customer.id, destinationId: dest.id };
  };

  // Floor: bare kafkajs consumer + the same batched warehouse upserts.
  const floor = await prepare('floor');
  const warehouse = new WarehouseAdapter(db);
  const ctx: DestinationContext = {
    customerId: floor.customerId,
    destinationId: floor.destinationId,
    name: 'warehouse',
    kind: 'warehouse',
    config: {},
    secrets: {},
  };
  const consumer = kafka.consumer({ groupId: `${floor.prefix}.floor` });
  await consumer.connect();
  await consumer.subscribe({
    topics: [topicsFor(floor.prefix).sourceEvents('raise', 'gift')],
    fromBeginning: true,
  });
  let floorDone = 0;
  const floorStart = Date.now();
  await consumer.run({
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch }) => {
      const decoded: SourceEvent[] = [];
      for (const m of batch.messages) {
        const d = await codec.decode(m.value);
        if (d.ok) {
          decoded.push(d.event);
        }
      }
      for (let i = 0; i < decoded.length; i += 500) {
        await warehouse.deliver(ctx, decoded.slice(i, i + 500));
      }
      floorDone += decoded.length;
    },
  });
  while ((await rows(floor.customerId)) < EVENTS) {
    await new Promise((r) => setTimeout(r, 250));
  }
  const floorSeconds = (Date.now() - floorStart) / 1000;
  await consumer.disconnect();

  // The submitter, as a process, with sync state, audit, ledger and retries.
  const sub = await prepare('submitter');
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [resolve(ROOT, 'dist/apps/submitter/apps/submitter/src/main.js')],
    {
      env: {
        PATH: process.env['PATH'],
        KAFKA_BROKERS: env('KAFKA_BROKERS'),
        SCHEMA_REGISTRY_URL: env('SCHEMA_REGISTRY_URL'),
        DATABASE_URL: databaseUrl,
        SECRETS_KEY: secretsKey,
        KAFKA_TOPIC_PREFIX: sub.prefix,
        HTTP_PORT: String(port),
        HTTP_HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        SUBMITTER_PARTITIONS_CONCURRENCY: '6',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const subStart = Date.now();
  while ((await rows(sub.customerId)) < EVENTS) {
    if (child.exitCode !== null) {
      throw new Error(`submitter exited with ${child.exitCode}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const subSeconds = (Date.now() - subStart) / 1000;
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const peakMiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  await db.destroy();

  const floorRate = floorDone / floorSeconds;
  const subRate = EVENTS / subSeconds;
  process.stdout.write(
    `submitter benchmark: ${EVENTS} gift events into the PostgreSQL warehouse\n`,
  );
  process.stdout.write(
    `${'run'.padEnd(58)} ${'seconds'.padStart(8)} ${'records/s'.padStart(10)}  vs floor\n`,
  );
  process.stdout.write(
    `${'floor: bare kafkajs consumer + same batched upserts'.padEnd(58)} ${floorSeconds.toFixed(1).padStart(8)} ${floorRate.toFixed(0).padStart(10)}  1.00x\n`,
  );
  process.stdout.write(
    `${'submitter: + sync state, audit log, ledger, retries'.padEnd(58)} ${subSeconds.toFixed(1).padStart(8)} ${subRate.toFixed(0).padStart(10)}  ${(subRate / floorRate).toFixed(2)}x (includes process start-up)\n`,
  );
  process.stdout.write(`submitter peak RSS: ${peakMiB.toFixed(0)} MiB\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);

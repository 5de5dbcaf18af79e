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
import { SecretBox } from '@raise-sync/shared/crypto';
import { EventCodec } from '@raise-sync/shared/events';
import { createKafka } from '@raise-sync/shared/kafka';
import { CustomerRepository } from '@raise-sync/shared/state';
import { benchDatabase, env, freePort } from './util';
import { measureFloor, prepareBacklog, warehouseGifts } from './warehouse-floor';

const ROOT = resolve(__dirname, '../../../../../..');
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const EVENTS = arg('events', 200_000);

async function main(): Promise<void> {
  const database = await benchDatabase('benchsub');
  const { db, url: databaseUrl } = database;
  const secretsKey = randomBytes(32).toString('hex');
  const customers = new CustomerRepository(db, SecretBox.fromHex(secretsKey));
  const brokers = env('KAFKA_BROKERS').split(',');
  const kafka = createKafka({ brokers, clientId: 'bench' });
  const codec = new EventCodec(env('SCHEMA_REGISTRY_URL'));
  const rows = (customerId: string): Promise<number> => warehouseGifts(db, customerId);
  const prepare = (label: string): ReturnType<typeof prepareBacklog> =>
    prepareBacklog(kafka, codec, db, customers, label, EVENTS);

  // Floor: bare kafkajs consumer + the same batched warehouse upserts.
  const floor = await measureFloor(kafka, codec, db, await prepare('floor'), EVENTS);

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

  const floorRate = floor.recordsPerSecond;
  const floorSeconds = floor.seconds;
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

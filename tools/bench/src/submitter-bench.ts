/**
 * Submitter benchmark: records/s end to end into the warehouse for N events, next to a floor
 * measured in the same run: a bare consumer loop that decodes the same Avro events and writes
 * them with the same batched PostgreSQL upserts (WarehouseAdapter), without sync state, ledger,
 * audit log or retries.
 *
 * Both run as processes of their own, with the V8 flags (heap cap, young generation) the
 * Kubernetes manifest gives the submitter (deploy/k8s/base/submitter.yaml; BENCH_NODE_FLAGS adds
 * others), and are measured the same way: start-up is the
 * time from spawn to the first warehouse row, throughput is timed from that row to the last one.
 * Printed per process: its CPU seconds in the timed window, PostgreSQL's (all its processes) and
 * the broker's in the same window, and the process's peak RSS. --runs N alternates the order
 * (floor first, then submitter first, ...) and prints medians. BENCH_CPU_PROF=<dir> writes a
 * V8 CPU profile of each process there.
 *
 *   npm run bench -- submitter [--events 200000] [--runs 3]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SecretBox } from '@raise-sync/shared/crypto';
import { EventCodec } from '@raise-sync/shared/kafka';
import { KafkaConnection } from '@raise-sync/shared/kafka';
import { CustomerRepository, dataSourceOptions } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';
import {
  benchDatabase,
  cpuByComm,
  cpuOf,
  cpuSpent,
  env,
  freePort,
  manifestHeapCapMiB,
  manifestNodeFlags,
} from './util';
import {
  prepareBacklog,
  startFloorConsumer,
  warehouseGifts,
  type PreparedBacklog,
} from './warehouse-floor';

const ROOT = resolve(__dirname, '../../../../../..');
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const EVENTS = arg('events', 200_000);
const RUNS = arg('runs', 1);
/** Targets of issue 14. */
const TARGET_RATIO = 0.8;
const TARGET_RSS_MIB = 300;

type Contender = 'floor' | 'submitter';

interface Figures {
  startupSeconds: number;
  seconds: number;
  recordsPerSecond: number;
  cpuSeconds: number;
  postgresCpuSeconds: number;
  brokerCpuSeconds: number;
  peakRssMiB: number;
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

async function firstRow(db: DataSource, customerId: string, child: ChildProcess): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`process exited with ${child.exitCode}`);
    }
    const rows = await db.query<Array<{ found: boolean }>>(
      `SELECT EXISTS (SELECT 1 FROM warehouse.raise_gift WHERE customer_id = $1) AS found`,
      [customerId],
    );
    if (rows[0]?.found) {
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Spawns one contender over its prepared backlog and measures it as described above. */
async function measure(
  contender: Contender,
  backlog: PreparedBacklog,
  db: DataSource,
  databaseUrl: string,
  secretsKey: string,
): Promise<Figures> {
  const profileDir = process.env['BENCH_CPU_PROF'];
  // Both contenders run with every V8 flag of the submitter's manifest (heap cap, young
  // generation), plus BENCH_NODE_FLAGS when a run tries others.
  const nodeArgs = [
    ...manifestNodeFlags(ROOT, 'submitter'),
    ...(process.env['BENCH_NODE_FLAGS'] ? process.env['BENCH_NODE_FLAGS'].split(' ') : []),
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
  ];
  const common = {
    PATH: process.env['PATH'],
    KAFKA_BROKERS: env('KAFKA_BROKERS'),
    SCHEMA_REGISTRY_URL: env('SCHEMA_REGISTRY_URL'),
    DATABASE_URL: databaseUrl,
  };
  const child =
    contender === 'floor'
      ? spawn(
          process.execPath,
          [...nodeArgs, __filename, '--floor-child', JSON.stringify(backlog)],
          {
            env: common,
            stdio: ['ignore', 'ignore', 'inherit'],
          },
        )
      : spawn(
          process.execPath,
          [...nodeArgs, resolve(ROOT, 'dist/apps/submitter/apps/submitter/src/main.js')],
          {
            env: {
              ...common,
              SECRETS_KEY: secretsKey,
              KAFKA_TOPIC_PREFIX: backlog.prefix,
              HTTP_PORT: String(await freePort()),
              HTTP_HOST: '127.0.0.1',
              LOG_LEVEL: 'warn',
              SUBMITTER_PARTITIONS_CONCURRENCY: '6',
            },
            stdio: ['ignore', 'ignore', 'inherit'],
          },
        );
  const spawned = Date.now();
  try {
    await firstRow(db, backlog.customerId, child);
    const started = Date.now();
    const cpu0 = cpuOf(child.pid as number);
    const pg0 = cpuByComm('postgres');
    const broker0 = cpuByComm('java');
    // A count of the customer's rows costs PostgreSQL tens of ms at 200,000 rows, and that CPU
    // is taken from the process measured: poll often only near the end (the wait is half the
    // time the rest is expected to take at the rate so far, between 50 ms and 2 s).
    for (;;) {
      const rows = await warehouseGifts(db, backlog.customerId);
      if (rows >= EVENTS) {
        break;
      }
      if (child.exitCode !== null) {
        throw new Error(`${contender} exited with ${child.exitCode}`);
      }
      const rate = rows / Math.max(1, Date.now() - started);
      const restMs = rate > 0 ? (EVENTS - rows) / rate : 1000;
      await new Promise((r) => setTimeout(r, Math.min(2000, Math.max(50, restMs / 2))));
    }
    const seconds = (Date.now() - started) / 1000;
    return {
      startupSeconds: (started - spawned) / 1000,
      seconds,
      recordsPerSecond: EVENTS / seconds,
      cpuSeconds: cpuOf(child.pid as number) - cpu0,
      postgresCpuSeconds: cpuSpent(pg0, cpuByComm('postgres')),
      brokerCpuSeconds: cpuSpent(broker0, cpuByComm('java')),
      peakRssMiB: peakRssMiB(child.pid as number),
    };
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }
}

/** The floor as a process of its own: consumes its backlog until SIGTERM. */
async function floorChild(backlog: PreparedBacklog): Promise<void> {
  const kafka = KafkaConnection.create({
    brokers: env('KAFKA_BROKERS').split(','),
    clientId: 'bench-floor',
  });
  const codec = new EventCodec(env('SCHEMA_REGISTRY_URL'));
  const db = await new DataSource(
    dataSourceOptions(env('DATABASE_URL'), { extra: { max: 4 } }),
  ).initialize();
  const floor = await startFloorConsumer(kafka, codec, db, backlog);
  await new Promise<void>((done) => process.once('SIGTERM', () => done()));
  await floor.stop();
  await db.destroy();
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

function row(label: string, f: Figures, floorRate: number): string {
  return [
    label.padEnd(44),
    f.startupSeconds.toFixed(1).padStart(8),
    f.seconds.toFixed(1).padStart(8),
    f.recordsPerSecond.toFixed(0).padStart(10),
    `${(f.recordsPerSecond / floorRate).toFixed(2)}x`.padStart(7),
    f.cpuSeconds.toFixed(1).padStart(6),
    f.postgresCpuSeconds.toFixed(1).padStart(6),
    f.brokerCpuSeconds.toFixed(1).padStart(7),
    f.peakRssMiB.toFixed(0).padStart(8),
  ].join(' ');
}

const HEADER = [
  'run'.padEnd(44),
  'start s'.padStart(8),
  'timed s'.padStart(8),
  'records/s'.padStart(10),
  'vs floor'.padStart(7),
  'cpu s'.padStart(6),
  'pg s'.padStart(6),
  'kafka s'.padStart(7),
  'RSS MiB'.padStart(8),
].join(' ');

async function main(): Promise<void> {
  const database = await benchDatabase('benchsub');
  const { db, url: databaseUrl } = database;
  const secretsKey = randomBytes(32).toString('hex');
  const customers = new CustomerRepository(db, SecretBox.fromHex(secretsKey));
  const kafka = KafkaConnection.create({
    brokers: env('KAFKA_BROKERS').split(','),
    clientId: 'bench',
  });
  const codec = new EventCodec(env('SCHEMA_REGISTRY_URL'));
  const results: Record<Contender, Figures[]> = { floor: [], submitter: [] };
  process.stdout.write(
    `submitter benchmark: ${EVENTS} gift events into the PostgreSQL warehouse, ${RUNS} run(s), heap cap ${manifestHeapCapMiB(ROOT, 'submitter')} MiB\n` +
      `floor: bare consumer loop + the same batched upserts; submitter: + sync state, audit log, ledger, retries\n` +
      `(start s: spawn to first row; timed from the first row to the last; cpu/pg/kafka s: CPU in the timed window)\n` +
      `${HEADER}\n`,
  );
  for (let run = 0; run < RUNS; run += 1) {
    const order: Contender[] = run % 2 === 0 ? ['floor', 'submitter'] : ['submitter', 'floor'];
    const figures = {} as Record<Contender, Figures>;
    for (const contender of order) {
      const backlog = await prepareBacklog(kafka, codec, db, customers, contender, EVENTS);
      figures[contender] = await measure(contender, backlog, db, databaseUrl, secretsKey);
      results[contender].push(figures[contender]);
    }
    for (const contender of order) {
      process.stdout.write(
        `${row(`run ${run + 1} ${contender}`, figures[contender], figures.floor.recordsPerSecond)}\n`,
      );
    }
  }
  const med = (c: Contender): Figures => {
    const list = results[c];
    const pick = (k: keyof Figures): number => median(list.map((f) => f[k]));
    return {
      startupSeconds: pick('startupSeconds'),
      seconds: pick('seconds'),
      recordsPerSecond: pick('recordsPerSecond'),
      cpuSeconds: pick('cpuSeconds'),
      postgresCpuSeconds: pick('postgresCpuSeconds'),
      brokerCpuSeconds: pick('brokerCpuSeconds'),
      peakRssMiB: pick('peakRssMiB'),
    };
  };
  const floor = med('floor');
  const submitter = med('submitter');
  const ratios = results.submitter.map(
    (s, i) => s.recordsPerSecond / (results.floor[i] as Figures).recordsPerSecond,
  );
  process.stdout.write(`${row('median floor', floor, floor.recordsPerSecond)}\n`);
  process.stdout.write(`${row('median submitter', submitter, floor.recordsPerSecond)}\n`);
  process.stdout.write(
    `submitter vs floor (median of per-run ratios): ${median(ratios).toFixed(2)}x (target >= ${TARGET_RATIO}x: ${median(ratios) >= TARGET_RATIO ? 'met' : 'NOT met'}); ` +
      `submitter peak RSS ${submitter.peakRssMiB.toFixed(0)} MiB (target <= ${TARGET_RSS_MIB}: ${submitter.peakRssMiB <= TARGET_RSS_MIB ? 'met' : 'NOT met'})\n`,
  );
  await database.drop();
}

const childAt = process.argv.indexOf('--floor-child');
(childAt > 0
  ? floorChild(JSON.parse(process.argv[childAt + 1] as string) as PreparedBacklog)
  : main()
).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);

/**
 * Webhook acknowledgement benchmark: requests per second and p50/p99 latency, each request
 * signed like Raise signs it, verified, and written to Kafka with acks=all before the 2xx. In the
 * same run and on the same broker, at each concurrency:
 *   floor      a bare node:http server doing only that work (webhook-floor.ts, its own process);
 *   ingest     the built ingest, the whole request path;
 *   2 workers  the same ingest with INGEST_WORKERS=2 (two processes behind one port);
 *   no Kafka   the same ingest with the Kafka write switched off (BENCH_DISCARD_EVENTS=1), which
 *              shows what the request path costs before Kafka is involved.
 * With --runs N every figure is the median of N runs.
 *
 *   npm run bench -- webhooks --requests 20000 --concurrency 32,128 --runs 3 [--profile DIR]
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { runMigrations } from '@raise-sync/shared/state';
import { RAISE_WEBHOOK_HEADERS, signRaiseWebhook } from '@raise-sync/sources';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { raiseGiftWebhookBody } from '@raise-sync/testing/fixtures';
import { env, freePort, waitReady } from './util';

// Compiled to dist/tools/bench/tools/bench/src.
const ROOT = resolve(__dirname, '../../../../../..');
const argText = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const REQUESTS = Number(argText('requests', '20000'));
const CONCURRENCIES = argText('concurrency', '32,128').split(',').map(Number);
const RUNS = Number(argText('runs', '1'));
/** With --profile DIR the ingest processes write V8 CPU profiles there (node --cpu-prof), the floor to DIR/floor. */
const PROFILE_DIR = argText('profile', '');
const WARMUP = Math.min(2000, Math.floor(REQUESTS / 5));
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const SECRET = `whsec_${randomBytes(16).toString('hex')}`;

async function freshDatabase(): Promise<string> {
  const name = `bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: env('DATABASE_URL') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(env('DATABASE_URL'));
  url.pathname = `/${name}`;
  await runMigrations(url.toString());
  return url.toString();
}

interface RunResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** A server under test: where to send, and how to stop it. */
interface Target {
  label: string;
  port: number;
  path: string;
  stop(): Promise<void>;
}

async function stopChild(child: ReturnType<typeof spawn>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

/** The built ingest with one customer (polling off) whose webhooks are signed with SECRET. */
async function startIngestTarget(
  label: string,
  sim: Simulator,
  databaseUrl: string,
  discard: boolean,
  workers = 1,
): Promise<Target> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [
      ...(PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', resolve(PROFILE_DIR)] : []),
      resolve(ROOT, 'dist/apps/ingest/apps/ingest/src/main.js'),
    ],
    {
      env: {
        PATH: process.env['PATH'],
        KAFKA_BROKERS: env('KAFKA_BROKERS'),
        SCHEMA_REGISTRY_URL: env('SCHEMA_REGISTRY_URL'),
        DATABASE_URL: databaseUrl,
        SECRETS_KEY: randomBytes(32).toString('hex'),
        KAFKA_TOPIC_PREFIX: `bench-${randomBytes(3).toString('hex')}`,
        HTTP_PORT: String(port),
        HTTP_HOST: '127.0.0.1',
        ADMIN_TOKEN,
        RAISE_API_URL: sim.raiseUrl,
        VOMO_API_URL: sim.vomoUrl,
        // With workers, the primary's info line "workers started" says when all of them listen
        // (accepted webhooks are never logged one by one, so info costs nothing per request).
        LOG_LEVEL: workers > 1 ? 'info' : 'warn',
        BENCH_DISCARD_EVENTS: discard ? '1' : '0',
        INGEST_WORKERS: String(workers),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  const allListening = new Promise<void>((done) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4096);
      if (output.includes('"msg":"workers started"')) {
        done();
      }
    });
  });
  try {
    await waitReady(url, child, 'ingest');
    if (workers > 1) {
      await allListening;
    }
    const org = `bench-${label.replace(/\W+/g, '-')}`;
    const token = `tok-${org}`;
    sim.control.createOrg({
      id: org,
      raiseToken: token,
      vomoToken: `v-${token}`,
      gifts: 1,
      donors: 1,
    });
    const created = await fetch(`${url}/admin/customers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: org,
        raise: { apiToken: token, webhookSecret: SECRET },
        polling: { enabled: false },
      }),
    });
    const customerId = ((await created.json()) as { id: string }).id;
    return { label, port, path: `/webhooks/raise/${customerId}`, stop: () => stopChild(child) };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

/** The bare floor (webhook-floor.ts) as a process of its own, ready to serve. */
async function startFloorTarget(): Promise<Target> {
  const port = await freePort();
  const profile = PROFILE_DIR
    ? ['--cpu-prof', '--cpu-prof-dir', resolve(PROFILE_DIR, 'floor')]
    : [];
  const child = spawn(process.execPath, [...profile, resolve(__dirname, 'webhook-floor.js')], {
    env: {
      PATH: process.env['PATH'],
      KAFKA_BROKERS: env('KAFKA_BROKERS'),
      SCHEMA_REGISTRY_URL: env('SCHEMA_REGISTRY_URL'),
      FLOOR_PORT: String(port),
      FLOOR_SECRET: SECRET,
      FLOOR_TOPIC_PREFIX: `bench-floor-${randomBytes(3).toString('hex')}`,
      FLOOR_CUSTOMER_ID: randomUUID(),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error('webhook floor did not start in 60 s')), 60_000);
    child.once('exit', (code) => fail(new Error(`webhook floor exited with ${code}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        done();
      }
    });
  });
  return { label: 'floor', port, path: '/webhooks/raise/floor', stop: () => stopChild(child) };
}

/** A Raise "Gift Created" body; every call a gift of its own, so no replay is refused. */
let nextGift = 1_000_000;
function giftBody(): string {
  const id = nextGift++;
  return raiseGiftWebhookBody(id, {
    donorId: 7,
    amount: 25 + (id % 100),
    campaignName: 'Winter Appeal',
    modifiedDate: new Date(Date.UTC(2026, 10, 20, 10) + id).toISOString(),
  });
}

/** Warm-up, then REQUESTS signed webhooks at `concurrency`; each is signed when it is sent. */
async function measure(target: Target, concurrency: number): Promise<RunResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const send = (body: string): Promise<{ status: number; ms: number }> =>
    new Promise((done) => {
      const ts = Math.floor(Date.now() / 1000);
      const started = process.hrtime.bigint();
      const req = request(
        {
          host: '127.0.0.1',
          port: target.port,
          path: target.path,
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            [RAISE_WEBHOOK_HEADERS.timestamp]: String(ts),
            [RAISE_WEBHOOK_HEADERS.signature]: signRaiseWebhook(SECRET, ts, body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            done({
              status: res.statusCode ?? 0,
              ms: Number(process.hrtime.bigint() - started) / 1e6,
            }),
          );
        },
      );
      req.on('error', () =>
        done({ status: 0, ms: Number(process.hrtime.bigint() - started) / 1e6 }),
      );
      req.end(body);
    });
  const drive = async (
    count: number,
  ): Promise<{ latencies: number[]; errors: number; seconds: number }> => {
    const bodies = Array.from({ length: count }, giftBody);
    let next = 0;
    const latencies: number[] = [];
    let errors = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < bodies.length) {
          const r = await send(bodies[next++] as string);
          latencies.push(r.ms);
          if (r.status !== 202) {
            errors += 1;
          }
        }
      }),
    );
    return { latencies, errors, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  };
  try {
    await drive(WARMUP);
    const run = await drive(REQUESTS);
    const sorted = run.latencies.sort((a, b) => a - b);
    const pct = (p: number): number =>
      sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
    return { rps: REQUESTS / run.seconds, p50: pct(0.5), p99: pct(0.99), errors: run.errors };
  } finally {
    agent.destroy();
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

async function main(): Promise<void> {
  const sim = await startSimulator({ seed: 1 });
  const targets: Target[] = [];
  try {
    const databaseUrl = await freshDatabase();
    console.log(
      `webhook ack benchmark: ${REQUESTS} signed requests (+${WARMUP} warm-up) per figure, concurrency ${CONCURRENCIES.join(' and ')}, ${RUNS} run(s)`,
    );
    // Started once (start-up is not timed); only the one being measured has traffic.
    targets.push(await startFloorTarget());
    targets.push(await startIngestTarget('ingest', sim, databaseUrl, false));
    targets.push(await startIngestTarget('ingest, 2 workers', sim, databaseUrl, false, 2));
    targets.push(await startIngestTarget('ingest, no Kafka write', sim, databaseUrl, true));
    const results = new Map<string, RunResult[]>();
    for (let run = 1; run <= RUNS; run += 1) {
      for (const concurrency of CONCURRENCIES) {
        for (const target of targets) {
          const result = await measure(target, concurrency);
          const key = `${concurrency}|${target.label}`;
          results.set(key, [...(results.get(key) ?? []), result]);
          console.log(
            `  run ${run}, concurrency ${concurrency}, ${target.label}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, non-202 ${result.errors}`,
          );
        }
      }
    }
    console.log(RUNS > 1 ? `medians of ${RUNS} runs:` : 'figures:');
    console.log(
      `${'concurrency'.padEnd(12)}${'mode'.padEnd(26)}${'req/s'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'non-202'.padStart(9)}  vs floor`,
    );
    for (const concurrency of CONCURRENCIES) {
      const of = (label: string) => {
        const list = results.get(`${concurrency}|${label}`) ?? [];
        return {
          rps: median(list.map((r) => r.rps)),
          p50: median(list.map((r) => r.p50)),
          p99: median(list.map((r) => r.p99)),
          errors: list.reduce((n, r) => n + r.errors, 0),
        };
      };
      const floor = of('floor');
      for (const target of targets) {
        const r = of(target.label);
        console.log(
          `${String(concurrency).padEnd(12)}${target.label.padEnd(26)}${r.rps.toFixed(0).padStart(8)}${r.p50.toFixed(2).padStart(9)}${r.p99.toFixed(2).padStart(9)}${String(r.errors).padStart(9)}  ${(r.rps / floor.rps).toFixed(2)}x`,
        );
      }
    }
  } finally {
    for (const target of targets.reverse()) {
      await target.stop();
    }
    await sim.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

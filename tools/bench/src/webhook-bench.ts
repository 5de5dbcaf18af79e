/**
 * Webhook acknowledgement benchmark: requests per second and p50/p99 latency at a fixed
 * concurrency, each request signature-verified and (in the measured run) written to Kafka with
 * acks=all before the 2xx. The baseline is the same ingest process and request path with the
 * Kafka write switched off (BENCH_DISCARD_EVENTS=1), measured in the same run on the same machine.
 *
 *   npm run bench -- --requests 20000 --concurrency 32
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { runMigrations } from '@raise-sync/shared/state';
import { RAISE_WEBHOOK_HEADERS, signRaiseWebhook } from '@raise-sync/sources';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { env, freePort, waitReady } from './util';

// Compiled to dist/tools/bench/tools/bench/src.
const ROOT = resolve(__dirname, '../../../../../..');
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const REQUESTS = arg('requests', 20_000);
const CONCURRENCY = arg('concurrency', 32);
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
  label: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function runMode(
  label: string,
  sim: Simulator,
  databaseUrl: string,
  discard: boolean,
): Promise<RunResult> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [resolve(ROOT, 'dist/apps/ingest/apps/ingest/src/main.js')],
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
        LOG_LEVEL: 'warn',
        BENCH_DISCARD_EVENTS: discard ? '1' : '0',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  try {
    await waitReady(url, child, 'ingest');
    const org = `bench-${label}`;
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
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const path = `/webhooks/raise/${customerId}`;
    const bodies = Array.from({ length: WARMUP + REQUESTS }, (_, i) => {
      const id = 1_000_000 + i;
      const body = JSON.stringify({
        eventType: 10,
        eventTypeDisplay: 'Gift Created',
        contextId: id,
        data: {
          id,
          donorId: 7,
          recurringGiftId: null,
          amount: 25 + (i % 100),
          currency: 'USD',
          date: '2026-11-20T10:00:00',
          status: 1,
          statusText: 'Success',
          isTestMode: false,
          isAnonymous: false,
          paymentType: 'CreditCard',
          transactionId: `tx-${id}`,
          campaignName: 'Winter Appeal',
          createdDate: '2026-11-20T10:00:00.000Z',
          modifiedDate: new Date(Date.UTC(2026, 10, 20, 10) + i).toISOString(),
        },
      });
      return body;
    });
    const send = (body: string): Promise<{ status: number; ms: number }> =>
      new Promise((done) => {
        const ts = Math.floor(Date.now() / 1000);
        const started = process.hrtime.bigint();
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path,
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
      list: string[],
    ): Promise<{ latencies: number[]; errors: number; seconds: number }> => {
      let next = 0;
      const latencies: number[] = [];
      let errors = 0;
      const started = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < list.length) {
            const body = list[next++] as string;
            const r = await send(body);
            latencies.push(r.ms);
            if (r.status !== 202) {
              errors += 1;
            }
          }
        }),
      );
      return { latencies, errors, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
    };
    await drive(bodies.slice(0, WARMUP));
    const run = await drive(bodies.slice(WARMUP));
    agent.destroy();
    const sorted = run.latencies.sort((a, b) => a - b);
    const pct = (p: number): number =>
      sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
    return {
      label,
      rps: REQUESTS / run.seconds,
      p50: pct(0.5),
      p99: pct(0.99),
      errors: run.errors,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }
}

async function main(): Promise<void> {
  const sim = await startSimulator({ seed: 1 });
  try {
    const databaseUrl = await freshDatabase();
    console.log(
      `webhook ack benchmark: ${REQUESTS} signed requests (+${WARMUP} warm-up), concurrency ${CONCURRENCY}`,
    );
    const baseline = await runMode('baseline', sim, databaseUrl, true);
    const kafka = await runMode('kafka', sim, databaseUrl, false);
    const row = (r: RunResult, ratio: string): string =>
      `${r.label.padEnd(34)} ${r.rps.toFixed(0).padStart(8)} ${r.p50.toFixed(2).padStart(9)} ${r.p99.toFixed(2).padStart(9)} ${String(r.errors).padStart(7)}  ${ratio}`;
    console.log(
      `${'mode'.padEnd(34)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'non-202'.padStart(7)}  vs baseline`,
    );
    console.log(row({ ...baseline, label: 'baseline: verify, no Kafka write' }, '1.00x'));
    console.log(
      row(
        { ...kafka, label: 'ingest: verify + acks=all write' },
        `${(kafka.rps / baseline.rps).toFixed(2)}x throughput, p99 ${(kafka.p99 / baseline.p99).toFixed(2)}x`,
      ),
    );
  } finally {
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

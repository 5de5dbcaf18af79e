import { randomUUID } from 'node:crypto';
/**
 * Reconciler benchmark: one window of N gifts (default 1,000,000) that the warehouse and the sync
 * state already hold, except a known set of planted gaps. Measured in the same run:
 *   (a) baseline: stream the same window from the simulator with RaiseClient.streamModifiedSince
 *       at the same page size and the same options (donor embedded), doing nothing else;
 *   (b) the built reconciler app as a child process reconciling that window on demand: wall time
 *       from the request to the stored outcome, and its peak RSS (VmHWM, /proc/<pid>/status).
 * The gaps it reports must equal the planted ones (exit code 1 otherwise). The reconciler runs with
 * the heap cap of its Kubernetes manifest; the CPU of the reconciler, the simulator and PostgreSQL
 * in each timed part is printed, and BENCH_CPU_PROF=dir writes the reconciler's V8 profile there.
 *
 *   npm run bench -- reconcile [--records 1000000] [--page-size 1000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { eventIdFor } from '@raise-sync/shared/events';
import { SecretBox } from '@raise-sync/shared/crypto';
import {
  RAISE_OPERATORS,
  RAISE_PARAMETERS,
  RaiseClient,
  RateBudgets,
  SourceHttpClient,
} from '@raise-sync/sources';
import { CustomerRepository, DestinationEntity, customerScope } from '@raise-sync/shared/state';
import { connectSimulator } from '@raise-sync/simulators';
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

const ROOT = resolve(__dirname, '../../../../../..');
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RECORDS = arg('records', 1_000_000);
const PAGE_SIZE = arg('page-size', 1000);
const CHUNK = 50_000;
/** Every PLANT-th record (by position) is a gap of one kind: lost, never delivered, stale. */
const PLANT = 10_007;
const DAY = 86_400_000;

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function readHwmMiB(pid: number): { hwm: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { hwm: kb('VmHWM') / 1024, rss: kb('VmRSS') / 1024 };
}

async function startSimulatorProcess(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      resolve(ROOT, 'dist/tools/simulators/tools/simulators/src/main.js'),
      '--port',
      '0',
      '--seed',
      '7',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const banner = await new Promise<string>((done, fail) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        done(line);
      }
    });
    child.once('exit', (code) => fail(new Error(`simulator exited with ${code}`)));
  });
  return { child, url: (JSON.parse(banner) as { url: string }).url };
}

const cpuLine = (reader: number, simulator: number, postgres: number): string =>
  `reader ${reader.toFixed(1)}, simulator ${simulator.toFixed(1)}, PostgreSQL ${postgres.toFixed(1)}`;

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) {
    return;
  }
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function main(): Promise<void> {
  // A database of its own, migrated.
  const database = await benchDatabase('benchrec');
  const { db, url: databaseUrl } = database;
  const secretsKey = randomBytes(32).toString('hex');

  const simulator = await startSimulatorProcess();
  const children: ChildProcess[] = [simulator.child];
  try {
    const sim = connectSimulator(simulator.url);
    const org = 'bench-reconcile';
    const raiseToken = `${org}-raise-token`;
    // Generated times lie in the 30 days before the anchor (start of today, UTC): that is the window.
    const summary = await sim.createOrg({
      id: org,
      raiseToken,
      vomoToken: `${org}-vomo-token`,
      gifts: RECORDS,
      donors: Math.max(10, Math.floor(RECORDS / 10)),
      recurringGifts: 100,
      campaigns: 20,
      users: 0,
    });
    const windowEnd = new Date(summary.anchor);
    const windowStart = new Date(windowEnd.getTime() - 31 * DAY);
    const raiseUrl = `${simulator.url}/raise`;

    const customer = await new CustomerRepository(db, SecretBox.fromHex(secretsKey)).create(
      customerScope(randomUUID()),
      {
        name: 'bench reconcile',
        status: 'live',
        credentials: { raise: { apiToken: raiseToken } },
      },
    );
    const destinations = db.getRepository(DestinationEntity);
    const warehouse = await destinations.save(
      destinations.create({
        customerId: customer.id,
        kind: 'warehouse',
        name: 'warehouse',
        config: {},
        enabled: true,
      }),
    );

    // The warehouse and the sync state already hold the window, minus the planted gaps.
    const loadStarted = Date.now();
    const keys = await sim.recordKeys(org, 'gift');
    if (keys.length !== RECORDS) {
      throw new Error(`the simulator holds ${keys.length} gifts, expected ${RECORDS}`);
    }
    const planted = { lost: [] as string[], neverDelivered: [] as string[], stale: [] as string[] };
    for (let start = 0; start < keys.length; start += CHUNK) {
      const chunk = keys.slice(start, start + CHUNK);
      const wh = { ids: [] as string[], at: [] as string[], events: [] as string[] };
      const sync = { ids: [] as string[], at: [] as string[], events: [] as string[] };
      chunk.forEach((key, offset) => {
        const id = String(key.id);
        const at = new Date(key.modifiedDate);
        const event = eventIdFor('raise', 'gift', id, at);
        const kind = (start + offset) % PLANT;
        if (kind === 2) {
          planted.neverDelivered.push(id);
          return;
        }
        sync.ids.push(id);
        sync.at.push(at.toISOString());
        sync.events.push(event);
        if (kind === 1) {
          planted.lost.push(id);
          return;
        }
        wh.ids.push(id);
        wh.at.push(kind === 3 ? new Date(at.getTime() - 1000).toISOString() : at.toISOString());
        wh.events.push(event);
        if (kind === 3) {
          planted.stale.push(id);
        }
      });
      await db.query(
        `INSERT INTO warehouse.raise_gift (customer_id, source_id, source_modified_at, event_id)
         SELECT $1, * FROM unnest($2::text[], $3::timestamptz[], $4::text[])`,
        [customer.id, wh.ids, wh.at, wh.events],
      );
      await db.query(
        `INSERT INTO sync_records (customer_id, resource, source_id, destination_id, status, source_modified_at, last_event_id, attempts)
         SELECT $1, 'gift', s.id, $2, 'confirmed', s.at, s.event, 1
           FROM unnest($3::text[], $4::timestamptz[], $5::text[]) AS s(id, at, event)`,
        [customer.id, warehouse.id, sync.ids, sync.at, sync.events],
      );
    }
    await db.query('ANALYZE warehouse.raise_gift');
    await db.query('ANALYZE sync_records');
    const plantedMissing = planted.lost.length + planted.neverDelivered.length;
    say(
      `reconcile benchmark: ${RECORDS} gifts in one window, page size ${PAGE_SIZE}; loaded in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s; planted ${plantedMissing} missing (${planted.lost.length} lost by the warehouse, ${planted.neverDelivered.length} never delivered) + ${planted.stale.length} stale`,
    );

    // (a) Baseline: the same window streamed with the same client, options and page size.
    const client = new RaiseClient({
      baseUrl: raiseUrl,
      http: new SourceHttpClient({
        budgets: new RateBudgets({
          rates: { raise: { requestsPerSecond: 100_000, burst: 100_000 } },
        }),
      }),
    });
    const simulatorPid = simulator.child.pid as number;
    const baselineCpu = {
      self: process.cpuUsage(),
      sim: cpuOf(simulatorPid),
      pg: cpuByComm('postgres'),
    };
    const baselineStarted = Date.now();
    let streamed = 0;
    for await (const page of client.streamModifiedSince(
      { customerId: customer.id, token: raiseToken },
      'gift',
      {
        after: null,
        pageSize: PAGE_SIZE,
        includeDetails: true,
        extraConditions: [
          {
            parameter: RAISE_PARAMETERS.modified,
            operator: RAISE_OPERATORS.greaterThanOrEqual,
            value: windowStart.toISOString(),
          },
          {
            parameter: RAISE_PARAMETERS.modified,
            operator: RAISE_OPERATORS.lessThan,
            value: windowEnd.toISOString(),
          },
        ],
      },
    )) {
      streamed += page.items.length;
    }
    const baselineSeconds = (Date.now() - baselineStarted) / 1000;
    const baselineUsage = process.cpuUsage(baselineCpu.self);
    const baselineCpuLine = cpuLine(
      (baselineUsage.user + baselineUsage.system) / 1e6,
      cpuOf(simulatorPid) - baselineCpu.sim,
      cpuSpent(baselineCpu.pg, cpuByComm('postgres')),
    );
    if (streamed !== RECORDS) {
      throw new Error(`the baseline streamed ${streamed} gifts, expected ${RECORDS}`);
    }

    // (b) The reconciler app, on demand, for the same window.
    const port = await freePort();
    const adminToken = randomBytes(24).toString('hex');
    const heapCap = manifestHeapCapMiB(ROOT, 'reconciler');
    const profileDir = process.env['BENCH_CPU_PROF'];
    const reconciler = spawn(
      process.execPath,
      [
        ...manifestNodeFlags(ROOT, 'reconciler'),
        ...(process.env['BENCH_NODE_FLAGS'] ? process.env['BENCH_NODE_FLAGS'].split(' ') : []),
        ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
        resolve(ROOT, 'dist/apps/reconciler/apps/reconciler/src/main.js'),
      ],
      {
        env: {
          PATH: process.env['PATH'],
          TZ: 'UTC',
          KAFKA_BROKERS: env('KAFKA_BROKERS'),
          SCHEMA_REGISTRY_URL: env('SCHEMA_REGISTRY_URL'),
          DATABASE_URL: databaseUrl,
          SECRETS_KEY: secretsKey,
          KAFKA_TOPIC_PREFIX: `bench-rec-${randomBytes(3).toString('hex')}`,
          HTTP_PORT: String(port),
          HTTP_HOST: '127.0.0.1',
          ADMIN_TOKEN: adminToken,
          RAISE_API_URL: raiseUrl,
          SOURCE_RATE_LIMITS: 'raise=100000:100000,vomo=100000:100000',
          RECONCILER_PAGE_SIZE: String(PAGE_SIZE),
          RECONCILER_TICK_MS: '200',
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    children.push(reconciler);
    const base = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    for (let ready = false; !ready;) {
      if (reconciler.exitCode !== null) {
        throw new Error(`the reconciler exited with ${reconciler.exitCode}`);
      }
      ready = await fetch(`${base}/health/ready`)
        .then((r) => r.ok)
        .catch(() => false);
      await new Promise((r) => setTimeout(r, 200));
    }
    const idleRss = readHwmMiB(reconciler.pid as number).rss;
    const runCpu = {
      self: cpuOf(reconciler.pid as number),
      sim: cpuOf(simulatorPid),
      pg: cpuByComm('postgres'),
    };
    const started = Date.now();
    const requested = await fetch(`${base}/admin/customers/${customer.id}/reconciliations`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        windowStart: windowStart.toISOString(),
        windowEnd: windowEnd.toISOString(),
        resources: ['gift'],
      }),
    });
    if (requested.status !== 202) {
      throw new Error(`run request answered ${requested.status}: ${await requested.text()}`);
    }
    const runId = ((await requested.json()) as { id: string }).id;
    let run: {
      status: string;
      counts: Record<string, number>;
      durationMs: number | null;
      error: string | null;
    };
    let peakRss = 0;
    for (;;) {
      peakRss = Math.max(peakRss, readHwmMiB(reconciler.pid as number).rss);
      run = (await (
        await fetch(`${base}/admin/reconciliations/${runId}?limit=1`, { headers })
      ).json()) as typeof run;
      if (run.status !== 'pending' && run.status !== 'running') {
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const wallSeconds = (Date.now() - started) / 1000;
    const runCpuLine = cpuLine(
      cpuOf(reconciler.pid as number) - runCpu.self,
      cpuOf(simulatorPid) - runCpu.sim,
      cpuSpent(runCpu.pg, cpuByComm('postgres')),
    );
    const { hwm } = readHwmMiB(reconciler.pid as number);
    await stop(reconciler);

    const found = {
      missing: run.counts['missing_in_destination'] ?? -1,
      stale: run.counts['stale'] ?? -1,
      sourceTotal: run.counts['source_total'] ?? -1,
    };
    const ok =
      run.status === 'done' &&
      found.missing === plantedMissing &&
      found.stale === planted.stale.length &&
      found.sourceTotal === RECORDS;
    const rate = (seconds: number) => (RECORDS / seconds).toFixed(0).padStart(10);
    say(`${'run'.padEnd(70)} ${'seconds'.padStart(8)} ${'records/s'.padStart(10)}  vs baseline`);
    say(
      `${'baseline: RaiseClient.streamModifiedSince, same window and page size'.padEnd(70)} ${baselineSeconds.toFixed(1).padStart(8)} ${rate(baselineSeconds)}  1.00x`,
    );
    say(
      `${'reconciler app: request -> outcome stored (wall)'.padEnd(70)} ${wallSeconds.toFixed(1).padStart(8)} ${rate(wallSeconds)}  ${(wallSeconds / baselineSeconds).toFixed(2)}x the time`,
    );
    say(
      `${'reconciler app: run duration it recorded'.padEnd(70)} ${((run.durationMs ?? 0) / 1000).toFixed(1).padStart(8)} ${rate((run.durationMs ?? 1) / 1000)}  ${((run.durationMs ?? 0) / 1000 / baselineSeconds).toFixed(2)}x the time`,
    );
    say(`CPU seconds, baseline:   ${baselineCpuLine}`);
    say(`CPU seconds, reconciler: ${runCpuLine}`);
    say(
      `reconciler memory (heap cap ${heapCap} MiB and the other V8 flags of deploy/k8s/base/reconciler.yaml): peak RSS (VmHWM) ${hwm.toFixed(0)} MiB, highest sampled RSS during the run ${peakRss.toFixed(0)} MiB, idle before the run ${idleRss.toFixed(0)} MiB`,
    );
    say(
      `gaps found: ${found.missing} missing + ${found.stale} stale (planted ${plantedMissing} + ${planted.stale.length}), republished ${run.counts['republished'] ?? 0}: ${ok ? 'OK' : 'MISMATCH'}`,
    );
    if (!ok) {
      say(`run: ${JSON.stringify(run)}`);
      process.exitCode = 1;
    }
  } finally {
    for (const child of children.reverse()) {
      await stop(child);
    }
    await database.drop();
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);

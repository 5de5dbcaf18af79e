/**
 * Polling benchmark: what an idle poll costs, and what polling 500 customers costs in total.
 *
 * N customers (default 500), each with both sources (Raise: donor, gift, recurring gift and
 * campaign; VOMO: user), so N x 5 customer-resources, are polled at a scaled-down interval
 * (--interval seconds instead of 15 minutes) after their first pass has read their one-record
 * history: every poll measured finds nothing new. In one run, on the same rows:
 *   floor    polling-floor.ts, its own process: lease, checkpoint read, one source request,
 *            release, with one pg connection and nothing else;
 *   ingest   the built ingest (INGEST_WORKERS=1, the manifest's heap cap), its poll scheduler.
 * For each: polls done in the window, CPU of the process and of PostgreSQL per poll, and the
 * database connections it held (sampled from pg_stat_activity). Then, for ingest, a window with
 * nothing due shows the scheduler's own cost per second. The total for N customers at 15 min is
 * that cost per second plus N x 5 / 900 polls per second at the measured cost per poll.
 * The simulator runs in this process and is not counted.
 *
 * `poll_schedule` is a queue: every poll updates its row twice, and its due index fills with dead
 * entries until VACUUM removes them. Where the server runs with autovacuum off (this machine's CI
 * configuration does), the benchmark vacuums and analyzes the polling tables every 10 s itself,
 * standing in for autovacuum, and says so; that work is PostgreSQL CPU and counts in the figures.
 *
 *   npm run bench -- polling [--customers 500 --interval 60 --window 60 --runs 1]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  benchDatabase,
  cpuByComm,
  cpuOf,
  cpuSpent,
  manifestHeapCapMiB,
  startService,
  type BenchDatabase,
  type BenchService,
} from './util';

// Compiled to dist/tools/bench/tools/bench/src.
const ROOT = resolve(__dirname, '../../../../../..');
const argNumber = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1] ?? fallback) : fallback;
};
const CUSTOMERS = argNumber('customers', 500);
const INTERVAL_S = argNumber('interval', 60);
const WINDOW_S = argNumber('window', 60);
const RUNS = argNumber('runs', 1);
const RESOURCES_PER_CUSTOMER = 5;
const REAL_INTERVAL_S = 900;
const TICK_MS = 1000;
const CONCURRENCY = 4;
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const SECRETS_KEY = randomBytes(32).toString('hex');

interface WindowResult {
  polls: number;
  seconds: number;
  cpuS: number;
  pgCpuS: number;
  maxConnections: number;
  maxActive: number;
}

const say = (line: string): void => console.log(line);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `application_name` on a connection URL, so pg_stat_activity tells the pollers apart. */
function named(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.toString();
}

/** Samples the connections `application` holds on `database` until stopped. */
function sampleConnections(
  pg: Client,
  database: string,
  application: string,
): { stop(): Promise<{ max: number; maxActive: number }> } {
  let max = 0;
  let maxActive = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await pg.query<{ total: string; active: string }>(
        `SELECT count(*) AS total, count(*) FILTER (WHERE state <> 'idle') AS active
           FROM pg_stat_activity WHERE datname = $1 AND application_name = $2`,
        [database, application],
      );
      max = Math.max(max, Number(rows[0]?.total));
      maxActive = Math.max(maxActive, Number(rows[0]?.active));
      await sleep(200);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { max, maxActive };
    },
  };
}

/** Runs `pollsSoFar` against a window of WINDOW_S seconds of the process `pid`. */
async function measureWindow(
  pg: Client,
  database: BenchDatabase,
  application: string,
  pid: number,
  pollsSoFar: () => Promise<number>,
  seconds = WINDOW_S,
): Promise<WindowResult> {
  const sampler = sampleConnections(pg, database.name, application);
  const polls0 = await pollsSoFar();
  const cpu0 = cpuOf(pid);
  const pg0 = cpuByComm('postgres');
  const started = Date.now();
  await sleep(seconds * 1000);
  const polls1 = await pollsSoFar();
  const cpu1 = cpuOf(pid);
  const pg1 = cpuByComm('postgres');
  const elapsed = (Date.now() - started) / 1000;
  const connections = await sampler.stop();
  return {
    polls: polls1 - polls0,
    seconds: elapsed,
    cpuS: cpu1 - cpu0,
    // The sampler's own queries are PostgreSQL work too, the same in every window.
    pgCpuS: cpuSpent(pg0, pg1),
    maxConnections: connections.max,
    maxActive: connections.maxActive,
  };
}

async function scrapePolls(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('raise_sync_poll_cycles_total{') && l.includes('outcome="ok"'))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function onboardCustomers(
  ingest: BenchService,
  sim: Simulator,
): Promise<Map<string, { raise: string; vomo: string }>> {
  const tokens = new Map<string, { raise: string; vomo: string }>();
  const run = Date.now().toString(36);
  for (let i = 0; i < CUSTOMERS; i += 1) {
    const org = `poll-${run}-${i}`;
    const raise = `tok-${org}`;
    const vomo = `vtok-${org}`;
    sim.control.createOrg({
      id: org,
      raiseToken: raise,
      vomoToken: vomo,
      donors: 1,
      gifts: 1,
      recurringGifts: 1,
      campaigns: 1,
      users: 1,
    });
    const created = await fetch(`${ingest.url}/admin/customers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: org,
        raise: { apiToken: raise },
        vomo: { apiToken: vomo },
        polling: { enabled: true, intervalSeconds: INTERVAL_S },
      }),
    });
    if (created.status !== 201) {
      throw new Error(`creating ${org} answered ${created.status}: ${await created.text()}`);
    }
    tokens.set(((await created.json()) as { id: string }).id, { raise, vomo });
  }
  return tokens;
}

/** Waits until every customer-resource has finished a pass since `since`. */
async function allPolledSince(pg: Client, since: Date, timeoutS: number): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const { rows } = await pg.query<{ waiting: string }>(
      `SELECT count(*) AS waiting FROM poll_schedule
        WHERE last_finished_at IS NULL OR last_finished_at < $1`,
      [since],
    );
    if (Number(rows[0]?.waiting) === 0) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${rows[0]?.waiting} customer-resources were not polled within ${timeoutS} s`,
      );
    }
    await sleep(500);
  }
}

function startFloor(
  databaseUrl: string,
  sim: Simulator,
  tokens: Map<string, { raise: string; vomo: string }>,
): { child: ChildProcess; polls(): number; stop(): Promise<void> } {
  let polls = 0;
  const child = spawn(
    process.execPath,
    [resolve(ROOT, 'dist/tools/bench/tools/bench/src/polling-floor.js')],
    {
      env: {
        PATH: process.env['PATH'],
        DATABASE_URL: databaseUrl,
        RAISE_API_URL: sim.raiseUrl,
        VOMO_API_URL: sim.vomoUrl,
        POLL_TICK_MS: String(TICK_MS),
        POLL_CONCURRENCY: String(CONCURRENCY),
        TOKENS: JSON.stringify(Object.fromEntries(tokens)),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    const last = lines.at(-1);
    if (last?.startsWith('polls ')) {
      polls = Number(last.slice(6));
    }
  });
  return {
    child,
    polls: () => polls,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** With autovacuum off on the server, VACUUM (ANALYZE) the polling tables every 10 s. */
async function standInForAutovacuum(url: string): Promise<{ stop(): Promise<void> }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ autovacuum: string }>('SHOW autovacuum');
  if (rows[0]?.autovacuum !== 'off') {
    await client.end();
    say('  autovacuum is on: PostgreSQL keeps the polling tables itself');
    return { stop: () => Promise.resolve() };
  }
  say(
    '  autovacuum is off on this server: VACUUM (ANALYZE) of the polling tables every 10 s stands in for it',
  );
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await client.query(
        'VACUUM (ANALYZE) poll_schedule, checkpoints, customers, customer_sources',
      );
      for (let waited = 0; waited < 10_000 && !stopped; waited += 250) {
        await sleep(250);
      }
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      await client.end();
    },
  };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

async function main(): Promise<void> {
  const rows = CUSTOMERS * RESOURCES_PER_CUSTOMER;
  say(
    `polling benchmark: ${CUSTOMERS} customers x ${RESOURCES_PER_CUSTOMER} customer-resources = ${rows}, polled every ${INTERVAL_S} s (${(rows / INTERVAL_S).toFixed(1)} polls/s due) instead of ${REAL_INTERVAL_S} s; window ${WINDOW_S} s; ${RUNS} run(s)`,
  );
  const sim = await startSimulator({ seed: 5 });
  const database = await benchDatabase('bench_polling');
  const pg = new Client({ connectionString: database.url });
  await pg.connect();
  const housekeeping = await standInForAutovacuum(database.url);
  const results = {
    floor: [] as WindowResult[],
    ingest: [] as WindowResult[],
    idle: [] as WindowResult[],
  };
  let ingest: BenchService | undefined;
  try {
    const ingestUrl = named(database.url, 'bench-ingest');
    const startIngest = (): Promise<BenchService> =>
      startService(ROOT, 'ingest', {
        KAFKA_BROKERS: process.env['KAFKA_BROKERS'] ?? '',
        SCHEMA_REGISTRY_URL: process.env['SCHEMA_REGISTRY_URL'] ?? '',
        DATABASE_URL: ingestUrl,
        KAFKA_TOPIC_PREFIX: `bench-poll-${randomBytes(3).toString('hex')}`,
        SECRETS_KEY: SECRETS_KEY,
        ADMIN_TOKEN,
        RAISE_API_URL: sim.raiseUrl,
        VOMO_API_URL: sim.vomoUrl,
        POLL_TICK_MS: String(TICK_MS),
        POLL_CONCURRENCY: String(CONCURRENCY),
        // Every customer's own budget is far above what its polls need.
        SOURCE_RATE_LIMITS: 'raise=50:50,vomo=50:50',
        LOG_LEVEL: 'warn',
        NODE_OPTIONS: `--max-old-space-size=${manifestHeapCapMiB(ROOT, 'ingest')}`,
      });
    ingest = await startIngest();
    const started = new Date();
    const tokens = await onboardCustomers(ingest, sim);
    // First passes read each one-record history; from then on every poll is idle.
    await allPolledSince(pg, started, 600);
    say(`  onboarded ${CUSTOMERS} customers; every customer-resource has had its first pass`);

    for (let run = 1; run <= RUNS; run += 1) {
      const service = ingest;
      const ingestPid = service.child.pid as number;
      const measured = await measureWindow(pg, database, 'bench-ingest', ingestPid, () =>
        scrapePolls(service.url),
      );
      results.ingest.push(measured);
      await service.stop();
      ingest = undefined;

      const floor = startFloor(named(database.url, 'bench-floor'), sim, tokens);
      await sleep(2000); // start-up is not timed
      results.floor.push(
        await measureWindow(pg, database, 'bench-floor', floor.child.pid as number, () =>
          Promise.resolve(floor.polls()),
        ),
      );
      await floor.stop();

      // Nothing due: the scheduler's own cost per second.
      await pg.query(`UPDATE poll_schedule SET next_poll_at = now() + interval '1 day'`);
      ingest = await startIngest();
      await sleep(15_000); // past start-up's compilation and connections
      const idleService = ingest;
      results.idle.push(
        await measureWindow(
          pg,
          database,
          'bench-ingest',
          idleService.child.pid as number,
          () => scrapePolls(idleService.url),
          Math.min(WINDOW_S, 30),
        ),
      );
      // Due again, spread over one interval as in steady state, for the next run.
      await pg.query(
        `UPDATE poll_schedule SET next_poll_at = now() + random() * make_interval(secs => $1)`,
        [INTERVAL_S],
      );
      for (const [label, list] of Object.entries(results)) {
        const r = list.at(-1);
        if (r) {
          say(
            `  run ${run}, ${label}: ${r.polls} polls in ${r.seconds.toFixed(1)} s, process CPU ${(r.cpuS * 1000).toFixed(0)} ms, PostgreSQL CPU ${(r.pgCpuS * 1000).toFixed(0)} ms, connections max ${r.maxConnections} (active ${r.maxActive})`,
          );
        }
      }
    }

    const perPoll = (list: WindowResult[], key: 'cpuS' | 'pgCpuS'): number =>
      median(list.map((r) => (r[key] * 1000) / Math.max(1, r.polls)));
    const perSecond = (list: WindowResult[], key: 'cpuS' | 'pgCpuS'): number =>
      median(list.map((r) => (r[key] * 1000) / r.seconds));
    const idleCpu = perSecond(results.idle, 'cpuS');
    const idlePg = perSecond(results.idle, 'pgCpuS');
    // The ingest window's CPU less what the scheduler costs with nothing due.
    const ingestPoll = median(
      results.ingest.map(
        (r) => ((r.cpuS - (idleCpu / 1000) * r.seconds) * 1000) / Math.max(1, r.polls),
      ),
    );
    const ingestPgPoll = median(
      results.ingest.map(
        (r) => ((r.pgCpuS - (idlePg / 1000) * r.seconds) * 1000) / Math.max(1, r.polls),
      ),
    );
    const floorPoll = perPoll(results.floor, 'cpuS');
    const floorPgPoll = perPoll(results.floor, 'pgCpuS');
    say(RUNS > 1 ? `medians of ${RUNS} runs:` : 'figures:');
    say(
      `  polls/s done: ingest ${median(results.ingest.map((r) => r.polls / r.seconds)).toFixed(1)}, floor ${median(results.floor.map((r) => r.polls / r.seconds)).toFixed(1)} (due: ${(rows / INTERVAL_S).toFixed(1)})`,
    );
    say(
      `  per idle poll:  ingest CPU ${ingestPoll.toFixed(2)} ms (floor ${floorPoll.toFixed(2)} ms, ${(ingestPoll / floorPoll).toFixed(2)}x); PostgreSQL CPU ${ingestPgPoll.toFixed(2)} ms (floor ${floorPgPoll.toFixed(2)} ms, ${(ingestPgPoll / floorPgPoll).toFixed(2)}x)`,
    );
    say(
      `  nothing due:    ingest CPU ${idleCpu.toFixed(2)} ms/s, PostgreSQL CPU ${idlePg.toFixed(2)} ms/s (the scheduler's tick)`,
    );
    say(
      `  connections:    ingest max ${Math.max(...results.ingest.map((r) => r.maxConnections))} (active ${Math.max(...results.ingest.map((r) => r.maxActive))}), floor max ${Math.max(...results.floor.map((r) => r.maxConnections))}; independent of the number of customers`,
    );
    const realRate = rows / REAL_INTERVAL_S;
    const total = idleCpu + realRate * ingestPoll;
    const totalPg = idlePg + realRate * ingestPgPoll;
    say(
      `  ${CUSTOMERS} customers x 2 sources at 15 min (${realRate.toFixed(2)} polls/s): ingest ${total.toFixed(1)} ms CPU/s (${(total / 10).toFixed(2)} % of a core), PostgreSQL ${totalPg.toFixed(1)} ms CPU/s (${(totalPg / 10).toFixed(2)} %); floor ${(realRate * floorPoll).toFixed(1)} + ${(realRate * floorPgPoll).toFixed(1)} ms/s`,
    );
  } finally {
    await ingest?.stop();
    await housekeeping.stop();
    await pg.end();
    await database.drop();
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

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions, runMigrations } from '@raise-sync/shared/state';

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? done(address.port) : fail(new Error('no port')),
      );
    });
  });
}

/** A required environment variable (the benchmarks run through `npm run bench`, which sets them). */
export function env(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run through 'npm run bench'`);
  }
  return value;
}

export interface BenchDatabase {
  name: string;
  url: string;
  db: DataSource;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own next to DATABASE_URL, so a benchmark never meets old data. */
export async function benchDatabase(prefix: string): Promise<BenchDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string): Promise<void> => {
    const client = new Client({ connectionString: env('DATABASE_URL') });
    await client.connect();
    await client.query(sql).finally(() => client.end());
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(env('DATABASE_URL'));
  url.pathname = `/${name}`;
  await runMigrations(url.toString());
  const db = await new DataSource(
    dataSourceOptions(url.toString(), { extra: { max: 4 } }),
  ).initialize();
  return {
    name,
    url: url.toString(),
    db,
    drop: async () => {
      await db.destroy();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** A built app started as a process by a benchmark (dist/apps/<name>), ready to serve. */
export interface BenchService {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** Resolves once `url`/health/ready answers 2xx; fails when the process exits first. */
export async function waitReady(url: string, child: ChildProcess, name = 'app'): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`${name} exited with ${child.exitCode}`);
    }
    try {
      if ((await fetch(`${url}/health/ready`)).ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${name} did not become ready`);
}

/** Starts dist/apps/<name> with `env` (plus PATH, HTTP_HOST and a free HTTP_PORT). */
export async function startService(
  root: string,
  name: 'ingest' | 'submitter' | 'backfiller' | 'reconciler',
  env: Record<string, string>,
): Promise<BenchService> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [resolve(root, `dist/apps/${name}/apps/${name}/src/main.js`)],
    {
      env: { PATH: process.env['PATH'], HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1', ...env },
      // BENCH_LOG_DIR keeps each app's JSON log (stdout) for a look at what it did.
      stdio: [
        'ignore',
        process.env['BENCH_LOG_DIR']
          ? openSync(resolve(process.env['BENCH_LOG_DIR'], `${name}-${port}.log`), 'a')
          : 'ignore',
        'inherit',
      ],
    },
  );
  await waitReady(url, child, name);
  return {
    child,
    url,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/**
 * The V8 flags of an app's NODE_OPTIONS in its Kubernetes manifest (heap cap and any other), so a
 * benchmark starts the app with the same memory settings as production.
 */
export function manifestNodeFlags(root: string, app: ManifestApp): string[] {
  const path = resolve(root, `deploy/k8s/base/${app}.yaml`);
  const value = /name: NODE_OPTIONS, value: '([^']*)'/.exec(readFileSync(path, 'utf8'))?.[1];
  if (!value) {
    throw new Error(`${path} sets no NODE_OPTIONS`);
  }
  return value.split(/\s+/).filter(Boolean);
}

/** The V8 heap cap (MiB) among those flags. */
export function manifestHeapCapMiB(root: string, app: ManifestApp): number {
  const flag = manifestNodeFlags(root, app).find((f) => f.startsWith('--max-old-space-size='));
  if (!flag) {
    throw new Error(`deploy/k8s/base/${app}.yaml sets no --max-old-space-size`);
  }
  return Number(flag.slice('--max-old-space-size='.length));
}

type ManifestApp = 'submitter' | 'reconciler' | 'ingest';

const TICKS_PER_SECOND = 100;

/** utime + stime of a process in seconds (0 once it is gone). */
export function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU seconds per pid of every process whose command name is `comm`. */
export function cpuByComm(comm: string): Map<number, number> {
  const found = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) {
        found.set(Number(entry), cpuOf(Number(entry)));
      }
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** CPU spent by processes named `comm` between two samples (a process new since counts whole). */
export const cpuSpent = (before: Map<number, number>, after: Map<number, number>): number =>
  [...after].reduce((sum, [pid, cpu]) => sum + cpu - (before.get(pid) ?? 0), 0);

#!/usr/bin/env node
// Measures the resident memory of the built services, to size the Kubernetes requests and limits.
// Needs the stack (eval "$(bash tools/infra/infra.sh env)"; export KAFKA_BROKERS SCHEMA_REGISTRY_URL
// DATABASE_URL), the apps built (npx nx run <app>:build) and, for `idle`, which migrates a fresh
// database, libs/shared too (npx nx run shared:build).
//
//   node deploy/k8s/measure-rss.cjs idle <app> [seconds]
//       starts the app on a fresh database and topic prefix, waits for /health/ready, samples
//       VmRSS every 500 ms for <seconds> (default 60), prints a JSON line, stops it with SIGTERM.
//   node deploy/k8s/measure-rss.cjs watch <app> -- <command ...>
//       runs the command (a benchmark or an e2e test file) and samples every process of this
//       checkout's built <app> that the command starts; prints, per process, its highest VmRSS
//       and its VmHWM (processes of other runs on the machine are left out).
//
// Figures are MiB (VmRSS / VmHWM from /proc/<pid>/status, divided by 1024).
'use strict';
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const APPS = ['ingest', 'submitter', 'reconciler', 'backfiller'];

function entryOf(app) {
  return path.join(ROOT, `dist/apps/${app}/apps/${app}/src/main.js`);
}

function memoryOf(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return null; // the process is gone
  }
}

function parentOf(pid) {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces, so split after ')'.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

function descendsFrom(pid, ancestor) {
  for (let current = pid, hops = 0; current > 1 && hops < 64; hops++) {
    if (current === ancestor) return true;
    current = parentOf(current);
  }
  return false;
}

/** Processes running `entry` started (directly or not) by `ancestor`: other runs are ignored. */
function pidsRunning(entry, ancestor) {
  const pids = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv.includes(entry) && descendsFrom(Number(name), ancestor)) pids.push(Number(name));
    } catch {
      // exited between readdir and read
    }
  }
  return pids;
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const round = (n) => Math.round(n * 10) / 10;

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set: eval "$(bash tools/infra/infra.sh env)" and export it`);
    process.exit(2);
  }
  return value;
}

async function freshDatabase() {
  const { Client } = require(path.join(ROOT, 'node_modules/pg'));
  const { runMigrations } = require(
    path.join(ROOT, 'dist/libs/shared/libs/shared/src/state/data-source.js'),
  );
  const name = `rss_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: required('DATABASE_URL') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(required('DATABASE_URL'));
  url.pathname = `/${name}`;
  await runMigrations(url.toString());
  return {
    url: url.toString(),
    async drop() {
      const client = new Client({ connectionString: required('DATABASE_URL') });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

async function waitReady(url, child) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the app exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/health/ready`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error('the app did not become ready within 60 s');
}

async function idle(app, seconds) {
  const database = await freshDatabase();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, [entryOf(app)], {
    env: {
      PATH: process.env.PATH,
      TZ: 'UTC',
      NODE_ENV: 'production',
      HTTP_PORT: String(port),
      HTTP_HOST: '127.0.0.1',
      KAFKA_BROKERS: required('KAFKA_BROKERS'),
      SCHEMA_REGISTRY_URL: required('SCHEMA_REGISTRY_URL'),
      DATABASE_URL: database.url,
      KAFKA_TOPIC_PREFIX: `rss-${randomBytes(3).toString('hex')}`,
      SECRETS_KEY: randomBytes(32).toString('hex'),
      ADMIN_TOKEN: randomBytes(24).toString('hex'),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitReady(`http://127.0.0.1:${port}`, child);
    const samples = [];
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until) {
      const memory = memoryOf(child.pid);
      if (memory) samples.push(memory);
      await sleep(500);
    }
    const rss = samples.map((s) => s.rss);
    const last = samples[samples.length - 1] ?? { rss: 0, hwm: 0 };
    console.log(
      JSON.stringify({
        app,
        mode: 'idle',
        seconds,
        rssMiBAtEnd: round(last.rss),
        rssMiBMin: round(Math.min(...rss)),
        rssMiBMax: round(Math.max(...rss)),
        hwmMiB: round(last.hwm),
      }),
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((done) => (child.exitCode !== null ? done() : child.once('exit', done)));
    await database.drop();
  }
}

async function watch(app, command) {
  const entry = entryOf(app);
  const seen = new Map(); // pid -> { maxRss, hwm, lastRss }
  const child = spawn(command[0], command.slice(1), { stdio: 'inherit', cwd: ROOT });
  const exited = new Promise((done) => child.once('exit', (code) => done(code)));
  let running = true;
  void exited.then(() => (running = false));
  while (running) {
    for (const pid of pidsRunning(entry, child.pid)) {
      const memory = memoryOf(pid);
      if (!memory) continue;
      const entryNow = seen.get(pid) ?? { maxRss: 0, hwm: 0, lastRss: 0 };
      entryNow.maxRss = Math.max(entryNow.maxRss, memory.rss);
      entryNow.hwm = Math.max(entryNow.hwm, memory.hwm);
      entryNow.lastRss = memory.rss;
      seen.set(pid, entryNow);
    }
    await sleep(250);
  }
  const code = await exited;
  const processes = [...seen.entries()].map(([pid, m]) => ({
    pid,
    rssMiBMax: round(m.maxRss),
    hwmMiB: round(m.hwm),
    rssMiBLastSeen: round(m.lastRss),
  }));
  console.log(
    JSON.stringify({
      app,
      mode: 'watch',
      command: command.join(' '),
      exitCode: code,
      processes,
      hwmMiBMax: round(Math.max(0, ...processes.map((p) => p.hwmMiB))),
    }),
  );
}

async function main() {
  const [mode, app, ...rest] = process.argv.slice(2);
  if (!APPS.includes(app) || (mode !== 'idle' && mode !== 'watch')) {
    console.error('usage: measure-rss.cjs idle <app> [seconds] | watch <app> -- <command ...>');
    process.exit(2);
  }
  if (!fs.existsSync(entryOf(app))) {
    console.error(`${entryOf(app)} is missing: npx nx run ${app}:build first`);
    process.exit(2);
  }
  if (mode === 'idle') {
    await idle(app, Number(rest[0] ?? 60));
  } else {
    const command = rest[0] === '--' ? rest.slice(1) : rest;
    if (command.length === 0) {
      console.error('watch needs a command after --');
      process.exit(2);
    }
    await watch(app, command);
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});

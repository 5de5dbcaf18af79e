import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { expectEventually } from './expect-eventually';

const WORKSPACE = resolve(__dirname, '../../..');

export type AppName = 'ingest' | 'submitter' | 'reconciler' | 'backfiller';

/** Every app this test file started that has not exited yet (see killLeftoverApps). */
const alive = new Set<ChildProcess>();

/**
 * Kills (SIGKILL) every app this test file started that is still running. Wired as a last
 * afterAll for every e2e file (libs/testing/src/after-env.ts): an app a failed beforeAll never
 * handed back would otherwise keep Jest from exiting and spend the CPU the next files need.
 */
export function killLeftoverApps(): number {
  let killed = 0;
  for (const child of alive) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      killed += 1;
    }
  }
  alive.clear();
  return killed;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? done(address.port) : fail(new Error('no port')),
      );
    });
  });
}

export interface RunningApp {
  readonly port: number;
  readonly url: string;
  /** Parsed JSON log lines so far (non-JSON lines are kept as { raw }). */
  logs(): Array<Record<string, unknown>>;
  /** Waits until /health/ready answers 200; kills the app and throws when it does not in time. */
  waitUntilReady(timeoutMs?: number): Promise<void>;
  /** Sends a signal and resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/**
 * Starts a BUILT app (`nx run <app>:build` output) as a child process with the given environment
 * on top of the test stack's. Used by the e2e tests; the process is killed if a test forgets it.
 * `entry` runs another build of the app instead (a previous release, for upgrade tests).
 */
export function startApp(
  app: AppName,
  env: Record<string, string>,
  port: number,
  entry = resolve(WORKSPACE, `dist/apps/${app}/apps/${app}/src/main.js`),
): RunningApp {
  const child: ChildProcess = spawn(process.execPath, [entry], {
    env: {
      PATH: process.env['PATH'],
      TZ: 'UTC',
      HTTP_PORT: String(port),
      HTTP_HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  alive.add(child);
  child.once('exit', () => alive.delete(child));
  const lines: Array<Record<string, unknown>> = [];
  let pending = '';
  const collect = (chunk: Buffer): void => {
    pending += chunk.toString();
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts.filter((l) => l.trim() !== '')) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ raw: line });
      }
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const url = `http://127.0.0.1:${port}`;

  return {
    port,
    url,
    logs: () => lines,
    async waitUntilReady(timeoutMs = 120_000) {
      try {
        await expectEventually(
          async () => {
            if (child.exitCode !== null) {
              throw new Error(
                `${app} exited with ${child.exitCode}: ${JSON.stringify(lines.slice(-5))}`,
              );
            }
            const response = await fetch(`${url}/health/ready`);
            expect(response.status).toBe(200);
          },
          { timeoutMs, intervalMs: 250 },
        );
      } catch (error) {
        // An app that never got ready is of no use to the test, and nobody holds it to stop it.
        child.kill('SIGKILL');
        // Say which app and what it last said: a start that hangs otherwise shows only a
        // refused connection.
        throw new Error(
          `${app} was not ready on port ${port} within ${timeoutMs} ms (${error instanceof Error ? error.message : String(error)}); last log lines: ${JSON.stringify(lines.slice(-10))}`,
          { cause: error },
        );
      }
    },
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Runs a built app to completion (for startup failures); resolves with exit code, output and
 * how long it ran. After `timeoutMs` (default 60 s) the app is killed (code null).
 */
export async function runAppToExit(
  app: AppName,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ code: number | null; output: string; elapsedMs: number }> {
  const entry = resolve(WORKSPACE, `dist/apps/${app}/apps/${app}/src/main.js`);
  const started = Date.now();
  const child = spawn(process.execPath, [entry], {
    env: { PATH: process.env['PATH'], ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  // 'close', not 'exit': all of the output has been read by then.
  const code = await new Promise<number | null>((done) => child.once('close', (c) => done(c)));
  clearTimeout(timer);
  return { code, output, elapsedMs: Date.now() - started };
}

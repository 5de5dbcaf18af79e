import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, killLeftoverApps, startApp } from './app-process';
import { expectEventually } from './expect-eventually';

/** True while a process with this pid exists. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('app processes the e2e tests start', () => {
  let dir: string;
  let entry: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'app-process-'));
    // An "app" that starts and never listens: what a start hung on a dependency looks like.
    entry = join(dir, 'never-ready.js');
    writeFileSync(
      entry,
      'console.log(JSON.stringify({ pid: process.pid }));\nsetInterval(() => {}, 1000);\n',
    );
  });

  afterAll(() => {
    killLeftoverApps();
    rmSync(dir, { recursive: true, force: true });
  });

  async function pidOf(app: ReturnType<typeof startApp>): Promise<number> {
    let pid = 0;
    await expectEventually(() => {
      pid = Number(app.logs().find((line) => typeof line['pid'] === 'number')?.['pid']);
      expect(pid).toBeGreaterThan(0);
    });
    return pid;
  }

  it('kills an app that is not ready in time, and says so', async () => {
    const app = startApp('ingest', {}, await freePort(), entry);
    const pid = await pidOf(app);
    await expect(app.waitUntilReady(1500)).rejects.toThrow(/ingest was not ready on port/);
    await expectEventually(() => expect(isRunning(pid)).toBe(false));
  });

  it('kills what a test file left running', async () => {
    const app = startApp('submitter', {}, await freePort(), entry);
    const pid = await pidOf(app);
    expect(killLeftoverApps()).toBe(1);
    await expectEventually(() => expect(isRunning(pid)).toBe(false));
    expect(killLeftoverApps()).toBe(0);
  });
});

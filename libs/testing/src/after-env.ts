/**
 * Jest setupFilesAfterEnv for the e2e tier (jest.preset.cjs): after a file's own afterAll hooks,
 * any app it started and did not stop is killed, so a failure in one file costs only that file.
 */
import { killLeftoverApps } from './app-process';

afterAll(() => {
  const killed = killLeftoverApps();
  if (killed > 0) {
    process.stderr.write(`[e2e] killed ${killed} app(s) the test file left running\n`);
  }
});

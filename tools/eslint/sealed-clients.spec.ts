import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// The repository's own lint configuration, run as `eslint` runs it (a child process: Jest cannot
// load the ESM config file), on a fixture that imports prom-client from a tool: the import must be
// refused (docs/kafka-client.md; the Kafka clients: libs/shared/src/kafka/sealed-boundary.spec.ts).
jest.setTimeout(120_000);

const ROOT = join(__dirname, '../..');

interface LintResult {
  messages: Array<{ ruleId: string | null; message: string }>;
}

describe('sealed clients (eslint.config.mjs)', () => {
  it('refuses prom-client outside libs/shared', () => {
    const run = spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules/eslint/bin/eslint.js'),
        '--format',
        'json',
        '--no-ignore',
        join(__dirname, 'fixtures/sealed-import.fixture.ts'),
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(run.status).toBe(1);
    const [result] = JSON.parse(run.stdout) as LintResult[];
    const refused = (result?.messages ?? [])
      .filter((m) => m.ruleId === '@nx/enforce-module-boundaries')
      .map((m) => m.message);
    expect(refused).toHaveLength(1);
    expect(refused.join('\n')).toMatch(/prom-client/);
  });
});

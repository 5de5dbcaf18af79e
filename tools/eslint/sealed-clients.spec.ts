import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// The repository's own lint configuration, run as `eslint` runs it (a child process: Jest cannot
// load the ESM config file), on a fixture that imports the Kafka client and prom-client from a
// tool: both imports must be refused (docs/kafka-client.md).
jest.setTimeout(120_000);

const ROOT = join(__dirname, '../..');

interface LintResult {
  messages: Array<{ ruleId: string | null; message: string }>;
}

describe('sealed clients (eslint.config.mjs)', () => {
  it('refuses kafkajs and prom-client outside libs/shared', () => {
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
    expect(refused).toHaveLength(2);
    expect(refused.join('\n')).toMatch(/kafkajs/);
    expect(refused.join('\n')).toMatch(/prom-client/);
  });
});

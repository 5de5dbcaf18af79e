import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// The repository's own lint configuration (eslint.config.mjs), run in a child process because Jest
// cannot load the ESM config, on code that imports the Kafka client and the registry client as
// if it lived in each kind of project. Only this folder may; everywhere else is refused. Type
// information is off and only the boundary rule runs: the files do not exist, their text does.
jest.setTimeout(120_000);

const ROOT = join(__dirname, '../../../..');
const CLIENTS = ['kafkajs', '@kafkajs/confluent-schema-registry'];

const LINT = `
import { ESLint } from 'eslint';
const [code, ...files] = JSON.parse(process.argv[1]);
const eslint = new ESLint({
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
  ruleFilter: ({ ruleId }) => ruleId === '@typescript-eslint/no-restricted-imports',
});
const out = {};
for (const file of files) {
  const [result] = await eslint.lintText(code, { filePath: file });
  out[file] = result.messages.map((m) => m.ruleId + ': ' + m.message);
}
process.stdout.write(JSON.stringify(out));
`;

function lintEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  return env;
}

function lintAs(files: string[]): Record<string, string[]> {
  const code =
    CLIENTS.map((c, i) => `import * as client${i} from '${c}';`).join('\n') +
    `\nexport const clients: unknown[] = [${CLIENTS.map((_c, i) => `client${i}`).join(', ')}];\n`;
  const run = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', LINT, JSON.stringify([code, ...files])],
    { cwd: ROOT, encoding: 'utf8', env: lintEnv() },
  );
  // Node may warn on stderr (CI sets both NO_COLOR and FORCE_COLOR); only the exit status and
  // the JSON on stdout decide. A failing child shows its stderr in the assertion.
  expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({
    status: 0,
    stderr: '',
  });
  return JSON.parse(run.stdout) as Record<string, string[]>;
}

describe('the Kafka boundary (eslint.config.mjs)', () => {
  it('refuses the Kafka and registry clients outside libs/shared/src/kafka, and allows them in it', () => {
    const outside = [
      'apps/submitter/src/x.ts',
      'apps/ingest/test/x.e2e-spec.ts',
      'libs/destinations/src/x.ts',
      'libs/testing/src/x.ts',
      'libs/shared/src/service/x.ts',
      'libs/shared/src/events/x.ts',
      'tools/bench/src/x.ts',
    ];
    const inside = 'libs/shared/src/kafka/x.ts';
    const found = lintAs([...outside, inside]);
    for (const file of outside) {
      expect({ file, refused: found[file] }).toEqual({
        file,
        refused: CLIENTS.map((c): unknown =>
          expect.stringContaining(`'${c}' import is restricted`),
        ),
      });
    }
    expect(found[inside]).toEqual([]);
  });
});

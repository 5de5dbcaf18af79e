// Shared Jest setup for every project. Three tiers (see docs/testing.md):
//   unit  *.spec.ts       pure logic, no I/O
//   int   *.int-spec.ts   real Kafka, Schema Registry and PostgreSQL (global setup starts or reuses them)
//   e2e   *.e2e-spec.ts   built apps started as child processes against the same stack
const path = require('node:path');
const { compilerOptions } = require('./tsconfig.base.json');

const workspaceRoot = __dirname;

/** tsconfig "paths" -> Jest moduleNameMapper, so tests import libs the way apps do. */
const moduleNameMapper = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([alias, [target]]) => [
    `^${alias.replace(/[/\\^$+?.()|[\]{}-]/g, '\\$&')}$`,
    path.join(workspaceRoot, target),
  ]),
);

const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
      // Rewrites the path aliases at compile time, so they resolve in globalSetup too
      // (Jest's moduleNameMapper does not apply there).
      baseUrl: workspaceRoot,
      paths: compilerOptions.paths,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

const TIERS = {
  unit: { testMatch: ['**/*.spec.ts'], testTimeout: 10_000 },
  int: {
    testMatch: ['**/*.int-spec.ts'],
    testTimeout: 120_000,
    globalSetup: path.join(workspaceRoot, 'libs/testing/src/global-setup.ts'),
    globalTeardown: path.join(workspaceRoot, 'libs/testing/src/global-teardown.ts'),
  },
  e2e: {
    testMatch: ['**/*.e2e-spec.ts'],
    testTimeout: 180_000,
    setupFilesAfterEnv: [path.join(workspaceRoot, 'libs/testing/src/after-env.ts')],
    globalSetup: path.join(workspaceRoot, 'libs/testing/src/global-setup.ts'),
    globalTeardown: path.join(workspaceRoot, 'libs/testing/src/global-teardown.ts'),
  },
};

/**
 * @param {string} projectDir absolute path of the project (pass __dirname)
 * @param {'unit'|'int'|'e2e'} tier
 */
function jestConfigFor(projectDir, tier) {
  const name = path.relative(workspaceRoot, projectDir);
  return {
    displayName: `${name} (${tier})`,
    rootDir: projectDir,
    testEnvironment: 'node',
    transform: { '^.+\\.(t|j)s$': swc },
    moduleFileExtensions: ['ts', 'js', 'json'],
    moduleNameMapper,
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    // TZ=UTC for determinism; set before any test module loads.
    setupFiles: [path.join(workspaceRoot, 'libs/testing/src/setup-env.js')],
    reporters: [
      'default',
      [path.join(workspaceRoot, 'tools/jest/summary-reporter.cjs'), { name: `${name}-${tier}` }],
    ],
    ...TIERS[tier],
  };
}

module.exports = { jestConfigFor, workspaceRoot };

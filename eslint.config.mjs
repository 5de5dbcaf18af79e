// ESLint flat config: typescript-eslint with type information, Nx module boundaries, jest rules.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import nx from '@nx/eslint-plugin';
import jest from 'eslint-plugin-jest';
import prettier from 'eslint-config-prettier';
import customerScope from './tools/eslint/customer-scope.cjs';

// Which project may import which (by tag). Apps, the destination adapters, the source clients,
// the test harness and the tools reach Kafka, the schema registry and prom-client only through
// libs/shared; inside libs/shared only its kafka folder holds the Kafka and registry clients (see
// `kafkaClients` below and docs/kafka-client.md). libs/sources (type:sources) builds on
// libs/shared only; libs/shared and the destination adapters never import it.
const kafkaClients = ['kafkajs', '@kafkajs/confluent-schema-registry'];
const sealedClients = [...kafkaClients, 'prom-client'];
const runtime = [
  {
    sourceTag: 'type:app',
    onlyDependOnLibsWithTags: ['type:domain', 'type:sources', 'type:shared'],
    bannedExternalImports: sealedClients,
  },
  {
    sourceTag: 'type:sources',
    onlyDependOnLibsWithTags: ['type:shared'],
    bannedExternalImports: sealedClients,
  },
  {
    sourceTag: 'type:domain',
    onlyDependOnLibsWithTags: ['type:shared'],
    bannedExternalImports: sealedClients,
  },
  { sourceTag: 'type:shared', onlyDependOnLibsWithTags: ['type:shared'] },
  {
    sourceTag: 'type:testing',
    onlyDependOnLibsWithTags: ['type:shared', 'type:domain', 'type:sources'],
    bannedExternalImports: sealedClients,
  },
  {
    sourceTag: 'type:tool',
    onlyDependOnLibsWithTags: [
      'type:shared',
      'type:domain',
      'type:sources',
      'type:testing',
      'scope:simulator',
    ],
    bannedExternalImports: sealedClients,
  },
];
// Test files (of apps and libs) may also use the testing harness and the simulator (a tool,
// tools/simulators, that tests start in-process); production code of apps and libs may not.
const withTesting = runtime.map((c) =>
  ['type:app', 'type:domain', 'type:sources', 'type:shared'].includes(c.sourceTag)
    ? {
        ...c,
        onlyDependOnLibsWithTags: [
          ...c.onlyDependOnLibsWithTags,
          'type:testing',
          'scope:simulator',
        ],
      }
    : c,
);
const boundaries = (depConstraints) => [
  'error',
  {
    enforceBuildableLibDependency: false,
    allow: [],
    depConstraints,
    // libs/shared's integration tests use the harness, which builds on libs/shared: a test-only cycle.
    ignoredCircularDependencies: [['shared', 'testing']],
  },
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '.infra/**',
      '.nx/**',
      'coverage/**',
      '**/*.cjs',
      '**/*.mjs',
      '**/*.js',
      // Code that must fail lint, linted on purpose by tools/eslint/sealed-clients.spec.ts.
      'tools/eslint/fixtures/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    plugins: { '@nx': nx },
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-extraneous-class': 'off',
      eqeqeq: ['error', 'always'],
      curly: ['error', 'all'],
      'no-console': 'error',
      '@nx/enforce-module-boundaries': boundaries(runtime),
    },
  },
  {
    // Nest DI reads constructor parameter types at runtime: `import type` would erase them.
    files: ['**/*.ts'],
    rules: { '@typescript-eslint/consistent-type-imports': 'off' },
  },
  {
    // Test support modules next to the specs (apps/*/test, libs/*/test) may use the harness too.
    files: ['apps/*/test/**/*.ts', 'libs/*/test/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries(withTesting) },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts'],
    ...jest.configs['flat/recommended'],
    rules: {
      ...jest.configs['flat/recommended'].rules,
      'jest/no-focused-tests': 'error',
      'jest/no-disabled-tests': 'error',
      'jest/valid-title': ['error', { ignoreTypeOfDescribeName: true }],
      'jest/expect-expect': [
        'error',
        { assertFunctionNames: ['expect', 'expectEventually', 'request.**.expect'] },
      ],
      '@typescript-eslint/unbound-method': 'off',
      '@nx/enforce-module-boundaries': boundaries(withTesting),
    },
  },
  {
    // CLIs and the test harness talk to a terminal.
    files: ['**/*.cli.ts', 'libs/testing/**/*.ts', 'tools/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // State access lives in repositories: app code outside them never holds a connection or a
    // transaction itself, so every query is one a repository names (and scopes to a customer).
    files: ['apps/*/src/**/*.ts'],
    ignores: ['apps/*/src/**/*.repository.ts', '**/*.spec.ts', '**/*.int-spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'typeorm',
              importNames: ['DataSource', 'EntityManager', 'QueryRunner'],
              message: 'Query through a repository (*.repository.ts) that takes a CustomerScope.',
            },
            {
              name: '@nestjs/typeorm',
              importNames: ['InjectDataSource', 'InjectEntityManager', 'getDataSourceToken'],
              message: 'Query through a repository (*.repository.ts) that takes a CustomerScope.',
            },
          ],
        },
      ],
    },
  },
  {
    // The Kafka boundary: one folder imports the Kafka and registry clients, whatever the project
    // (libs/shared/src/kafka/sealed-boundary.spec.ts lints code that tries, and expects refusals).
    files: ['**/*.ts'],
    ignores: ['libs/shared/src/kafka/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: kafkaClients.map((name) => ({
            name,
            message:
              'Kafka is reached through @raise-sync/shared/kafka only (docs/kafka-client.md).',
          })),
        },
      ],
    },
  },
  {
    // Every repository method takes the customer scope first, or says why not (see the rule).
    files: [
      'apps/*/src/**/*.repository.ts',
      'libs/shared/src/state/repositories/*.ts',
      'libs/sources/src/**/*.repository.ts',
    ],
    plugins: { 'raise-sync': customerScope.raiseSyncPlugin },
    rules: { 'raise-sync/customer-scope': 'error' },
  },
  prettier,
);

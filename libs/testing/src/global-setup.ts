/**
 * Jest globalSetup for integration and e2e tests (wired in jest.preset.cjs). Finds or starts
 * Kafka, the schema registry and PostgreSQL, exports their addresses for the test workers, and
 * prepares the migrated template database that each test file clones.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { probeKafka } from '@raise-sync/shared/kafka';
import { Client } from 'pg';
import { chooseStackStrategy, STACK_VARIABLES } from './stack-strategy';
import { ensureTemplateDatabase } from './template-database';

const run = promisify(execFile);
const WORKSPACE = resolve(__dirname, '../../..');

type Stoppable = { stop(): Promise<unknown> };
const started: Stoppable[] = [];

async function dockerAnswers(): Promise<boolean> {
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

async function startLocalProcesses(): Promise<void> {
  const { stdout } = await run('bash', [resolve(WORKSPACE, 'tools/infra/infra.sh'), 'up'], {
    timeout: 10 * 60_000,
    maxBuffer: 10 * 1024 * 1024,
  });
  for (const line of stdout.split('\n')) {
    const match = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] && match[2] !== undefined && !process.env[match[1]]) {
      process.env[match[1]] = match[2];
    }
  }
}

/** Starts what the environment does not name, in containers (only where a Docker engine runs). */
async function startContainers(): Promise<void> {
  if (!process.env['KAFKA_BROKERS']) {
    const { KafkaContainer } = await import('@testcontainers/kafka');
    const kafka = await new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().start();
    process.env['KAFKA_BROKERS'] = `${kafka.getHost()}:${kafka.getMappedPort(9093)}`;
    started.push(kafka);
  }
  if (!process.env['DATABASE_URL']) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const pg = await new PostgreSqlContainer('postgres:15-alpine').start();
    process.env['DATABASE_URL'] = pg.getConnectionUri();
    started.push(pg);
  }
  if (!process.env['SCHEMA_REGISTRY_URL']) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const registry = await new GenericContainer('apicurio/apicurio-registry:3.3.3')
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080))
      .start();
    process.env['SCHEMA_REGISTRY_URL'] =
      `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`;
    started.push(registry);
  }
}

async function verify(): Promise<void> {
  const problems: string[] = [];
  try {
    await probeKafka((process.env['KAFKA_BROKERS'] ?? '').split(','), 'global-setup', 10_000);
  } catch (error) {
    problems.push(
      `KAFKA_BROKERS=${process.env['KAFKA_BROKERS']}: broker does not answer (${String(error)})`,
    );
  }
  try {
    const response = await fetch(`${process.env['SCHEMA_REGISTRY_URL']}/subjects`);
    if (!response.ok) {
      problems.push(`SCHEMA_REGISTRY_URL: GET /subjects answered ${response.status}`);
    }
  } catch (error) {
    problems.push(
      `SCHEMA_REGISTRY_URL=${process.env['SCHEMA_REGISTRY_URL']}: registry does not answer (${String(error)})`,
    );
  }
  const pg = new Client({
    connectionString: process.env['DATABASE_URL'],
    connectionTimeoutMillis: 5000,
  });
  try {
    await pg.connect();
    await pg.query('SELECT 1');
  } catch (error) {
    problems.push(`DATABASE_URL: PostgreSQL does not answer (${String(error)})`);
  } finally {
    await pg.end().catch(() => undefined);
  }
  if (problems.length > 0) {
    throw new Error(`The test stack is not usable:\n  ${problems.join('\n  ')}`);
  }
}

export default async function globalSetup(): Promise<void> {
  const strategy = chooseStackStrategy(process.env, await dockerAnswers());
  if (strategy === 'testcontainers') {
    await startContainers();
  } else if (strategy === 'local-processes') {
    await startLocalProcesses();
  }
  await verify();
  process.env['RAISE_SYNC_TEMPLATE_DB'] = await ensureTemplateDatabase(
    process.env['DATABASE_URL'] as string,
  );
  (globalThis as { __RAISE_SYNC_STARTED__?: Stoppable[] }).__RAISE_SYNC_STARTED__ = started;
  for (const name of STACK_VARIABLES) {
    if (!process.env[name]) {
      throw new Error(`${name} is still unset after starting the test stack`);
    }
  }
}

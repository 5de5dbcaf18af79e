import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { KafkaConnection } from '@raise-sync/shared/kafka';
import { dataSourceOptions } from '@raise-sync/shared/state';
import { withDatabase } from './template-database';
import { readTopic } from './topic-read';

export interface ConsumedRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface TestStack {
  /** `t<8 hex>`: this file's topic prefix, consumer-group prefix and database name. */
  readonly prefix: string;
  readonly kafkaBrokers: string[];
  readonly registryUrl: string;
  /** A database of this file's own, cloned from the migrated template. */
  readonly databaseUrl: string;
  readonly kafka: KafkaConnection;
  readonly dataSource: DataSource;
  createTopics(names: string[], partitions?: number): Promise<void>;
  /**
   * Waits until `topic` holds `count` messages, then reads all it holds from the beginning
   * (throws after timeoutMs).
   */
  consumeAll(
    topic: string,
    options: { count: number; timeoutMs?: number },
  ): Promise<ConsumedRecord[]>;
}

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: integration tests run through jest.int/e2e configs, whose global setup sets it`,
    );
  }
  return value;
}

/**
 * Gives the calling test file its own Kafka topic prefix and its own migrated database, and
 * closes everything it opened after the file's tests. Call at the top of a describe block.
 */
export function useTestStack(): TestStack {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const state: { kafka?: KafkaConnection; dataSource?: DataSource; databaseUrl?: string } = {};
  const adminUrl = (): string => requireEnv('DATABASE_URL');

  beforeAll(async () => {
    const admin = new Client({ connectionString: adminUrl() });
    await admin.connect();
    try {
      await admin.query(
        `CREATE DATABASE ${prefix} TEMPLATE ${requireEnv('RAISE_SYNC_TEMPLATE_DB')}`,
      );
    } finally {
      await admin.end();
    }
    state.databaseUrl = withDatabase(adminUrl(), prefix);
    state.dataSource = await new DataSource(
      dataSourceOptions(state.databaseUrl, { extra: { max: 4 } }),
    ).initialize();
    state.kafka = KafkaConnection.create({
      clientId: prefix,
      brokers: requireEnv('KAFKA_BROKERS').split(','),
      level: 'nothing',
    });
  });

  afterAll(async () => {
    await state.kafka?.close();
    await state.dataSource?.destroy();
    const admin = new Client({ connectionString: adminUrl() });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${prefix} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  });

  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) {
      throw new Error(`useTestStack().${what} is only available inside tests and hooks`);
    }
    return value;
  };

  return {
    prefix,
    get kafkaBrokers() {
      return requireEnv('KAFKA_BROKERS').split(',');
    },
    get registryUrl() {
      return requireEnv('SCHEMA_REGISTRY_URL');
    },
    get databaseUrl() {
      return ready(state.databaseUrl, 'databaseUrl');
    },
    get kafka() {
      return ready(state.kafka, 'kafka');
    },
    get dataSource() {
      return ready(state.dataSource, 'dataSource');
    },
    async createTopics(names, partitions = 3) {
      await ready(state.kafka, 'kafka').ensureTopics(
        names.map((topic) => ({
          topic,
          numPartitions: partitions,
          replicationFactor: 1,
          configs: {},
        })),
      );
    },
    async consumeAll(topic, { count, timeoutMs = 20_000 }) {
      const read = await readTopic(ready(state.kafka, 'kafka'), topic, {
        atLeast: count,
        timeoutMs,
      });
      return read.map((m) => ({
        partition: m.partition,
        offset: m.offset,
        key: m.key?.toString() ?? null,
        value: m.value,
        headers: m.headers,
      }));
    },
  };
}

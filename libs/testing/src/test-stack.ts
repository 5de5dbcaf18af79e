import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { waitForTopics } from '@raise-sync/shared/kafka';
import { dataSourceOptions } from '@raise-sync/shared/state';
import { withDatabase } from './template-database';

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
  readonly kafka: Kafka;
  readonly dataSource: DataSource;
  createTopics(names: string[], partitions?: number): Promise<void>;
  /** Reads `topic` from the beginning until `count` messages arrived (or throws after timeoutMs). */
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
  const state: { kafka?: Kafka; dataSource?: DataSource; databaseUrl?: string } = {};
  const consumers: Consumer[] = [];
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
    state.kafka = new Kafka({
      clientId: prefix,
      brokers: requireEnv('KAFKA_BROKERS').split(','),
      logLevel: logLevel.NOTHING,
    });
  });

  afterAll(async () => {
    for (const consumer of consumers) {
      await consumer.disconnect();
    }
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
      const admin = ready(state.kafka, 'kafka').admin();
      await admin.connect();
      try {
        await admin.createTopics({
          waitForLeaders: false,
          topics: names.map((topic) => ({ topic, numPartitions: partitions })),
        });
        await waitForTopics(admin, names);
      } finally {
        await admin.disconnect();
      }
    },
    async consumeAll(topic, { count, timeoutMs = 20_000 }) {
      const consumer = ready(state.kafka, 'kafka').consumer({
        groupId: `${prefix}.reader.${randomBytes(3).toString('hex')}`,
      });
      consumers.push(consumer);
      const received: ConsumedRecord[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `expected ${count} message(s) on ${topic}, got ${received.length} within ${timeoutMs}ms`,
              ),
            ),
          timeoutMs,
        );
        void consumer.run({
          eachMessage: async ({
            partition,
            message,
          }: {
            partition: number;
            message: KafkaMessage;
          }) => {
            received.push({
              partition,
              offset: message.offset,
              key: message.key?.toString() ?? null,
              value: message.value,
              headers: Object.fromEntries(
                Object.entries(message.headers ?? {}).map(([k, v]) => [
                  k,
                  Array.isArray(v) ? v.join(',') : String(v ?? ''),
                ]),
              ),
            });
            if (received.length >= count) {
              clearTimeout(timer);
              resolve();
            }
            return Promise.resolve();
          },
        });
      });
      try {
        await done;
      } finally {
        await consumer.disconnect();
      }
      return received;
    },
  };
}

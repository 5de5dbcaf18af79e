import { configSection, httpUrl, integer, oneOf, text, type SectionConfig } from './declare';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** Variables every service reads: Kafka, the registry, PostgreSQL, HTTP, logs, shared push-back. */
export const SHARED_CONFIG = configSection({
  owner: 'libs/shared',
  variables: {
    KAFKA_BROKERS: text({
      required: true,
      pattern: /^[^,\s]+:\d+(,[^,\s]+:\d+)*$/,
      expected: 'a comma-separated list of host:port',
      description: 'Kafka bootstrap servers, `host:port[,host:port]`',
    }),
    KAFKA_TOPIC_PREFIX: text({
      default: 'raise-sync',
      pattern: /^[a-z0-9][a-z0-9.-]*$/,
      expected: 'lower-case letters, digits, dots and dashes',
      description: 'prefix of every topic and consumer group',
    }),
    KAFKA_SOURCE_PARTITIONS: integer({
      default: 6,
      min: 1,
      max: 1000,
      description: 'partitions of each source topic when created',
    }),
    KAFKA_REPLICATION_FACTOR: integer({
      default: 1,
      min: 1,
      max: 10,
      description: 'replication factor of created topics (3 in production)',
    }),
    KAFKA_MAX_MESSAGE_BYTES: integer({
      default: 1_048_588,
      min: 65_536,
      max: 100_000_000,
      description:
        "the brokers' `message.max.bytes`; an event that cannot fit with 16 KiB to spare is refused alone",
    }),
    SCHEMA_REGISTRY_URL: httpUrl({
      required: true,
      description: 'Confluent-API schema registry base URL',
    }),
    DATABASE_URL: text({
      required: true,
      secret: true,
      pattern: /^postgres(ql)?:\/\/\S+$/,
      expected: 'a postgres:// connection URL',
      description: 'PostgreSQL state store, `postgres://…`',
    }),
    DATABASE_POOL_MAX: integer({
      default: 10,
      min: 1,
      max: 200,
      description: 'PostgreSQL connections one process may open',
    }),
    SECRETS_KEY: text({
      required: true,
      secret: true,
      pattern: /^[0-9a-fA-F]{64}$/,
      expected: '64 hexadecimal characters (an AES-256 key)',
      description: 'AES-256 key, 64 hex characters, sealing customer credentials at rest',
    }),
    HTTP_PORT: integer({
      default: 3000,
      min: 0,
      max: 65535,
      description: 'port of `/health/*`, `/metrics` and the APIs',
    }),
    HTTP_HOST: text({
      default: '0.0.0.0',
      pattern: /^\S+$/,
      expected: 'a host name or address',
      description: 'interface to listen on',
    }),
    HTTP_HEADERS_TIMEOUT_MS: integer({
      default: 20_000,
      min: 1000,
      max: 600_000,
      description: "longest time to receive a request's headers (Node's `headersTimeout`)",
    }),
    HTTP_REQUEST_TIMEOUT_MS: integer({
      default: 60_000,
      min: 1000,
      max: 3_600_000,
      description:
        "longest time to receive a whole request (Node's `requestTimeout`; at least `HTTP_HEADERS_TIMEOUT_MS`)",
    }),
    LOG_LEVEL: oneOf(LOG_LEVELS, { default: 'info', description: '`trace` … `fatal`' }),
    SERVICE_NAME: text({
      optional: true,
      pattern: /^[a-z0-9-]+$/,
      expected: 'lower-case letters, digits and dashes',
      whenUnset: 'the app name',
      description: 'name in logs and metrics',
    }),
    SHUTDOWN_TIMEOUT_MS: integer({
      default: 25_000,
      min: 1000,
      max: 600_000,
      description: 'longest graceful shutdown before exit 1',
    }),
    STARTUP_DEPENDENCY_TIMEOUT_MS: integer({
      default: 5000,
      min: 0,
      max: 600_000,
      description:
        'how long a starting service retries an unreachable PostgreSQL, Kafka or registry before exit 1',
    }),
    ADMIN_TOKEN: text({
      optional: true,
      secret: true,
      pattern: /^\S{24,}$/,
      expected: 'at least 24 characters without spaces',
      whenUnset: 'the admin API and console answer 503',
      description: 'bearer token of the admin API and the console',
    }),
    BACKFILL_MAX_LAG: integer({
      default: 20_000,
      min: 0,
      max: 100_000_000,
      description:
        'backfill pages and reconciliation republishes wait while the submitter lags more than this (0 = no wait)',
    }),
    BACKFILL_MAX_WAITING: integer({
      default: 5000,
      min: 0,
      max: 100_000_000,
      description:
        "a customer's backfill pages, republishes and replays wait while more than this many of its events wait in its destinations' lanes (0 = no wait)",
    }),
  },
  check: (v) =>
    v.HTTP_REQUEST_TIMEOUT_MS < v.HTTP_HEADERS_TIMEOUT_MS
      ? ['HTTP_REQUEST_TIMEOUT_MS must be at least HTTP_HEADERS_TIMEOUT_MS']
      : [],
  build: (v) => ({
    kafka: {
      brokers: v.KAFKA_BROKERS.split(','),
      topicPrefix: v.KAFKA_TOPIC_PREFIX,
      sourcePartitions: v.KAFKA_SOURCE_PARTITIONS,
      replicationFactor: v.KAFKA_REPLICATION_FACTOR,
      maxMessageBytes: v.KAFKA_MAX_MESSAGE_BYTES,
    },
    registry: { url: v.SCHEMA_REGISTRY_URL },
    database: { url: v.DATABASE_URL, poolMax: v.DATABASE_POOL_MAX },
    /** Hex AES-256 key; turned into a SecretBox where credentials are read. */
    secretsKey: v.SECRETS_KEY,
    http: {
      port: v.HTTP_PORT,
      host: v.HTTP_HOST,
      headersTimeoutMs: v.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: v.HTTP_REQUEST_TIMEOUT_MS,
    },
    logLevel: v.LOG_LEVEL,
    serviceName: v.SERVICE_NAME,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    startupDependencyTimeoutMs: v.STARTUP_DEPENDENCY_TIMEOUT_MS,
    adminToken: v.ADMIN_TOKEN,
    /** Bulk work (backfills, republishes, replays) waits behind the submitter's lag and lanes. */
    pushback: { maxLag: v.BACKFILL_MAX_LAG, maxWaiting: v.BACKFILL_MAX_WAITING },
  }),
});

/** What every service's config has. */
export type SharedConfig = SectionConfig<typeof SHARED_CONFIG>;

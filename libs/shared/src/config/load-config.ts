import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsNumber,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  validateSync,
} from 'class-validator';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** Environment variables every service reads. Validation messages name the variable, never its value. */
class SharedEnv {
  @Matches(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, { message: 'a comma-separated list of host:port' })
  KAFKA_BROKERS!: string;

  @Matches(/^[a-z0-9][a-z0-9.-]*$/, { message: 'lower-case letters, digits, dots and dashes' })
  KAFKA_TOPIC_PREFIX = 'raise-sync';

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  KAFKA_SOURCE_PARTITIONS = 6;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10)
  KAFKA_REPLICATION_FACTOR = 1;

  @Type(() => Number)
  @IsInt()
  @Min(65_536)
  @Max(100_000_000)
  KAFKA_MAX_MESSAGE_BYTES = 1_048_588;

  @IsUrl(
    { require_tld: false, protocols: ['http', 'https'], require_protocol: true },
    { message: 'an http(s) URL' },
  )
  SCHEMA_REGISTRY_URL!: string;

  @Matches(/^postgres(ql)?:\/\/\S+$/, { message: 'a postgres:// connection URL' })
  DATABASE_URL!: string;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  DATABASE_POOL_MAX = 10;

  @Matches(/^[0-9a-fA-F]{64}$/, { message: '64 hexadecimal characters (an AES-256 key)' })
  SECRETS_KEY!: string;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65535)
  HTTP_PORT = 3000;

  @IsString()
  @IsNotEmpty()
  HTTP_HOST = '0.0.0.0';

  @Type(() => Number)
  @IsInt()
  @Min(1000)
  @Max(600_000)
  HTTP_HEADERS_TIMEOUT_MS = 20_000;

  @Type(() => Number)
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  HTTP_REQUEST_TIMEOUT_MS = 60_000;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';

  @IsOptional()
  @Matches(/^[a-z0-9-]+$/, { message: 'lower-case letters, digits and dashes' })
  SERVICE_NAME?: string;

  @Type(() => Number)
  @IsInt()
  @Min(1000)
  @Max(600_000)
  SHUTDOWN_TIMEOUT_MS = 25_000;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(600_000)
  STARTUP_DEPENDENCY_TIMEOUT_MS = 5000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(64)
  SUBMITTER_PARTITIONS_CONCURRENCY = 3;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(64)
  SUBMITTER_BULK_PARTITIONS_CONCURRENCY = 2;

  @IsOptional()
  @Matches(/^\S{24,}$/, { message: 'at least 24 characters without spaces' })
  ADMIN_TOKEN?: string;

  @IsUrl(
    { require_tld: false, protocols: ['http', 'https'], require_protocol: true },
    { message: 'an http(s) URL' },
  )
  RAISE_API_URL = 'https://prod-api.raisedonors.com';

  @IsUrl(
    { require_tld: false, protocols: ['http', 'https'], require_protocol: true },
    { message: 'an http(s) URL' },
  )
  VOMO_API_URL = 'https://api.vomo.org/v1';

  @IsOptional()
  @IsUrl(
    { require_tld: false, protocols: ['http', 'https'], require_protocol: true },
    { message: 'an http(s) URL' },
  )
  WEBHOOK_PUBLIC_URL?: string;

  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(50 * 1024 * 1024)
  WEBHOOK_MAX_BODY_BYTES = 1024 * 1024;

  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(3600)
  WEBHOOK_TOLERANCE_SECONDS = 300;

  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(4 * 1024 * 1024 * 1024)
  WEBHOOK_UNVERIFIED_BYTES_MAX = 64 * 1024 * 1024;

  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(300_000)
  WEBHOOK_BODY_TIMEOUT_MS = 10_000;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(1000)
  PUBLISH_LINGER_MS = 5;

  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(120_000)
  PUBLISH_TIMEOUT_MS = 10_000;

  @Matches(/^\d+:\d+$/, { message: 'events per second and burst, e.g. 50:1000' })
  INGEST_LIVE_SHARE = '50:1000';

  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(60_000)
  POLL_TICK_MS = 1000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(64)
  POLL_CONCURRENCY = 4;

  @Type(() => Number)
  @IsInt()
  @Min(5)
  @Max(3600)
  POLL_LEASE_SECONDS = 60;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(7 * 24 * 3600)
  POLL_DEFAULT_INTERVAL_SECONDS = 900;

  @Matches(/^(raise|vomo)=\d+(\.\d+)?:\d+(,(raise|vomo)=\d+(\.\d+)?:\d+)*$/, {
    message: "a list like 'raise=1:5,vomo=2:4' (requests per second : burst, per customer)",
  })
  SOURCE_RATE_LIMITS = 'raise=1:5,vomo=2:4';

  @IsOptional()
  @IsIn(['0', '1'])
  BENCH_DISCARD_EVENTS?: '0' | '1';

  @Matches(/^\d+,\d+,\d+$/, { message: 'three delays in milliseconds, e.g. 30000,300000,3600000' })
  SUBMITTER_RETRY_DELAYS_MS = '30000,300000,3600000';

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(4)
  SUBMITTER_MAX_ATTEMPTS = 4;

  @Type(() => Number)
  @IsNumber()
  @Min(0.001)
  @Max(24 * 30)
  SUBMITTER_MAX_WAIT_HOURS = 72;

  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(300_000)
  SUBMITTER_DELIVERY_TIMEOUT_MS = 15_000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(256)
  SUBMITTER_KEY_CONCURRENCY = 16;

  @Type(() => Number)
  @IsInt()
  @Min(50)
  @Max(600_000)
  SUBMITTER_TASK_BUDGET_MS = 1000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  SUBMITTER_BREAKER_FAILURES = 5;

  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  SUBMITTER_BREAKER_PROBE_MS = 10_000;

  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(86_400_000)
  SUBMITTER_BREAKER_PROBE_MAX_MS = 300_000;

  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(1000)
  BACKFILL_PAGE_SIZE = 500;

  @Type(() => Number)
  @IsInt()
  @Min(1000)
  @Max(10_000_000)
  BACKFILL_RANGE_RECORDS = 50_000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(256)
  BACKFILL_MAX_RANGES = 16;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(64)
  BACKFILL_WORKERS = 4;

  @Type(() => Number)
  @IsInt()
  @Min(5)
  @Max(3600)
  BACKFILL_LEASE_SECONDS = 60;

  @Type(() => Number)
  @IsInt()
  @Min(50)
  @Max(60_000)
  BACKFILL_TICK_MS = 1000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100_000)
  BACKFILL_LOG_EVERY_PAGES = 50;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(100_000_000)
  BACKFILL_MAX_LAG = 20_000;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(100_000_000)
  BACKFILL_MAX_WAITING = 5000;

  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(600_000)
  RECONCILER_TICK_MS = 5000;

  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(86_400)
  RECONCILER_LEASE_SECONDS = 120;

  @Matches(/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$|^UTC$/, {
    message: 'an IANA time zone, e.g. Europe/Berlin',
  })
  RECONCILER_DEFAULT_TIMEZONE = 'UTC';

  @IsIn(['hourly', 'daily'])
  RECONCILER_DEFAULT_CADENCE: 'hourly' | 'daily' = 'daily';

  @Matches(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'a local time HH:MM' })
  RECONCILER_RUN_AT = '06:00';

  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(72)
  RECONCILER_HOURLY_LAG_HOURS = 4;

  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(1000)
  RECONCILER_PAGE_SIZE = 500;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(64)
  RECONCILER_LOOKUP_CONCURRENCY = 8;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(10_080)
  RECONCILER_CRM_LAG_MINUTES = 60;

  @IsOptional()
  @IsUrl(
    { require_tld: false, protocols: ['http', 'https'], require_protocol: true },
    { message: 'an http(s) URL' },
  )
  RECONCILER_OPS_WEBHOOK_URL?: string;
}

/** Every variable, whether it must be set, and its default: README table and docker-compose test use this. */
export const CONFIG_VARIABLES: ReadonlyArray<{
  name: keyof SharedEnv;
  required: boolean;
  default?: string;
  description: string;
}> = [
  {
    name: 'KAFKA_BROKERS',
    required: true,
    description: 'Kafka bootstrap servers, host:port[,host:port]',
  },
  {
    name: 'KAFKA_TOPIC_PREFIX',
    required: false,
    default: 'raise-sync',
    description: 'prefix of every topic and consumer group',
  },
  {
    name: 'KAFKA_SOURCE_PARTITIONS',
    required: false,
    default: '6',
    description: 'partitions of each source topic when created',
  },
  {
    name: 'KAFKA_REPLICATION_FACTOR',
    required: false,
    default: '1',
    description: 'replication factor of created topics (3 in production)',
  },
  {
    name: 'KAFKA_MAX_MESSAGE_BYTES',
    required: false,
    default: '1048588',
    description:
      "the broker's message.max.bytes (record-batch limit); events that cannot fit with 16 KiB to spare are refused alone",
  },
  {
    name: 'SCHEMA_REGISTRY_URL',
    required: true,
    description: 'Confluent-API schema registry base URL',
  },
  { name: 'DATABASE_URL', required: true, description: 'PostgreSQL state store, postgres://...' },
  {
    name: 'DATABASE_POOL_MAX',
    required: false,
    description: 'PostgreSQL connections one process may open (default 10)',
  },
  {
    name: 'SECRETS_KEY',
    required: true,
    description: 'AES-256 key (64 hex) sealing customer credentials at rest',
  },
  {
    name: 'HTTP_PORT',
    required: false,
    default: '3000',
    description: 'port of /health/*, /metrics and APIs',
  },
  { name: 'HTTP_HOST', required: false, default: '0.0.0.0', description: 'interface to listen on' },
  {
    name: 'HTTP_HEADERS_TIMEOUT_MS',
    required: false,
    default: '20000',
    description: "the HTTP server's headersTimeout: longest time to receive a request's headers",
  },
  {
    name: 'HTTP_REQUEST_TIMEOUT_MS',
    required: false,
    default: '60000',
    description:
      "the HTTP server's requestTimeout: longest time to receive a whole request (at least HTTP_HEADERS_TIMEOUT_MS)",
  },
  {
    name: 'LOG_LEVEL',
    required: false,
    default: 'info',
    description: 'trace, debug, info, warn, error or fatal',
  },
  {
    name: 'SERVICE_NAME',
    required: false,
    description: 'name in logs and metrics (defaults to the app name)',
  },
  {
    name: 'SHUTDOWN_TIMEOUT_MS',
    required: false,
    default: '25000',
    description: 'longest graceful shutdown before forcing exit',
  },
  {
    name: 'STARTUP_DEPENDENCY_TIMEOUT_MS',
    required: false,
    default: '5000',
    description:
      'how long a starting service retries an unreachable PostgreSQL, Kafka or schema registry before exiting 1',
  },
  {
    name: 'SUBMITTER_PARTITIONS_CONCURRENCY',
    required: false,
    default: '3',
    description: 'partitions the submitter handles at once',
  },
  {
    name: 'SUBMITTER_BULK_PARTITIONS_CONCURRENCY',
    required: false,
    default: '2',
    description:
      'bulk-topic partitions (backfills, republishes, replays) the submitter handles at once',
  },
  {
    name: 'ADMIN_TOKEN',
    required: false,
    description:
      'bearer token of the admin API (24+ characters); the admin API answers 503 without it',
  },
  {
    name: 'RAISE_API_URL',
    required: false,
    default: 'https://prod-api.raisedonors.com',
    description: 'Raise API base URL (a simulator in tests and the demo)',
  },
  {
    name: 'VOMO_API_URL',
    required: false,
    default: 'https://api.vomo.org/v1',
    description: 'VOMO API base URL',
  },
  {
    name: 'WEBHOOK_PUBLIC_URL',
    required: false,
    description: 'public base URL of ingest, used when registering webhooks with a source',
  },
  {
    name: 'WEBHOOK_MAX_BODY_BYTES',
    required: false,
    default: '1048576',
    description: 'largest webhook body accepted (413 above)',
  },
  {
    name: 'WEBHOOK_TOLERANCE_SECONDS',
    required: false,
    default: '300',
    description: 'signed timestamps older or newer than this are refused as stale',
  },
  {
    name: 'WEBHOOK_UNVERIFIED_BYTES_MAX',
    required: false,
    default: '67108864',
    description:
      'bytes of webhook bodies one ingest process holds before their signature is checked (503 busy above; at least WEBHOOK_MAX_BODY_BYTES)',
  },
  {
    name: 'WEBHOOK_BODY_TIMEOUT_MS',
    required: false,
    default: '10000',
    description:
      'longest time to receive a webhook body once its headers passed the checks (408 after)',
  },
  {
    name: 'PUBLISH_LINGER_MS',
    required: false,
    default: '5',
    description: 'how long ingest gathers events into one Kafka batch',
  },
  {
    name: 'PUBLISH_TIMEOUT_MS',
    required: false,
    default: '10000',
    description: 'longest wait for a Kafka acknowledgement before a webhook gets 503',
  },
  {
    name: 'INGEST_LIVE_SHARE',
    required: false,
    default: '50:1000',
    description:
      "a customer's fair share of live events (per second:burst); beyond it, events go to the bulk lane",
  },
  { name: 'POLL_TICK_MS', required: false, default: '1000', description: 'poll scheduler tick' },
  {
    name: 'POLL_CONCURRENCY',
    required: false,
    default: '4',
    description: 'customer-resources one ingest replica polls at once',
  },
  {
    name: 'POLL_LEASE_SECONDS',
    required: false,
    default: '60',
    description: 'lease on a customer-resource while polling (renewed while it runs)',
  },
  {
    name: 'POLL_DEFAULT_INTERVAL_SECONDS',
    required: false,
    default: '900',
    description: 'poll interval of a new customer source (86400 = daily backstop)',
  },
  {
    name: 'SOURCE_RATE_LIMITS',
    required: false,
    default: 'raise=1:5,vomo=2:4',
    description: 'per-customer budget per source API: requests/second:burst',
  },
  {
    name: 'BENCH_DISCARD_EVENTS',
    required: false,
    description:
      'benchmark baseline only: 1 = answer webhooks without writing to Kafka (loses data)',
  },
  {
    name: 'SUBMITTER_RETRY_DELAYS_MS',
    required: false,
    default: '30000,300000,3600000',
    description: 'delays of the three retry topics (30s, 5m, 1h)',
  },
  {
    name: 'SUBMITTER_MAX_ATTEMPTS',
    required: false,
    default: '4',
    description: 'delivery attempts per event and destination before the dead-letter topic (1-4)',
  },
  {
    name: 'SUBMITTER_MAX_WAIT_HOURS',
    required: false,
    default: '72',
    description:
      'longest an event may wait for a destination (paced by budgets or Retry-After) before the dead-letter topic',
  },
  {
    name: 'SUBMITTER_DELIVERY_TIMEOUT_MS',
    required: false,
    default: '15000',
    description: 'longest wait for one destination write before it counts as failed',
  },
  {
    name: 'SUBMITTER_KEY_CONCURRENCY',
    required: false,
    default: '16',
    description: 'records (keys) of one partition delivered at the same time',
  },
  {
    name: 'SUBMITTER_TASK_BUDGET_MS',
    required: false,
    default: '1000',
    description:
      'time one HTTP destination may take of a chunk; what it has not started by then waits in its lane',
  },
  {
    name: 'SUBMITTER_BREAKER_FAILURES',
    required: false,
    default: '5',
    description: "consecutive failed deliveries that open a destination's breaker",
  },
  {
    name: 'SUBMITTER_BREAKER_PROBE_MS',
    required: false,
    default: '10000',
    description:
      'first wait before an open breaker sends a probe (doubles after each failed probe)',
  },
  {
    name: 'SUBMITTER_BREAKER_PROBE_MAX_MS',
    required: false,
    default: '300000',
    description: 'longest wait between two probes of an open breaker',
  },
  {
    name: 'BACKFILL_PAGE_SIZE',
    required: false,
    default: '500',
    description: 'records per source page in a backfill (Raise allows up to 1000)',
  },
  {
    name: 'BACKFILL_RANGE_RECORDS',
    required: false,
    default: '50000',
    description: 'a backfill is split into ID ranges of about this many records',
  },
  {
    name: 'BACKFILL_MAX_RANGES',
    required: false,
    default: '16',
    description: 'most ID ranges one backfill is split into',
  },
  {
    name: 'BACKFILL_WORKERS',
    required: false,
    default: '4',
    description: 'ranges one backfiller replica works on at once',
  },
  {
    name: 'BACKFILL_LEASE_SECONDS',
    required: false,
    default: '60',
    description:
      "lease on a range while worked (renewed); a dead worker's range is resumed after it",
  },
  {
    name: 'BACKFILL_TICK_MS',
    required: false,
    default: '1000',
    description: 'backfill claim tick',
  },
  {
    name: 'BACKFILL_LOG_EVERY_PAGES',
    required: false,
    default: '50',
    description: 'a progress log line every N pages of a range',
  },
  {
    name: 'BACKFILL_MAX_LAG',
    required: false,
    default: '20000',
    description:
      'backfill pages and reconciliation republishes wait while the submitter lags more than this (0 = no wait)',
  },
  {
    name: 'BACKFILL_MAX_WAITING',
    required: false,
    default: '5000',
    description:
      "a customer's backfill pages, reconciliation republishes and replays wait while more than this many of its events wait in its destinations' lanes (0 = no wait)",
  },
  {
    name: 'RECONCILER_TICK_MS',
    required: false,
    default: '5000',
    description: 'how often the reconciler looks for due schedules and requested runs',
  },
  {
    name: 'RECONCILER_LEASE_SECONDS',
    required: false,
    default: '120',
    description: 'lease on a running reconciliation (renewed while it runs)',
  },
  {
    name: 'RECONCILER_DEFAULT_TIMEZONE',
    required: false,
    default: 'UTC',
    description: "time zone of new customers' reconciliation days (IANA name)",
  },
  {
    name: 'RECONCILER_DEFAULT_CADENCE',
    required: false,
    default: 'daily',
    description: 'window reconciliation cadence of new customers: daily or hourly',
  },
  {
    name: 'RECONCILER_RUN_AT',
    required: false,
    default: '06:00',
    description: 'local time daily runs start (they reconcile the previous local day)',
  },
  {
    name: 'RECONCILER_HOURLY_LAG_HOURS',
    required: false,
    default: '4',
    description: 'hourly runs reconcile the clock hour that ended this many hours ago',
  },
  {
    name: 'RECONCILER_PAGE_SIZE',
    required: false,
    default: '500',
    description: 'source records read and compared per step (bounds memory)',
  },
  {
    name: 'RECONCILER_LOOKUP_CONCURRENCY',
    required: false,
    default: '8',
    description: 'destination lookups in flight per run',
  },
  {
    name: 'RECONCILER_CRM_LAG_MINUTES',
    required: false,
    default: '60',
    description: 'a Raise record not in CRM+ counts as missing only once it is older than this',
  },
  {
    name: 'RECONCILER_OPS_WEBHOOK_URL',
    required: false,
    description: 'actionable reconciliation alerts are POSTed here as JSON (stored either way)',
  },
];

export interface AppConfig {
  kafka: {
    brokers: string[];
    topicPrefix: string;
    sourcePartitions: number;
    replicationFactor: number;
    maxMessageBytes: number;
  };
  registry: { url: string };
  database: { url: string; poolMax: number };
  /** Hex AES-256 key; turned into a SecretBox where credentials are read. */
  secretsKey: string;
  http: { port: number; host: string; headersTimeoutMs: number; requestTimeoutMs: number };
  logLevel: (typeof LOG_LEVELS)[number];
  serviceName: string | null;
  shutdownTimeoutMs: number;
  startupDependencyTimeoutMs: number;
  submitter: {
    partitionsConcurrency: number;
    bulkPartitionsConcurrency: number;
    retryDelaysMs: [number, number, number];
    maxAttempts: number;
    /** SUBMITTER_MAX_WAIT_HOURS: since an event's first failure or deferral, at most this long. */
    maxWaitMs: number;
    deliveryTimeoutMs: number;
    keyConcurrency: number;
    /** SUBMITTER_TASK_BUDGET_MS: an HTTP destination's share of a chunk's time. */
    taskBudgetMs: number;
    breaker: { failures: number; probeMs: number; probeMaxMs: number };
  };
  ingest: {
    adminToken: string | null;
    raiseApiUrl: string;
    vomoApiUrl: string;
    webhookPublicUrl: string | null;
    webhookMaxBodyBytes: number;
    webhookToleranceSeconds: number;
    /** Bytes of not-yet-verified webhook bodies one process may hold at once. */
    webhookUnverifiedBytesMax: number;
    webhookBodyTimeoutMs: number;
    publishLingerMs: number;
    publishTimeoutMs: number;
    /** INGEST_LIVE_SHARE: a customer's live events per second and burst, per ingest process. */
    liveShare: { perSecond: number; burst: number };
    pollTickMs: number;
    pollConcurrency: number;
    pollLeaseSeconds: number;
    pollDefaultIntervalSeconds: number;
    /** Per customer and API: token-bucket rate and burst. */
    sourceRates: Record<'raise' | 'vomo', { requestsPerSecond: number; burst: number }>;
    /** Benchmark baseline: acknowledge without writing. Never set in production. */
    benchDiscardEvents: boolean;
  };
  backfill: {
    pageSize: number;
    rangeRecords: number;
    maxRanges: number;
    workers: number;
    leaseSeconds: number;
    tickMs: number;
    logEveryPages: number;
    maxLag: number;
    /** BACKFILL_MAX_WAITING: per-customer push-back from its destination lanes (0 = off). */
    maxWaiting: number;
  };
  reconciler: {
    tickMs: number;
    leaseSeconds: number;
    defaultTimezone: string;
    defaultCadence: 'hourly' | 'daily';
    /** Minutes after local midnight. */
    runAtMinute: number;
    hourlyLagHours: number;
    pageSize: number;
    lookupConcurrency: number;
    crmLagMinutes: number;
    opsWebhookUrl: string | null;
  };
}

/** Thrown for invalid configuration; the message lists every bad variable by name. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration, fix these environment variables:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/** Parses and validates the environment once, at startup. */
export function loadConfig(env: Record<string, unknown>): AppConfig {
  const known = new Set<string>(CONFIG_VARIABLES.map((v) => v.name));
  const relevant = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => known.has(k) && v !== '' && v !== undefined),
  );
  const raw = plainToInstance(SharedEnv, relevant, { exposeDefaultValues: true });
  const problems = validateSync(raw, { forbidUnknownValues: false }).map((error) => {
    const required = CONFIG_VARIABLES.find((v) => v.name === error.property)?.required;
    const missing = relevant[error.property] === undefined;
    const expected = Object.values(error.constraints ?? {}).join('; ');
    return missing && required
      ? `${error.property} is required (${expected})`
      : `${error.property} must be ${expected}`;
  });
  if (problems.length === 0) {
    problems.push(...crossChecks(raw));
  }
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return {
    kafka: {
      brokers: raw.KAFKA_BROKERS.split(','),
      topicPrefix: raw.KAFKA_TOPIC_PREFIX,
      sourcePartitions: raw.KAFKA_SOURCE_PARTITIONS,
      replicationFactor: raw.KAFKA_REPLICATION_FACTOR,
      maxMessageBytes: raw.KAFKA_MAX_MESSAGE_BYTES,
    },
    registry: { url: raw.SCHEMA_REGISTRY_URL.replace(/\/+$/, '') },
    database: { url: raw.DATABASE_URL, poolMax: raw.DATABASE_POOL_MAX },
    secretsKey: raw.SECRETS_KEY,
    http: {
      port: raw.HTTP_PORT,
      host: raw.HTTP_HOST,
      headersTimeoutMs: raw.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: raw.HTTP_REQUEST_TIMEOUT_MS,
    },
    logLevel: raw.LOG_LEVEL,
    serviceName: raw.SERVICE_NAME ?? null,
    shutdownTimeoutMs: raw.SHUTDOWN_TIMEOUT_MS,
    startupDependencyTimeoutMs: raw.STARTUP_DEPENDENCY_TIMEOUT_MS,
    submitter: {
      partitionsConcurrency: raw.SUBMITTER_PARTITIONS_CONCURRENCY,
      bulkPartitionsConcurrency: raw.SUBMITTER_BULK_PARTITIONS_CONCURRENCY,
      retryDelaysMs: raw.SUBMITTER_RETRY_DELAYS_MS.split(',').map(Number) as [
        number,
        number,
        number,
      ],
      maxAttempts: raw.SUBMITTER_MAX_ATTEMPTS,
      maxWaitMs: Math.round(raw.SUBMITTER_MAX_WAIT_HOURS * 3_600_000),
      deliveryTimeoutMs: raw.SUBMITTER_DELIVERY_TIMEOUT_MS,
      keyConcurrency: raw.SUBMITTER_KEY_CONCURRENCY,
      taskBudgetMs: raw.SUBMITTER_TASK_BUDGET_MS,
      breaker: {
        failures: raw.SUBMITTER_BREAKER_FAILURES,
        probeMs: raw.SUBMITTER_BREAKER_PROBE_MS,
        probeMaxMs: raw.SUBMITTER_BREAKER_PROBE_MAX_MS,
      },
    },
    ingest: {
      adminToken: raw.ADMIN_TOKEN ?? null,
      raiseApiUrl: raw.RAISE_API_URL.replace(/\/+$/, ''),
      vomoApiUrl: raw.VOMO_API_URL.replace(/\/+$/, ''),
      webhookPublicUrl: raw.WEBHOOK_PUBLIC_URL?.replace(/\/+$/, '') ?? null,
      webhookMaxBodyBytes: raw.WEBHOOK_MAX_BODY_BYTES,
      webhookToleranceSeconds: raw.WEBHOOK_TOLERANCE_SECONDS,
      webhookUnverifiedBytesMax: raw.WEBHOOK_UNVERIFIED_BYTES_MAX,
      webhookBodyTimeoutMs: raw.WEBHOOK_BODY_TIMEOUT_MS,
      publishLingerMs: raw.PUBLISH_LINGER_MS,
      publishTimeoutMs: raw.PUBLISH_TIMEOUT_MS,
      liveShare: {
        perSecond: Number(raw.INGEST_LIVE_SHARE.split(':')[0]),
        burst: Number(raw.INGEST_LIVE_SHARE.split(':')[1]),
      },
      pollTickMs: raw.POLL_TICK_MS,
      pollConcurrency: raw.POLL_CONCURRENCY,
      pollLeaseSeconds: raw.POLL_LEASE_SECONDS,
      pollDefaultIntervalSeconds: raw.POLL_DEFAULT_INTERVAL_SECONDS,
      sourceRates: parseRates(raw.SOURCE_RATE_LIMITS),
      benchDiscardEvents: raw.BENCH_DISCARD_EVENTS === '1',
    },
    backfill: {
      pageSize: raw.BACKFILL_PAGE_SIZE,
      rangeRecords: raw.BACKFILL_RANGE_RECORDS,
      maxRanges: raw.BACKFILL_MAX_RANGES,
      workers: raw.BACKFILL_WORKERS,
      leaseSeconds: raw.BACKFILL_LEASE_SECONDS,
      tickMs: raw.BACKFILL_TICK_MS,
      logEveryPages: raw.BACKFILL_LOG_EVERY_PAGES,
      maxLag: raw.BACKFILL_MAX_LAG,
      maxWaiting: raw.BACKFILL_MAX_WAITING,
    },
    reconciler: {
      tickMs: raw.RECONCILER_TICK_MS,
      leaseSeconds: raw.RECONCILER_LEASE_SECONDS,
      defaultTimezone: validTimeZone(raw.RECONCILER_DEFAULT_TIMEZONE),
      defaultCadence: raw.RECONCILER_DEFAULT_CADENCE,
      runAtMinute: minutesOf(raw.RECONCILER_RUN_AT),
      hourlyLagHours: raw.RECONCILER_HOURLY_LAG_HOURS,
      pageSize: raw.RECONCILER_PAGE_SIZE,
      lookupConcurrency: raw.RECONCILER_LOOKUP_CONCURRENCY,
      crmLagMinutes: raw.RECONCILER_CRM_LAG_MINUTES,
      opsWebhookUrl: raw.RECONCILER_OPS_WEBHOOK_URL?.replace(/\/+$/, '') ?? null,
    },
  };
}

/** Rules between variables, checked once each one is valid on its own. */
function crossChecks(raw: SharedEnv): string[] {
  const problems: string[] = [];
  if (raw.WEBHOOK_UNVERIFIED_BYTES_MAX < raw.WEBHOOK_MAX_BODY_BYTES) {
    problems.push(
      'WEBHOOK_UNVERIFIED_BYTES_MAX must be at least WEBHOOK_MAX_BODY_BYTES (else a body of the allowed size is always refused)',
    );
  }
  if (raw.HTTP_REQUEST_TIMEOUT_MS < raw.HTTP_HEADERS_TIMEOUT_MS) {
    problems.push('HTTP_REQUEST_TIMEOUT_MS must be at least HTTP_HEADERS_TIMEOUT_MS');
  }
  return problems;
}

function parseRates(
  text: string,
): Record<'raise' | 'vomo', { requestsPerSecond: number; burst: number }> {
  const rates = {
    raise: { requestsPerSecond: 1, burst: 5 },
    vomo: { requestsPerSecond: 2, burst: 4 },
  };
  for (const part of text.split(',')) {
    const [api, spec] = part.split('=') as ['raise' | 'vomo', string];
    const [rate, burst] = spec.split(':').map(Number) as [number, number];
    rates[api] = { requestsPerSecond: rate, burst };
  }
  return rates;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/** Throws a ConfigError naming the variable when the runtime does not know the zone. */
function validTimeZone(zone: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone;
  } catch {
    throw new ConfigError([`RECONCILER_DEFAULT_TIMEZONE must be a known IANA time zone`]);
  }
}

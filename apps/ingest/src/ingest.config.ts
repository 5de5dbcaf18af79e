import {
  configSection,
  flag,
  httpUrl,
  integer,
  text,
  type SectionConfig,
  type SharedConfig,
} from '@raise-sync/shared/config';
import { SOURCES_CONFIG, type SourcesConfig } from '@raise-sync/sources';

/** Ingest's own variables: webhook intake, publishing to Kafka, polling. */
export const INGEST_CONFIG = configSection({
  owner: 'apps/ingest',
  variables: {
    WEBHOOK_PUBLIC_URL: httpUrl({
      optional: true,
      whenUnset: '`http://127.0.0.1:$HTTP_PORT`',
      description: 'public base URL of ingest, registered with a source for its webhooks',
    }),
    WEBHOOK_MAX_BODY_BYTES: integer({
      default: 1024 * 1024,
      min: 1024,
      max: 50 * 1024 * 1024,
      description: 'largest webhook body accepted (413 above)',
    }),
    WEBHOOK_TOLERANCE_SECONDS: integer({
      default: 300,
      min: 10,
      max: 3600,
      description: 'signed timestamps older or newer than this are refused as stale (401)',
    }),
    WEBHOOK_UNVERIFIED_BYTES_MAX: integer({
      default: 64 * 1024 * 1024,
      min: 1024,
      max: 4 * 1024 * 1024 * 1024,
      description:
        'bytes of webhook bodies one process holds before their signature is checked (503 busy above; at least `WEBHOOK_MAX_BODY_BYTES`)',
    }),
    WEBHOOK_BODY_TIMEOUT_MS: integer({
      default: 10_000,
      min: 100,
      max: 300_000,
      description: 'longest time to receive a webhook body once its headers passed (408 after)',
    }),
    PUBLISH_LINGER_MS: integer({
      default: 5,
      min: 0,
      max: 1000,
      description: 'how long ingest gathers events into one Kafka batch',
    }),
    PUBLISH_TIMEOUT_MS: integer({
      default: 10_000,
      min: 100,
      max: 120_000,
      description: 'longest wait for a Kafka acknowledgement before a webhook gets 503',
    }),
    INGEST_LIVE_SHARE: text({
      default: '50:1000',
      pattern: /^\d+:\d+$/,
      expected: 'events per second and burst, e.g. 50:1000',
      description:
        "a customer's live events per second:burst per process; beyond it they go to the bulk lane",
    }),
    INGEST_WORKERS: integer({
      default: 1,
      min: 1,
      max: 64,
      description:
        'ingest processes behind one port (node:cluster); each is a whole replica with its own producer, `DATABASE_POOL_MAX` connections and poller',
    }),
    POLL_TICK_MS: integer({
      default: 1000,
      min: 100,
      max: 60_000,
      description: 'poll scheduler tick',
    }),
    POLL_CONCURRENCY: integer({
      default: 4,
      min: 1,
      max: 64,
      description: 'customer-resources one replica polls at once',
    }),
    POLL_LEASE_SECONDS: integer({
      default: 60,
      min: 5,
      max: 3600,
      description: 'lease on a customer-resource while polling (renewed while it runs)',
    }),
    POLL_DEFAULT_INTERVAL_SECONDS: integer({
      default: 900,
      min: 1,
      max: 7 * 24 * 3600,
      description: 'poll interval of a new customer source (86400 = daily backstop)',
    }),
    OFFBOARD_GRACE_DAYS: integer({
      default: 30,
      min: 0,
      max: 3650,
      description:
        "days an offboarded customer's state is kept before it is purged (an offboard call may ask for a purge at once)",
    }),
    PURGE_TICK_MS: integer({
      default: 60_000,
      min: 100,
      max: 3_600_000,
      description: 'how often the purge job looks for offboarded customers whose purge is due',
    }),
    PURGE_BATCH_ROWS: integer({
      default: 5000,
      min: 1,
      max: 100_000,
      description: 'rows one purge step deletes from one table (one short transaction each)',
    }),
    RETENTION_TICK_MS: integer({
      default: 60_000,
      min: 100,
      max: 3_600_000,
      description:
        'how often the retention job prunes old rows (it also prunes the webhook replay records, so keep it near a minute)',
    }),
    RETENTION_BATCH_ROWS: integer({
      default: 5000,
      min: 1,
      max: 100_000,
      description:
        'rows one retention statement deletes from one table (one short transaction each)',
    }),
    RETENTION_MAX_BATCHES_PER_TICK: integer({
      default: 20,
      min: 1,
      max: 10_000,
      description:
        'retention statements per table and tick: a tick deletes at most `RETENTION_BATCH_ROWS` × this many rows of a table',
    }),
    AUDIT_RETENTION_DAYS: integer({
      default: 365,
      min: 1,
      max: 36_500,
      description: 'days audit-log rows are kept',
    }),
    DEAD_LETTER_RETENTION_DAYS: integer({
      default: 30,
      min: 1,
      max: 36_500,
      description:
        'days a resolved (retried or discarded) dead letter and its payload are kept after it was resolved; open ones are never pruned',
    }),
    RUN_RETENTION_DAYS: integer({
      default: 90,
      min: 1,
      max: 36_500,
      description:
        "days finished backfill, replay and reconciliation runs (with their ranges, findings and alerts) are kept; the newest finished run of each kind and a schedule's last run always stay",
    }),
    BENCH_DISCARD_EVENTS: flag({
      description:
        'benchmark baseline only: 1 = answer webhooks without writing to Kafka (loses data)',
    }),
  },
  check: (v) =>
    v.WEBHOOK_UNVERIFIED_BYTES_MAX < v.WEBHOOK_MAX_BODY_BYTES
      ? [
          'WEBHOOK_UNVERIFIED_BYTES_MAX must be at least WEBHOOK_MAX_BODY_BYTES (else a body of the allowed size is always refused)',
        ]
      : [],
  build: (v) => {
    const [perSecond, burst] = v.INGEST_LIVE_SHARE.split(':').map(Number) as [number, number];
    return {
      ingest: {
        webhookPublicUrl: v.WEBHOOK_PUBLIC_URL,
        webhookMaxBodyBytes: v.WEBHOOK_MAX_BODY_BYTES,
        webhookToleranceSeconds: v.WEBHOOK_TOLERANCE_SECONDS,
        /** Bytes of not-yet-verified webhook bodies one process may hold at once. */
        webhookUnverifiedBytesMax: v.WEBHOOK_UNVERIFIED_BYTES_MAX,
        webhookBodyTimeoutMs: v.WEBHOOK_BODY_TIMEOUT_MS,
        publishLingerMs: v.PUBLISH_LINGER_MS,
        publishTimeoutMs: v.PUBLISH_TIMEOUT_MS,
        /** A customer's live events per second and burst, per ingest process. */
        liveShare: { perSecond, burst },
        /** Worker processes behind one port; read by the primary before any worker starts. */
        workers: v.INGEST_WORKERS,
        pollTickMs: v.POLL_TICK_MS,
        pollConcurrency: v.POLL_CONCURRENCY,
        pollLeaseSeconds: v.POLL_LEASE_SECONDS,
        pollDefaultIntervalSeconds: v.POLL_DEFAULT_INTERVAL_SECONDS,
        offboardGraceDays: v.OFFBOARD_GRACE_DAYS,
        purgeTickMs: v.PURGE_TICK_MS,
        purgeBatchRows: v.PURGE_BATCH_ROWS,
        retention: {
          tickMs: v.RETENTION_TICK_MS,
          batchRows: v.RETENTION_BATCH_ROWS,
          maxBatchesPerTick: v.RETENTION_MAX_BATCHES_PER_TICK,
          auditDays: v.AUDIT_RETENTION_DAYS,
          deadLetterDays: v.DEAD_LETTER_RETENTION_DAYS,
          runDays: v.RUN_RETENTION_DAYS,
        },
        /** Benchmark baseline: acknowledge without writing. Never set in production. */
        benchDiscardEvents: v.BENCH_DISCARD_EVENTS,
      },
    };
  },
});

/** The sections ingest loads besides the shared one. */
export const INGEST_SECTIONS = [SOURCES_CONFIG, INGEST_CONFIG] as const;

export type IngestConfig = SharedConfig & SourcesConfig & SectionConfig<typeof INGEST_CONFIG>;

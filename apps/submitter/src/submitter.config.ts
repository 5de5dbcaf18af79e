import {
  configSection,
  decimal,
  integer,
  text,
  type SectionConfig,
  type SharedConfig,
} from '@raise-sync/shared/config';
import { SOURCES_CONFIG, type SourcesConfig } from '@raise-sync/sources';

/** The submitter's own variables: consumption, delivery, retries, breakers. */
export const SUBMITTER_CONFIG = configSection({
  owner: 'apps/submitter',
  variables: {
    SUBMITTER_PARTITIONS_CONCURRENCY: integer({
      default: 3,
      min: 1,
      max: 64,
      description: 'live-topic partitions the submitter handles at once',
    }),
    SUBMITTER_BULK_PARTITIONS_CONCURRENCY: integer({
      default: 2,
      min: 1,
      max: 64,
      description: 'bulk-topic partitions (backfills, republishes, replays) handled at once',
    }),
    SUBMITTER_RETRY_DELAYS_MS: text({
      default: '30000,300000,3600000',
      pattern: /^\d+,\d+,\d+$/,
      expected: 'three delays in milliseconds, e.g. 30000,300000,3600000',
      description: 'delays of the three retry topics (30 s, 5 min, 1 h)',
    }),
    SUBMITTER_MAX_ATTEMPTS: integer({
      default: 4,
      min: 1,
      max: 4,
      description: 'delivery attempts per event and destination before the dead-letter topic',
    }),
    SUBMITTER_MAX_WAIT_HOURS: decimal({
      default: 72,
      min: 0.001,
      max: 24 * 30,
      description:
        'longest an event may wait for a destination (paced by budgets or `Retry-After`, or retried) before a dead letter',
    }),
    SUBMITTER_DELIVERY_TIMEOUT_MS: integer({
      default: 15_000,
      min: 100,
      max: 300_000,
      description: 'longest wait for one destination write before it counts as failed',
    }),
    SUBMITTER_KEY_CONCURRENCY: integer({
      default: 16,
      min: 1,
      max: 256,
      description: 'records (keys) of one partition delivered at the same time',
    }),
    SUBMITTER_TASK_BUDGET_MS: integer({
      default: 1000,
      min: 50,
      max: 600_000,
      description:
        'time one HTTP destination may take of a chunk; what it has not started by then waits in its lane',
    }),
    SUBMITTER_BREAKER_FAILURES: integer({
      default: 5,
      min: 1,
      max: 1000,
      description: "consecutive failed deliveries that open a destination's breaker",
    }),
    SUBMITTER_BREAKER_PROBE_MS: integer({
      default: 10_000,
      min: 100,
      max: 3_600_000,
      description:
        'first wait before an open breaker sends a probe (doubles after each failed one)',
    }),
    SUBMITTER_BREAKER_PROBE_MAX_MS: integer({
      default: 300_000,
      min: 100,
      max: 86_400_000,
      description: 'longest wait between two probes of an open breaker',
    }),
  },
  build: (v) => ({
    submitter: {
      partitionsConcurrency: v.SUBMITTER_PARTITIONS_CONCURRENCY,
      bulkPartitionsConcurrency: v.SUBMITTER_BULK_PARTITIONS_CONCURRENCY,
      retryDelaysMs: v.SUBMITTER_RETRY_DELAYS_MS.split(',').map(Number) as [number, number, number],
      maxAttempts: v.SUBMITTER_MAX_ATTEMPTS,
      /** Since an event's first failure or deferral, at most this long. */
      maxWaitMs: Math.round(v.SUBMITTER_MAX_WAIT_HOURS * 3_600_000),
      deliveryTimeoutMs: v.SUBMITTER_DELIVERY_TIMEOUT_MS,
      keyConcurrency: v.SUBMITTER_KEY_CONCURRENCY,
      /** An HTTP destination's share of a chunk's time. */
      taskBudgetMs: v.SUBMITTER_TASK_BUDGET_MS,
      breaker: {
        failures: v.SUBMITTER_BREAKER_FAILURES,
        probeMs: v.SUBMITTER_BREAKER_PROBE_MS,
        probeMaxMs: v.SUBMITTER_BREAKER_PROBE_MAX_MS,
      },
    },
  }),
});

/** The sections the submitter loads besides the shared one (it completes gifts from Raise). */
export const SUBMITTER_SECTIONS = [SOURCES_CONFIG, SUBMITTER_CONFIG] as const;

export type SubmitterConfig = SharedConfig & SourcesConfig & SectionConfig<typeof SUBMITTER_CONFIG>;

import {
  configSection,
  integer,
  type SectionConfig,
  type SharedConfig,
} from '@raise-sync/shared/config';
import { SOURCES_CONFIG, type SourcesConfig } from '@raise-sync/sources';

/** The backfiller's own variables (its push-back limits are shared: the reconciler obeys them too). */
export const BACKFILLER_CONFIG = configSection({
  owner: 'apps/backfiller',
  variables: {
    BACKFILL_PAGE_SIZE: integer({
      default: 500,
      min: 10,
      max: 1000,
      description: 'records per source page in a backfill (Raise allows up to 1000)',
    }),
    BACKFILL_RANGE_RECORDS: integer({
      default: 50_000,
      min: 1000,
      max: 10_000_000,
      description: 'a backfill is split into ID ranges of about this many records',
    }),
    BACKFILL_MAX_RANGES: integer({
      default: 16,
      min: 1,
      max: 256,
      description: 'most ID ranges one backfill is split into',
    }),
    BACKFILL_WORKERS: integer({
      default: 4,
      min: 1,
      max: 64,
      description: 'ranges one backfiller replica works on at once',
    }),
    BACKFILL_LEASE_SECONDS: integer({
      default: 60,
      min: 5,
      max: 3600,
      description:
        "lease on a range while worked (renewed); a dead worker's range resumes after it",
    }),
    BACKFILL_TICK_MS: integer({ default: 1000, min: 50, max: 60_000, description: 'claim tick' }),
    BACKFILL_LOG_EVERY_PAGES: integer({
      default: 50,
      min: 1,
      max: 100_000,
      description: 'a progress log line every N pages of a range',
    }),
  },
  build: (v) => ({
    backfill: {
      pageSize: v.BACKFILL_PAGE_SIZE,
      rangeRecords: v.BACKFILL_RANGE_RECORDS,
      maxRanges: v.BACKFILL_MAX_RANGES,
      workers: v.BACKFILL_WORKERS,
      leaseSeconds: v.BACKFILL_LEASE_SECONDS,
      tickMs: v.BACKFILL_TICK_MS,
      logEveryPages: v.BACKFILL_LOG_EVERY_PAGES,
    },
  }),
});

/** The sections the backfiller loads besides the shared one. */
export const BACKFILLER_SECTIONS = [SOURCES_CONFIG, BACKFILLER_CONFIG] as const;

export type BackfillerConfig = SharedConfig &
  SourcesConfig &
  SectionConfig<typeof BACKFILLER_CONFIG>;

import {
  configSection,
  httpUrl,
  integer,
  oneOf,
  text,
  variable,
  type SectionConfig,
  type SharedConfig,
} from '@raise-sync/shared/config';
import { SOURCES_CONFIG, type SourcesConfig } from '@raise-sync/sources';

/** An IANA zone this runtime knows ("UTC", "Europe/Berlin"). */
function timeZone(zone: string): string | undefined {
  if (!/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(zone)) {
    return undefined;
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone;
  } catch {
    return undefined;
  }
}

/** The reconciler's own variables: schedules, runs, CRM+ checks, alerts. */
export const RECONCILER_CONFIG = configSection({
  owner: 'apps/reconciler',
  variables: {
    RECONCILER_TICK_MS: integer({
      default: 5000,
      min: 100,
      max: 600_000,
      description: 'how often the reconciler looks for due schedules and requested runs',
    }),
    RECONCILER_LEASE_SECONDS: integer({
      default: 120,
      min: 10,
      max: 86_400,
      description: 'lease on a running reconciliation (renewed while it runs)',
    }),
    RECONCILER_DEFAULT_TIMEZONE: variable('a known IANA time zone, e.g. Europe/Berlin', timeZone, {
      default: 'UTC',
      description: "time zone of new customers' reconciliation days",
    }),
    RECONCILER_DEFAULT_CADENCE: oneOf(['hourly', 'daily'], {
      default: 'daily',
      description: 'window reconciliation cadence of new customers',
    }),
    RECONCILER_RUN_AT: text({
      default: '06:00',
      pattern: /^([01]\d|2[0-3]):[0-5]\d$/,
      expected: 'a local time HH:MM',
      description: 'local time daily runs start (they reconcile the previous local day)',
    }),
    RECONCILER_HOURLY_LAG_HOURS: integer({
      default: 4,
      min: 0,
      max: 72,
      description: 'hourly runs reconcile the clock hour that ended this many hours ago',
    }),
    RECONCILER_PAGE_SIZE: integer({
      default: 500,
      min: 10,
      max: 1000,
      description: 'source records read and compared per step (bounds memory)',
    }),
    RECONCILER_LOOKUP_CONCURRENCY: integer({
      default: 8,
      min: 1,
      max: 64,
      description: 'destination lookups in flight per run',
    }),
    RECONCILER_CRM_LAG_MINUTES: integer({
      default: 60,
      min: 0,
      max: 10_080,
      description: 'a Raise record not in CRM+ counts as missing only once it is older than this',
    }),
    RECONCILER_OPS_WEBHOOK_URL: httpUrl({
      optional: true,
      secret: true,
      whenUnset: 'alerts are only stored',
      description: 'actionable reconciliation alerts are POSTed here as JSON (stored either way)',
    }),
  },
  build: (v) => {
    const [hour, minute] = v.RECONCILER_RUN_AT.split(':').map(Number) as [number, number];
    return {
      reconciler: {
        tickMs: v.RECONCILER_TICK_MS,
        leaseSeconds: v.RECONCILER_LEASE_SECONDS,
        defaultTimezone: v.RECONCILER_DEFAULT_TIMEZONE,
        defaultCadence: v.RECONCILER_DEFAULT_CADENCE,
        /** Minutes after local midnight. */
        runAtMinute: hour * 60 + minute,
        hourlyLagHours: v.RECONCILER_HOURLY_LAG_HOURS,
        pageSize: v.RECONCILER_PAGE_SIZE,
        lookupConcurrency: v.RECONCILER_LOOKUP_CONCURRENCY,
        crmLagMinutes: v.RECONCILER_CRM_LAG_MINUTES,
        opsWebhookUrl: v.RECONCILER_OPS_WEBHOOK_URL,
      },
    };
  },
});

/** The sections the reconciler loads besides the shared one. */
export const RECONCILER_SECTIONS = [SOURCES_CONFIG, RECONCILER_CONFIG] as const;

export type ReconcilerConfig = SharedConfig &
  SourcesConfig &
  SectionConfig<typeof RECONCILER_CONFIG>;

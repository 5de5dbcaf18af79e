import { configSection, httpUrl, integer } from '@raise-sync/shared/config';

/** The variables of the backfill and replay CLIs (besides ADMIN_TOKEN, declared in libs/shared). */
export const BACKFILLER_CLI_CONFIG = configSection({
  owner: 'apps/backfiller CLIs',
  variables: {
    BACKFILLER_URL: httpUrl({
      default: 'http://127.0.0.1:3004',
      description: "the backfiller's admin API, for `backfill.cli.js` and `replay.cli.js`",
    }),
    BACKFILL_CLI_REFRESH_MS: integer({
      default: 1000,
      min: 200,
      max: 60_000,
      description: '`backfill.cli.js --wait/--watch`: how often progress is read',
    }),
    REPLAY_CLI_REFRESH_MS: integer({
      default: 1000,
      min: 200,
      max: 60_000,
      description: '`replay.cli.js --wait/--watch`: how often progress is read',
    }),
    REPLAY_CLI_STEP_PERCENT: integer({
      default: 10,
      min: 1,
      max: 100,
      description: '`replay.cli.js` off a terminal: a progress line every this many percent',
    }),
  },
  build: (v) => ({
    url: v.BACKFILLER_URL,
    backfillRefreshMs: v.BACKFILL_CLI_REFRESH_MS,
    replayRefreshMs: v.REPLAY_CLI_REFRESH_MS,
    replayStepPercent: v.REPLAY_CLI_STEP_PERCENT,
  }),
});

import { configSection, httpUrl } from '@raise-sync/shared/config';

/** The variables of the erasure CLI (besides ADMIN_TOKEN, declared in libs/shared). */
export const INGEST_CLI_CONFIG = configSection({
  owner: 'apps/ingest CLI',
  variables: {
    INGEST_URL: httpUrl({
      default: 'http://127.0.0.1:3001',
      description: "ingest's admin API, for `erase-donor.cli.js`",
    }),
  },
  build: (v) => ({ url: v.INGEST_URL }),
});

import { configSection, httpUrl } from '@raise-sync/shared/config';

/** The variables of the dead-letter CLI (besides ADMIN_TOKEN, declared in libs/shared). */
export const SUBMITTER_CLI_CONFIG = configSection({
  owner: 'apps/submitter CLI',
  variables: {
    SUBMITTER_URL: httpUrl({
      default: 'http://127.0.0.1:3002',
      description: "the submitter's admin API, for `dead-letters.cli.js`",
    }),
  },
  build: (v) => ({ url: v.SUBMITTER_URL }),
});

import { configSection, httpUrl } from '@raise-sync/shared/config';

/** The variables of the reconcile CLI (besides ADMIN_TOKEN, declared in libs/shared). */
export const RECONCILER_CLI_CONFIG = configSection({
  owner: 'apps/reconciler CLI',
  variables: {
    RECONCILER_URL: httpUrl({
      default: 'http://127.0.0.1:3003',
      description: "the reconciler's admin API, for `reconcile.cli.js`",
    }),
  },
  build: (v) => ({ url: v.RECONCILER_URL }),
});

/**
 * Every service's config declarations, for the deployment tests: which variables exist, which
 * are required or secret, and which sections each service loads. The apps' declarations are
 * read from their sources (pure data, no Nest module is imported).
 */
import {
  SHARED_CONFIG,
  variablesOf,
  type AnyConfigSection,
  type Variable,
} from '@raise-sync/shared/config';
/* eslint-disable @nx/enforce-module-boundaries -- a test reads the apps' declarations */
import { BACKFILLER_SECTIONS } from '../../apps/backfiller/src/backfiller.config';
import { BACKFILLER_CLI_CONFIG } from '../../apps/backfiller/src/cli.config';
import { RECONCILER_CLI_CONFIG } from '../../apps/reconciler/src/cli.config';
import { SUBMITTER_CLI_CONFIG } from '../../apps/submitter/src/cli.config';
import { INGEST_CLI_CONFIG } from '../../apps/ingest/src/cli.config';
import { INGEST_SECTIONS } from '../../apps/ingest/src/ingest.config';
import { RECONCILER_SECTIONS } from '../../apps/reconciler/src/reconciler.config';
import { SUBMITTER_SECTIONS } from '../../apps/submitter/src/submitter.config';
/* eslint-enable @nx/enforce-module-boundaries */

export const SERVICES = ['ingest', 'submitter', 'reconciler', 'backfiller'] as const;
export type Service = (typeof SERVICES)[number];

/** The sections each service loads, the shared one first. */
export const SECTIONS_OF: Readonly<Record<Service, readonly AnyConfigSection[]>> = {
  ingest: [SHARED_CONFIG, ...INGEST_SECTIONS],
  submitter: [SHARED_CONFIG, ...SUBMITTER_SECTIONS],
  reconciler: [SHARED_CONFIG, ...RECONCILER_SECTIONS],
  backfiller: [SHARED_CONFIG, ...BACKFILLER_SECTIONS],
};

/** The operator CLIs' own sections (each CLI also reads ADMIN_TOKEN, declared in libs/shared). */
export const CLI_SECTIONS: readonly AnyConfigSection[] = [
  SUBMITTER_CLI_CONFIG,
  RECONCILER_CLI_CONFIG,
  BACKFILLER_CLI_CONFIG,
  INGEST_CLI_CONFIG,
];

/** Every section once, in the order the docs list them: the services', then the CLIs'. */
export const ALL_SECTIONS: readonly AnyConfigSection[] = [
  ...new Set(SERVICES.flatMap((service) => SECTIONS_OF[service])),
  ...CLI_SECTIONS,
];

/** Every declared variable by name (throws if two sections declare one name). */
export const VARIABLES: ReadonlyMap<string, Variable<unknown> & { owner: string }> =
  variablesOf(ALL_SECTIONS);

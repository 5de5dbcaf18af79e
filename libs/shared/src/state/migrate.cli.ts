/**
 * Runs the state store's migrations: `node .../migrate.cli.js up|down|status` with DATABASE_URL set.
 * (`npm run migrate` / `npm run migrate:revert` build first and call this.)
 */
import { configSection, loadConfig, SHARED_CONFIG } from '../config';
import { appliedMigrations, revertAllMigrations, runMigrations } from './data-source';

/** DATABASE_URL as the services declare it (libs/shared), the one variable this CLI reads. */
const DATABASE_ONLY = configSection({
  owner: SHARED_CONFIG.owner,
  variables: { DATABASE_URL: SHARED_CONFIG.variables.DATABASE_URL },
  build: (v) => ({ url: v.DATABASE_URL }),
});

async function main(): Promise<void> {
  const command = process.argv[2] ?? 'up';
  const { url } = loadConfig(process.env, [DATABASE_ONLY]);
  if (command === 'up') {
    const ran = await runMigrations(url);
    console.log(ran.length ? `applied: ${ran.join(', ')}` : 'database is up to date');
  } else if (command === 'down') {
    console.log(`reverted ${await revertAllMigrations(url)} migration(s)`);
  } else if (command === 'status') {
    console.log((await appliedMigrations(url)).join('\n') || 'no migrations applied');
  } else {
    throw new Error(`unknown command '${command}': use up, down or status`);
  }
}

main().catch((error: unknown) => {
  console.error(`migration failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

/**
 * Runs the state store's migrations: `node .../migrate.cli.js up|down|status` with DATABASE_URL set.
 * (`npm run migrate` / `npm run migrate:revert` build first and call this.)
 */
import { appliedMigrations, revertAllMigrations, runMigrations } from './data-source';

async function main(): Promise<void> {
  const command = process.argv[2] ?? 'up';
  const url = process.env['DATABASE_URL'];
  if (!url) {
    throw new Error(
      'DATABASE_URL is not set; point it at the PostgreSQL database to migrate (postgres://...)',
    );
  }
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

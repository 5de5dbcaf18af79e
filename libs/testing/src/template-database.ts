import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { MIGRATIONS, runMigrations } from '@raise-sync/shared/state';

/** Replaces the database name in a postgres:// URL. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Template name changes whenever the list of migrations changes, so stale templates are never used. */
export function templateDatabaseName(): string {
  const names = MIGRATIONS.map((m) => m.name).join(',');
  return `raise_sync_tpl_${createHash('sha256').update(names).digest('hex').slice(0, 8)}`;
}

/**
 * Makes sure a template database with every migration applied exists, so each test file can
 * clone it in well under a second. Safe to call from several processes at once (advisory lock).
 */
export async function ensureTemplateDatabase(adminUrl: string): Promise<string> {
  const template = templateDatabaseName();
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query('SELECT pg_advisory_lock(hashtext($1))', [template]);
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (exists.rowCount === 0) {
      const building = `${template}_build`;
      await admin.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${building}`);
      await runMigrations(withDatabase(adminUrl, building));
      // Rename only when complete: a crash mid-way never leaves a half-migrated template.
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${template}`);
    }
    await admin.query('SELECT pg_advisory_unlock(hashtext($1))', [template]);
    return template;
  } finally {
    await admin.end();
  }
}

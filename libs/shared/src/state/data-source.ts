import { DataSource, type DataSourceOptions } from 'typeorm';
import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import {
  AuditLogEntity,
  BackfillJobEntity,
  CheckpointEntity,
  CustomerEntity,
  DeadLetterEntity,
  DestinationEntity,
  ReconciliationRunEntity,
  SyncRecordEntity,
  WriteIntentEntity,
  CustomerSourceEntity,
  PollScheduleEntity,
  WebhookDeliveryEntity,
  BackfillRunEntity,
  ReconciliationScheduleEntity,
  ReconciliationDiscrepancyEntity,
  ReconciliationAlertEntity,
  ConsoleTokenEntity,
  ReplayRunEntity,
} from './entities';
import { MIGRATIONS } from './migrations';

export const ENTITIES = [
  CustomerEntity,
  DestinationEntity,
  SyncRecordEntity,
  CheckpointEntity,
  BackfillJobEntity,
  DeadLetterEntity,
  ReconciliationRunEntity,
  AuditLogEntity,
  WriteIntentEntity,
  CustomerSourceEntity,
  PollScheduleEntity,
  WebhookDeliveryEntity,
  BackfillRunEntity,
  ReconciliationScheduleEntity,
  ReconciliationDiscrepancyEntity,
  ReconciliationAlertEntity,
  ConsoleTokenEntity,
  ReplayRunEntity,
];

export { MIGRATIONS };

/** TypeORM options for the state store. The schema comes only from migrations (never synchronize). */
export function dataSourceOptions(
  databaseUrl: string,
  overrides: Partial<PostgresConnectionOptions> = {},
): DataSourceOptions {
  return {
    type: 'postgres',
    url: databaseUrl,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsRun: false,
    synchronize: false,
    extra: { max: 10, connectionTimeoutMillis: 5000 },
    ...overrides,
  };
}

async function withDataSource<T>(
  databaseUrl: string,
  work: (ds: DataSource) => Promise<T>,
): Promise<T> {
  const ds = new DataSource(dataSourceOptions(databaseUrl, { extra: { max: 1 } }));
  await ds.initialize();
  try {
    return await work(ds);
  } finally {
    await ds.destroy();
  }
}

/** Applies pending migrations; returns their names. */
export async function runMigrations(databaseUrl: string): Promise<string[]> {
  return withDataSource(databaseUrl, async (ds) =>
    (await ds.runMigrations({ transaction: 'each' })).map((m) => m.name),
  );
}

/** Reverts every applied migration, newest first; returns how many were reverted. */
export async function revertAllMigrations(databaseUrl: string): Promise<number> {
  return withDataSource(databaseUrl, async (ds) => {
    let reverted = 0;
    const applied = async (): Promise<number> => {
      const rows = (await ds
        .query('SELECT count(*)::int AS n FROM migrations')
        .catch(() => [])) as Array<{ n: number }>;
      return rows[0]?.n ?? 0;
    };
    while ((await applied()) > 0) {
      await ds.undoLastMigration({ transaction: 'each' });
      reverted += 1;
    }
    return reverted;
  });
}

/** Reverts the `count` newest applied migrations, newest first (an upgrade test's old schema). */
export async function revertMigrations(databaseUrl: string, count: number): Promise<void> {
  await withDataSource(databaseUrl, async (ds) => {
    for (let i = 0; i < count; i += 1) {
      await ds.undoLastMigration({ transaction: 'each' });
    }
  });
}

/** Names of applied migrations, oldest first (empty when none ran yet). */
export async function appliedMigrations(databaseUrl: string): Promise<string[]> {
  return withDataSource(databaseUrl, async (ds) => {
    const rows = (await ds
      .query('SELECT name FROM migrations ORDER BY id')
      .catch(() => [])) as Array<{ name: string }>;
    return rows.map((r) => r.name);
  });
}

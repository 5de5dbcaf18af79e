import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { useTestStack, withDatabase } from '@raise-sync/testing';
import { SecretBox } from '../crypto/secret-box';
import {
  appliedMigrations,
  dataSourceOptions,
  MIGRATIONS,
  revertAllMigrations,
  runMigrations,
} from './data-source';
import { customerScope } from './customer-scope';
import { DestinationEntity } from './entities';
import { CheckpointRepository, CustomerRepository, SyncRecordRepository } from './repositories';

const TABLES = [
  'audit_log',
  'backfill_jobs',
  'backfill_runs',
  'checkpoints',
  'console_tokens',
  'cross_product_arrivals',
  'customer_purges',
  'customer_sources',
  'customers',
  'dead_letters',
  'delivery_counts',
  'destination_breakers',
  'destinations',
  'donor_erasures',
  'poll_schedule',
  'reconciliation_alerts',
  'reconciliation_discrepancies',
  'reconciliation_runs',
  'reconciliation_schedules',
  'related_records',
  'replay_runs',
  'retry_entries',
  'source_fix_holds',
  'source_rate_buckets',
  'sync_records',
  'webhook_deliveries',
  'webhook_last_deliveries',
  'write_intents',
];

async function tablesIn(url: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations' ORDER BY 1`,
    );
    return rows.map((r) => r.table_name);
  } finally {
    await client.end();
  }
}

describe('state store on real PostgreSQL', () => {
  const stack = useTestStack();
  const box = new SecretBox(randomBytes(32));

  describe('migrations', () => {
    const name = `m${randomBytes(4).toString('hex')}`;
    const url = (): string => withDatabase(process.env['DATABASE_URL'] as string, name);
    const admin = async (sql: string): Promise<void> => {
      const client = new Client({ connectionString: process.env['DATABASE_URL'] });
      await client.connect();
      await client.query(sql).finally(() => client.end());
    };
    beforeAll(() => admin(`CREATE DATABASE ${name}`));
    afterAll(() => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));

    it('run up, all the way down, and up again', async () => {
      expect(await runMigrations(url())).toEqual(MIGRATIONS.map((m) => m.name));
      expect(await tablesIn(url())).toEqual(TABLES);
      expect(await runMigrations(url())).toEqual([]); // idempotent

      expect(await revertAllMigrations(url())).toBe(MIGRATIONS.length);
      expect(await tablesIn(url())).toEqual([]);
      expect(await appliedMigrations(url())).toEqual([]);

      await runMigrations(url());
      expect(await tablesIn(url())).toEqual(TABLES);
    });

    it('every mapped entity column exists in the migrated schema with the same nullability', async () => {
      const source = new DataSource(dataSourceOptions(url()));
      await source.initialize();
      const client = new Client({ connectionString: url() });
      await client.connect();
      try {
        const { rows } = await client.query<{ t: string; c: string; nullable: string }>(
          `SELECT table_name AS t, column_name AS c, is_nullable AS nullable
             FROM information_schema.columns WHERE table_schema = 'public'`,
        );
        const actual = new Map(rows.map((r) => [`${r.t}.${r.c}`, r.nullable === 'YES']));
        const problems: string[] = [];
        for (const meta of source.entityMetadatas) {
          for (const column of meta.columns) {
            const key = `${meta.tableName}.${column.databaseName}`;
            if (!actual.has(key)) {
              problems.push(`${key} is mapped but missing`);
            } else if (actual.get(key) !== column.isNullable && !column.isPrimary) {
              problems.push(`${key} nullability differs`);
            }
          }
        }
        expect(problems).toEqual([]);
      } finally {
        await client.end();
        await source.destroy();
      }
    });
  });

  it('stores credentials encrypted: the bytes in the table do not contain the token', async () => {
    const customers = new CustomerRepository(stack.dataSource, box);
    const token = 'tok_live_PLAINTEXT_123';
    const customer = await customers.create(customerScope(randomUUID()), {
      name: 'Hope Shelter',
      credentials: { raise: { apiToken: token, webhookSecret: 'whsec_abc' } },
    });

    const client = new Client({ connectionString: stack.databaseUrl });
    await client.connect();
    const raw = await client.query<{ credentials: Buffer; as_text: string }>(
      'SELECT credentials, credentials::text AS as_text FROM customers WHERE id = $1',
      [customer.id],
    );
    await client.end();
    const row = raw.rows[0];
    expect(row?.credentials.includes(Buffer.from(token))).toBe(false);
    expect(row?.credentials.includes(Buffer.from('whsec_abc'))).toBe(false);
    expect(row?.as_text).not.toContain('PLAINTEXT');
    expect(await customers.credentials(customerScope(customer.id))).toEqual({
      raise: { apiToken: token, webhookSecret: 'whsec_abc' },
    });
  });

  it('refuses a status outside the allowed set', async () => {
    await expect(
      stack.dataSource.query(`INSERT INTO customers (name, status) VALUES ('x', 'deleted')`),
    ).rejects.toThrow(/check constraint/);
  });

  it('removes sync state and audit rows with their customer or destination (triggers, not keys)', async () => {
    const customers = new CustomerRepository(stack.dataSource, box);
    const destinations = stack.dataSource.getRepository(DestinationEntity);
    const add = async (name: string) => {
      const customer = await customers.create(customerScope(randomUUID()), { name });
      const [crm, dw] = await destinations.save([
        destinations.create({ customerId: customer.id, kind: 'crm-plus', name: 'crm', config: {} }),
        destinations.create({ customerId: customer.id, kind: 'warehouse', name: 'dw', config: {} }),
      ]);
      for (const destination of [crm, dw]) {
        await stack.dataSource.query(
          `INSERT INTO sync_records (customer_id, resource, source_id, destination_id, status, source_modified_at)
           VALUES ($1, 'gift', '900113', $2, 'confirmed', now())`,
          [customer.id, destination?.id],
        );
        for (const [from, to] of [
          [null, 'pending'],
          ['pending', 'confirmed'],
        ]) {
          await stack.dataSource.query(
            `INSERT INTO audit_log (customer_id, resource, source_id, destination_id, action, from_status, to_status)
             VALUES ($1, 'gift', '900113', $2, 'sync-state', $3, $4)`,
            [customer.id, destination?.id, from, to],
          );
        }
      }
      return { customer, crm: crm as DestinationEntity, dw: dw as DestinationEntity };
    };
    const riverside = await add('Riverside Food Bank');
    const other = await add('Trail Keepers');
    const state = async (customerId: string) =>
      stack.dataSource.query<Array<{ destination_id: string }>>(
        `SELECT destination_id FROM sync_records WHERE customer_id = $1 ORDER BY destination_id`,
        [customerId],
      );
    const records = new SyncRecordRepository(stack.dataSource);

    await destinations.delete({ id: riverside.crm.id });
    expect(await state(riverside.customer.id)).toEqual([{ destination_id: riverside.dw.id }]);
    // The audit trail outlives the destination, without its ID, in the order it was written.
    const history = await records.history(customerScope(riverside.customer.id), 'gift', '900113');
    expect(history.map((h) => [h.destinationId, h.fromStatus, h.toStatus])).toEqual([
      [null, null, 'pending'],
      [null, 'pending', 'confirmed'],
      [riverside.dw.id, null, 'pending'],
      [riverside.dw.id, 'pending', 'confirmed'],
    ]);

    await stack.dataSource.query(`DELETE FROM customers WHERE id = $1`, [riverside.customer.id]);
    expect(await state(riverside.customer.id)).toEqual([]);
    expect(await records.history(customerScope(riverside.customer.id), 'gift', '900113')).toEqual(
      [],
    );
    // The other customer keeps everything.
    expect(await state(other.customer.id)).toHaveLength(2);
    expect(await records.history(customerScope(other.customer.id), 'gift', '900113')).toHaveLength(
      4,
    );
  });

  it('moves checkpoints forward only, by the record timestamp and then its ID', async () => {
    const customer = await new CustomerRepository(stack.dataSource, box).create(
      customerScope(randomUUID()),
      {
        name: 'Trail Keepers',
      },
    );
    const checkpoints = new CheckpointRepository(stack.dataSource);
    const t = (iso: string): Date => new Date(iso);

    await checkpoints.advance(customerScope(customer.id), 'raise', 'gift', 'inbound', {
      at: t('2026-11-20T10:00:00Z'),
      id: '9',
    });
    await checkpoints.advance(customerScope(customer.id), 'raise', 'gift', 'inbound', {
      at: t('2026-11-20T10:00:00Z'),
      id: '10',
    }); // same time, later ID
    const back = await checkpoints.advance(customerScope(customer.id), 'raise', 'gift', 'inbound', {
      at: t('2026-11-20T09:00:00Z'),
      id: '99',
    });

    expect(back).toEqual({ at: t('2026-11-20T10:00:00Z'), id: '10' });
    expect(await checkpoints.get(customerScope(customer.id), 'gift', 'inbound')).toEqual({
      at: t('2026-11-20T10:00:00Z'),
      id: '10',
    });
    expect(await checkpoints.get(customerScope(customer.id), 'gift', 'outbound')).toBeNull();
  });

  it('works through a TypeORM DataSource built from dataSourceOptions (what the apps use)', async () => {
    const ds = await new DataSource(dataSourceOptions(stack.databaseUrl)).initialize();
    try {
      expect(await ds.showMigrations()).toBe(false); // nothing pending in a template clone
    } finally {
      await ds.destroy();
    }
  });
});

import { RecordRejectedError } from '@raise-sync/shared';
import { MIGRATIONS } from '@raise-sync/shared/state';
import { useTestStack } from '@raise-sync/testing';
import { Pool } from 'pg';
import {
  CUSTOMER_ID,
  OTHER_CUSTOMER_ID,
  contextFor,
  deleteEvent,
  upsertEvent,
} from '../../test/fixtures';
import { SUPERSEDED } from '../adapter-support';
import { WarehouseAdapter } from './warehouse.adapter';
import { WAREHOUSE_TABLES } from './warehouse.tables';

const at = (iso: string) => new Date(iso);
const T1 = at('2026-11-20T10:00:00.000Z');
const T2 = at('2026-11-20T11:00:00.000Z');
const T3 = at('2026-11-20T12:00:00.000Z');

describe(WarehouseAdapter.name, () => {
  const stack = useTestStack();
  const ctx = contextFor('warehouse', {}, {});
  let warehouse: WarehouseAdapter;

  beforeAll(() => {
    warehouse = new WarehouseAdapter(stack.dataSource);
  });

  const row = async (table: string, sourceId: string, customerId = CUSTOMER_ID) => {
    const rows = await stack.dataSource.query<Array<Record<string, unknown>>>(
      `SELECT * FROM warehouse.${table} WHERE customer_id = $1 AND source_id = $2`,
      [customerId, sourceId],
    );
    return rows[0];
  };

  it('upserts a batch of every resource into typed columns', async () => {
    const donorRaw = JSON.stringify({
      id: 1,
      primaryAddress: { city: 'Austin', state: 'TX', postal: '78701', countryString: 'US' },
    });
    const giftRaw = JSON.stringify({
      id: 1,
      segment: 'WEB',
      projects: [{ projectId: 7, name: 'Clean Water' }],
    });
    const events = [
      upsertEvent('donor', { id: 'd1', raw: donorRaw }),
      upsertEvent('gift', { id: 'g1', raw: giftRaw }),
      upsertEvent('recurring_gift', { id: 'r1' }),
      upsertEvent('campaign', { id: 'c1' }),
      upsertEvent('user', { id: 'u1' }),
    ];
    const results = await warehouse.deliver(ctx, events);
    expect(results).toEqual([
      { outcome: 'delivered', destinationRecordId: 'raise_donor/d1' },
      { outcome: 'delivered', destinationRecordId: 'raise_gift/g1' },
      { outcome: 'delivered', destinationRecordId: 'raise_recurring_gift/r1' },
      { outcome: 'delivered', destinationRecordId: 'raise_campaign/c1' },
      { outcome: 'delivered', destinationRecordId: 'vomo_user/u1' },
    ]);

    expect(await row('raise_gift', 'g1')).toMatchObject({
      customer_id: CUSTOMER_ID,
      source_id: 'g1',
      donor_id: '48213',
      amount: '125.50',
      currency: 'USD',
      gift_date: new Date('2026-11-20T09:12:00.000Z'),
      status_text: 'Success',
      is_test_mode: false,
      donor_email: 'ada@example.org',
      modified_date: new Date('2026-11-20T09:12:04.250Z'),
      segment: 'WEB',
      project_count: 1,
      first_project_id: '7',
      first_project_name: 'Clean Water',
      source_modified_at: T1,
      event_id: events[1]?.eventId,
      deleted_at: null,
      raw: { id: 1, segment: 'WEB', projects: [{ projectId: 7, name: 'Clean Water' }] },
    });
    expect(await row('raise_donor', 'd1')).toMatchObject({
      first_name: 'Ada',
      email_opt_in: true,
      is_organization: false,
      created_date: new Date('2026-01-04T10:00:00.000Z'),
      address_city: 'Austin',
      address_state: 'TX',
      address_postal: '78701',
      address_country: 'US',
    });
    expect(await row('raise_recurring_gift', 'r1')).toMatchObject({
      amount: '20.00',
      frequency_text: 'Monthly',
      // pg reads `date` as midnight in the process time zone (UTC in tests).
      start_date: new Date('2026-02-01T00:00:00.000Z'),
      next_charge_date: new Date('2026-12-01T00:00:00.000Z'),
    });
    expect(await row('raise_campaign', 'c1')).toMatchObject({
      name: 'Winter Appeal',
      can_sync: false,
      end_date: new Date('2026-12-31T00:00:00.000Z'),
    });
    expect(await row('vomo_user', 'u1')).toMatchObject({
      email: 'grace@example.org',
      membership_role: 'VOLUNTEER',
    });

    const synced = await row('vomo_user', 'u1');
    expect(synced?.synced_at).toBeInstanceOf(Date);
  });

  it('never lets an older event overwrite newer data', async () => {
    await warehouse.deliver(ctx, [
      upsertEvent('gift', { id: 'g2', amount: '20.00' }, { modifiedAt: T2 }),
    ]);
    const [stale] = await warehouse.deliver(ctx, [
      upsertEvent('gift', { id: 'g2', amount: '10.00' }, { modifiedAt: T1 }),
    ]);
    expect(stale).toEqual({
      outcome: 'skipped',
      reason: 'the warehouse already holds a newer version of this record',
    });
    expect(await row('raise_gift', 'g2')).toMatchObject({
      amount: '20.00',
      source_modified_at: T2,
    });

    const [same] = await warehouse.deliver(ctx, [
      upsertEvent('gift', { id: 'g2', amount: '20.00' }, { modifiedAt: T2 }),
    ]);
    expect(same).toMatchObject({ outcome: 'delivered' });
    await warehouse.deliver(ctx, [
      upsertEvent('gift', { id: 'g2', amount: '30.00' }, { modifiedAt: T3 }),
    ]);
    expect(await row('raise_gift', 'g2')).toMatchObject({
      amount: '30.00',
      source_modified_at: T3,
    });
  });

  it('soft-deletes: keeps the data, stamps deleted_at, and only when newer', async () => {
    await warehouse.deliver(ctx, [upsertEvent('donor', { id: 'd2' }, { modifiedAt: T1 })]);
    const [deleted] = await warehouse.deliver(ctx, [
      deleteEvent('donor', 'd2', { modifiedAt: T2 }),
    ]);
    expect(deleted).toMatchObject({ outcome: 'delivered' });
    expect(await row('raise_donor', 'd2')).toMatchObject({
      first_name: 'Ada',
      deleted_at: T2,
      source_modified_at: T2,
    });

    const [late] = await warehouse.deliver(ctx, [
      upsertEvent('donor', { id: 'd2', firstName: 'Late' }, { modifiedAt: T1 }),
    ]);
    expect(late).toMatchObject({ outcome: 'skipped' });
    expect(await row('raise_donor', 'd2')).toMatchObject({ first_name: 'Ada', deleted_at: T2 });

    await warehouse.deliver(ctx, [
      upsertEvent('donor', { id: 'd2', firstName: 'Back' }, { modifiedAt: T3 }),
    ]);
    expect(await row('raise_donor', 'd2')).toMatchObject({ first_name: 'Back', deleted_at: null });
  });

  it('leaves a tombstone for a delete of a record it never saw, so an older upsert cannot revive it', async () => {
    await warehouse.deliver(ctx, [deleteEvent('campaign', 'c9', { modifiedAt: T2 })]);
    expect(await row('raise_campaign', 'c9')).toMatchObject({
      name: null,
      deleted_at: T2,
      raw: null,
    });
    const [late] = await warehouse.deliver(ctx, [
      upsertEvent('campaign', { id: 'c9' }, { modifiedAt: T1 }),
    ]);
    expect(late).toMatchObject({ outcome: 'skipped' });
    await expect(warehouse.lookup(ctx, 'campaign', 'c9')).resolves.toEqual({
      exists: true,
      deleted: true,
      destinationRecordId: 'raise_campaign/c9',
      sourceModifiedAt: T2,
    });
  });

  it('writes only the newest of several events of one record in a batch, answering every event', async () => {
    const events = [
      upsertEvent('gift', { id: 'g3', amount: '1.00' }, { modifiedAt: T1 }),
      upsertEvent('gift', { id: 'g4', amount: '4.00' }, { modifiedAt: T1 }),
      upsertEvent('gift', { id: 'g3', amount: '3.00' }, { modifiedAt: T3 }),
      upsertEvent('gift', { id: 'g3', amount: '2.00' }, { modifiedAt: T2 }),
      deleteEvent('gift', 'g4', { modifiedAt: T2 }),
    ];
    const results = await warehouse.deliver(ctx, events);
    expect(results).toEqual([
      SUPERSEDED,
      SUPERSEDED,
      { outcome: 'delivered', destinationRecordId: 'raise_gift/g3' },
      SUPERSEDED,
      { outcome: 'delivered', destinationRecordId: 'raise_gift/g4' },
    ]);
    expect(await row('raise_gift', 'g3')).toMatchObject({
      amount: '3.00',
      event_id: events[2]?.eventId,
    });
    expect(await row('raise_gift', 'g4')).toMatchObject({ deleted_at: T2, amount: null });
  });

  it('keeps customers apart', async () => {
    await warehouse.deliver(contextFor('warehouse', {}, {}, { customerId: OTHER_CUSTOMER_ID }), [
      upsertEvent(
        'user',
        { id: 'shared', email: 'other@example.org' },
        { customerId: OTHER_CUSTOMER_ID },
      ),
    ]);
    await warehouse.deliver(ctx, [upsertEvent('user', { id: 'shared' })]);
    expect(await row('vomo_user', 'shared')).toMatchObject({ email: 'grace@example.org' });
    expect(await row('vomo_user', 'shared', OTHER_CUSTOMER_ID)).toMatchObject({
      email: 'other@example.org',
    });
  });

  it('rejects only the row PostgreSQL refuses and writes the rest of the batch', async () => {
    const results = await warehouse.deliver(ctx, [
      upsertEvent('gift', { id: 'ok1' }),
      // Year 275760: a valid JS date that PostgreSQL's timestamptz cannot hold.
      upsertEvent('gift', { id: 'bad', createdDate: new Date(8.64e15) }),
      upsertEvent('gift', {
        id: 'odd',
        raw: '{"note":"\\ud800 \\u0000"}',
        campaignName: 'a\u0000b',
      }),
      upsertEvent('gift', { id: 'ok2' }),
    ]);
    expect(results[0]).toMatchObject({ outcome: 'delivered' });
    expect(results[1]).toBeInstanceOf(RecordRejectedError);
    expect((results[1] as Error).message).toMatch(/warehouse refused gift bad/);
    expect(results[2]).toMatchObject({ outcome: 'delivered' });
    expect(results[3]).toMatchObject({ outcome: 'delivered' });
    expect(await row('raise_gift', 'bad')).toBeUndefined();
    // What PostgreSQL cannot store in text/jsonb (NUL, lone surrogates) is cleaned, not refused.
    expect(await row('raise_gift', 'odd')).toMatchObject({
      campaign_name: 'ab',
      raw: { note: '\ufffd ' },
    });
  });

  it('looks rows up and checks its health, through a DataSource or a pg Pool', async () => {
    await expect(warehouse.lookup(ctx, 'user', 'nobody')).resolves.toEqual({ exists: false });
    await expect(warehouse.health(ctx)).resolves.toBeUndefined();
    const pool = new Pool({ connectionString: stack.databaseUrl, max: 2 });
    try {
      const viaPool = new WarehouseAdapter(pool);
      await expect(viaPool.lookup(ctx, 'gift', 'g2')).resolves.toEqual({
        exists: true,
        deleted: false,
        destinationRecordId: 'raise_gift/g2',
        sourceModifiedAt: T3,
      });
      await expect(viaPool.health(ctx)).resolves.toBeUndefined();
    } finally {
      await pool.end();
    }
  });

  it('looks many rows of one resource up in one query (reconciliation)', async () => {
    const found = await warehouse.lookupMany(ctx, 'gift', ['g2', 'g4', 'nobody']);
    expect([...found.keys()].sort()).toEqual(['g2', 'g4']);
    expect(found.get('g2')).toEqual(await warehouse.lookup(ctx, 'gift', 'g2'));
    expect(found.get('g4')).toMatchObject({ exists: true, deleted: true });
    await expect(warehouse.lookupMany(ctx, 'gift', [])).resolves.toEqual(new Map());
  });

  it('returns only the records it does not hold at the given version (reconciliation)', async () => {
    const later = new Date(T3.getTime() + 1);
    const behind = await warehouse.behind(ctx, 'gift', [
      { sourceId: 'g2', sourceModifiedAt: T3 }, // held at this version
      { sourceId: 'g3', sourceModifiedAt: T2 }, // held at a newer one
      { sourceId: 'g3x', sourceModifiedAt: T1 }, // never delivered
      { sourceId: 'g2', sourceModifiedAt: later }, // held at an older one
      { sourceId: 'g4', sourceModifiedAt: T1 }, // soft-deleted
    ]);
    expect([...behind.keys()].sort()).toEqual(['g2', 'g3x', 'g4']);
    expect(behind.get('g3x')).toEqual({ exists: false });
    expect(behind.get('g2')).toEqual(await warehouse.lookup(ctx, 'gift', 'g2'));
    expect(behind.get('g4')).toMatchObject({ exists: true, deleted: true });
    await expect(warehouse.behind(ctx, 'gift', [])).resolves.toEqual(new Map());
  });

  it('has a migration that reverts and re-applies cleanly', async () => {
    const runner = stack.dataSource.createQueryRunner();
    await runner.startTransaction();
    try {
      const Migration = MIGRATIONS.find((m) => m.name === 'CreateWarehouse1763800003000');
      if (!Migration) {
        throw new Error('CreateWarehouse1763800003000 is not in the migration list');
      }
      const migration = new Migration();
      await migration.down(runner);
      const gone = (await runner.query(`SELECT to_regnamespace('warehouse') AS schema`)) as Array<{
        schema: unknown;
      }>;
      expect(gone[0]?.schema).toBeNull();
      await migration.up(runner);
      const tables = (await runner.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'warehouse' ORDER BY 1`,
      )) as Array<{ table_name: string }>;
      expect(tables.map((t) => t.table_name)).toEqual(
        Object.values(WAREHOUSE_TABLES)
          .map((t) => t.name)
          .sort(),
      );
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it('measures throughput: 20k gifts in batches of 1000', async () => {
    const total = 20_000;
    const batchSize = 1000;
    const batches = Array.from({ length: total / batchSize }, (_, b) =>
      Array.from({ length: batchSize }, (_, i) => {
        const id = 1_000_000 + b * batchSize + i;
        return upsertEvent(
          'gift',
          {
            id: String(id),
            amount: `${id % 500}.25`,
            raw: JSON.stringify({
              id,
              amount: (id % 500) + 0.25,
              projects: [{ projectId: 7, name: 'General' }],
            }),
          },
          { modifiedAt: T1 },
        );
      }),
    );
    const started = process.hrtime.bigint();
    let delivered = 0;
    for (const events of batches) {
      const results = await warehouse.deliver(ctx, events);
      delivered += results.filter((r) => !(r instanceof Error) && r.outcome === 'delivered').length;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const count = await stack.dataSource.query<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM warehouse.raise_gift WHERE source_id >= '1000000' AND source_id < '1020000'`,
    );
    expect(delivered).toBe(total);
    expect(count[0]?.n).toBe(total);
    process.stdout.write(
      `\nwarehouse throughput: ${total} new gift rows in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} rows/s (batches of ${batchSize})\n`,
    );

    // The same rows again, newer: every row is an update through the ON CONFLICT path.
    const newer = batches.map((events) =>
      events.map((e) => upsertEvent('gift', { ...e.record, amount: '1.00' }, { modifiedAt: T2 })),
    );
    const again = process.hrtime.bigint();
    for (const events of newer) {
      await warehouse.deliver(ctx, events);
    }
    const updateSeconds = Number(process.hrtime.bigint() - again) / 1e9;
    process.stdout.write(
      `warehouse throughput: ${total} updated gift rows in ${updateSeconds.toFixed(2)} s = ${Math.round(total / updateSeconds)} rows/s\n`,
    );
  });
});

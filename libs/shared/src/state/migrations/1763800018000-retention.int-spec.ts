import { useTestStack } from '@raise-sync/testing';
import { Retention1763800018000 } from './1763800018000-retention';

describe('migration Retention1763800018000 (real PostgreSQL)', () => {
  const stack = useTestStack();

  it("backfills each customer's last webhook from the replay records and builds valid indexes; runs again safely", async () => {
    const [row] = await stack.dataSource.query<Array<{ id: string }>>(
      `INSERT INTO customers (name, status) VALUES ('Backfilled Shelter', 'live') RETURNING id`,
    );
    const customerId = row?.id ?? '';
    // Replay records written by the previous release (which kept no last-delivery row).
    await stack.dataSource.query(
      `INSERT INTO webhook_deliveries (customer_id, source, signature_hash, delivery_id, received_at)
       VALUES ($1, 'raise', 'a', 'dlv-old', now() - interval '5 minutes'),
              ($1, 'raise', 'b', 'dlv-new', now() - interval '1 minute')`,
      [customerId],
    );
    const runner = stack.dataSource.createQueryRunner();
    try {
      const migration = new Retention1763800018000();
      expect(migration.transaction).toBe(false); // CREATE INDEX CONCURRENTLY needs it
      await migration.up(runner);
      await migration.up(runner); // interrupted and run again: same result
    } finally {
      await runner.release();
    }
    expect(
      await stack.dataSource.query(
        `SELECT source, delivery_id FROM webhook_last_deliveries WHERE customer_id = $1`,
        [customerId],
      ),
    ).toEqual([{ source: 'raise', delivery_id: 'dlv-new' }]);
    const indexes = await stack.dataSource.query<Array<{ name: string; valid: boolean }>>(
      `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_class c
         JOIN pg_index i ON i.indexrelid = c.oid
        WHERE c.relname = ANY($1::text[]) ORDER BY 1`,
      [
        [
          'ix_audit_log_age',
          'ix_backfill_runs_finished',
          'ix_dead_letters_resolved',
          'ix_reconciliation_alerts_run',
          'ix_reconciliation_runs_finished',
          'ix_replay_runs_finished',
        ],
      ],
    );
    expect(indexes).toHaveLength(6);
    expect(indexes.every((i) => i.valid)).toBe(true);
  });
});

import type { DataSource, EntityManager } from 'typeorm';
import type { CustomerScope } from '../customer-scope';

/** An offboarded customer's purge: when it is due, what it covers, and once done what it removed. */
export interface CustomerPurgeView {
  customerId: string;
  offboardedAt: Date;
  purgeAfter: Date;
  purgeWarehouse: boolean;
  purgedAt: Date | null;
  /** Rows removed per table (the tables emptied in batches; the rest went with the customer row). */
  rowsDeleted: Record<string, number>;
}

/**
 * The tables a purge empties in bounded batches before it deletes the customer row: the ones
 * without a cascading foreign key to `customers` (sync_records, audit_log) and the ones that grow
 * with a customer's traffic. Each has an index that starts with customer_id. Every other table
 * naming a customer cascades from its row, and holds a handful of rows per customer.
 */
const BATCHED_TABLES = [
  'sync_records',
  'audit_log',
  'dead_letters',
  'source_fix_holds',
  'reconciliation_discrepancies',
  'related_records',
  'webhook_deliveries',
  'cross_product_arrivals',
  'write_intents',
  'backfill_jobs',
] as const;

/** The warehouse's tables, emptied of the customer's rows when its purge asks for it. */
const WAREHOUSE_TABLES = [
  'warehouse.raise_gift',
  'warehouse.raise_recurring_gift',
  'warehouse.raise_donor',
  'warehouse.raise_campaign',
  'warehouse.vomo_user',
] as const;

/** What one purge step did (see CustomerPurgeRepository.step). */
export type PurgeStep = 'more' | 'done' | 'not_due';

interface PurgeRow {
  customer_id: string;
  offboarded_at: Date;
  purge_after: Date;
  purge_warehouse: boolean;
  purged_at: Date | null;
  rows_deleted: Record<string, number>;
}

/**
 * The customer_purges table's one owner, and the one writer that removes a customer from every
 * table: offboarding schedules a purge (after a grace period, or at once), and the purge job
 * works it off in steps of at most `batch` rows, each its own short transaction with the purge
 * row locked (SKIP LOCKED: replicas and workers never run the same purge twice at once). The
 * row stays as the record that the purge happened; it holds no data of the customer's.
 */
export class CustomerPurgeRepository {
  constructor(private readonly db: DataSource | EntityManager) {}

  /**
   * Schedules the purge of an offboarded customer, or brings an existing one forward (an earlier
   * time wins; asking for the warehouse once is enough). A finished purge is not touched.
   */
  async schedule(
    { customerId }: CustomerScope,
    purgeAfter: Date,
    purgeWarehouse: boolean,
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO customer_purges AS p (customer_id, purge_after, purge_warehouse)
       VALUES ($1, $2, $3)
       ON CONFLICT (customer_id) DO UPDATE
         SET purge_after = LEAST(p.purge_after, EXCLUDED.purge_after),
             purge_warehouse = p.purge_warehouse OR EXCLUDED.purge_warehouse
         WHERE p.purged_at IS NULL`,
      [customerId, purgeAfter, purgeWarehouse],
    );
  }

  async get({ customerId }: CustomerScope): Promise<CustomerPurgeView | null> {
    const rows: PurgeRow[] = await this.db.query(
      `SELECT customer_id, offboarded_at, purge_after, purge_warehouse, purged_at, rows_deleted
         FROM customer_purges WHERE customer_id = $1`,
      [customerId],
    );
    const row = rows[0];
    return row
      ? {
          customerId: row.customer_id,
          offboardedAt: row.offboarded_at,
          purgeAfter: row.purge_after,
          purgeWarehouse: row.purge_warehouse,
          purgedAt: row.purged_at,
          rowsDeleted: row.rows_deleted,
        }
      : null;
  }

  /** Customers whose purge is due, oldest first. Across customers: the purge job's queue. */
  async dueAcrossCustomers(limit: number): Promise<string[]> {
    const rows: Array<{ customer_id: string }> = await this.db.query(
      `SELECT customer_id FROM customer_purges
        WHERE purged_at IS NULL AND purge_after <= now()
        ORDER BY purge_after LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.customer_id);
  }

  /**
   * One step of a due purge, in one transaction: deletes up to `batch` of the customer's rows
   * from the first batched table (then the warehouse's, when asked) that still has some, or,
   * once none has, the customer row itself (every other table cascades from it) and marks the
   * purge done. 'not_due' when the purge is not due, done, or being stepped by someone else;
   * a customer that is not offboarded (any more) is never purged.
   */
  async step({ customerId }: CustomerScope, batch: number): Promise<PurgeStep> {
    const run = async (tx: EntityManager): Promise<PurgeStep> => {
      const purges: PurgeRow[] = await tx.query(
        `SELECT customer_id, purge_warehouse, rows_deleted FROM customer_purges
          WHERE customer_id = $1 AND purged_at IS NULL AND purge_after <= now()
          FOR UPDATE SKIP LOCKED`,
        [customerId],
      );
      const purge = purges[0];
      if (!purge) {
        return 'not_due';
      }
      const customers: Array<{ status: string }> = await tx.query(
        `SELECT status FROM customers WHERE id = $1`,
        [customerId],
      );
      const status = customers[0]?.status;
      if (status !== undefined && status !== 'offboarded') {
        return 'not_due';
      }
      const counts = { ...purge.rows_deleted };
      const tables = [...BATCHED_TABLES, ...(purge.purge_warehouse ? WAREHOUSE_TABLES : [])];
      for (const table of tables) {
        // (The table names come from the constant lists above, never from a caller.)
        const [, deleted] = await tx.query<[unknown[], number]>(
          `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(
             SELECT ctid FROM ${table} WHERE customer_id = $1 LIMIT $2))`,
          [customerId, batch],
        );
        if (deleted > 0) {
          counts[table] = (counts[table] ?? 0) + deleted;
          await tx.query(`UPDATE customer_purges SET rows_deleted = $2 WHERE customer_id = $1`, [
            customerId,
            JSON.stringify(counts),
          ]);
          return 'more';
        }
      }
      const [, removed] = await tx.query<[unknown[], number]>(
        `DELETE FROM customers WHERE id = $1`,
        [customerId],
      );
      counts['customers'] = (counts['customers'] ?? 0) + removed;
      await tx.query(
        `UPDATE customer_purges SET purged_at = now(), rows_deleted = $2 WHERE customer_id = $1`,
        [customerId, JSON.stringify(counts)],
      );
      return 'done';
    };
    return this.db.transaction(run);
  }
}

import { Injectable } from '@nestjs/common';
import type { CustomerScope, ReconciliationKind } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

/**
 * What the CRM+ consistency check keeps in its reconciliation_schedules row (settings such as
 * `singleProduct`), and the single-product mark that also drops the run's
 * reconciliation_discrepancies.
 */
@Injectable()
export class CrmConsistencyRepository {
  constructor(private readonly db: DataSource) {}

  /** The settings of the customer's schedule of this kind ({} when there is none). */
  async storedSettings(
    { customerId }: CustomerScope,
    kind: ReconciliationKind,
  ): Promise<Record<string, unknown>> {
    const rows = await this.db.query<Array<{ settings: Record<string, unknown> | null }>>(
      `SELECT settings FROM reconciliation_schedules WHERE customer_id = $1 AND kind = $2`,
      [customerId, kind],
    );
    return rows[0]?.settings ?? {};
  }

  /**
   * In one transaction: drops what the run stored so far and merges `mark` into the settings of
   * the customer's schedule of this kind (created with `defaults` when missing).
   */
  async markSingleProduct(
    { customerId }: CustomerScope,
    runId: string,
    kind: ReconciliationKind,
    mark: Record<string, unknown>,
    defaults: { timezone: string; runAtMinute: number },
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `DELETE FROM reconciliation_discrepancies WHERE run_id = $1 AND customer_id = $2`,
        [runId, customerId],
      );
      await tx.query(
        `INSERT INTO reconciliation_schedules
           (customer_id, kind, cadence, timezone, run_at_minute, next_run_at, settings)
         VALUES ($1, $2, 'daily', $3, $4, now() + interval '1 day', $5::jsonb)
         ON CONFLICT (customer_id, kind) DO UPDATE
           SET settings = reconciliation_schedules.settings || EXCLUDED.settings,
               updated_at = now()`,
        [customerId, kind, defaults.timezone, defaults.runAtMinute, JSON.stringify(mark)],
      );
    });
  }
}

import { Injectable } from '@nestjs/common';
import type { AlertDeliveryStatus, AlertSeverity, CustomerScope } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';
import type { AlertRecordRow } from './alert-format';

/**
 * reconciliation_alerts (stored before delivery, then the delivery outcome), and what an alert
 * reads: a run's actionable discrepancies and the customer's name.
 */
@Injectable()
export class AlertRepository {
  constructor(private readonly db: DataSource) {}

  /** How many actionable discrepancies the customer's run stored. */
  async actionableCount({ customerId }: CustomerScope, runId: string): Promise<number> {
    const [{ total }] = await this.db.query<[{ total: number }]>(
      `SELECT count(*)::int AS total FROM reconciliation_discrepancies
        WHERE run_id = $1 AND actionable AND customer_id = $2`,
      [runId, customerId],
    );
    return total;
  }

  /** The first `limit` actionable discrepancies of the customer's run, in the order stored. */
  async actionable(
    { customerId }: CustomerScope,
    runId: string,
    limit: number,
  ): Promise<AlertRecordRow[]> {
    return this.db.query<AlertRecordRow[]>(
      `SELECT resource, source_id, state, details FROM reconciliation_discrepancies
        WHERE run_id = $1 AND actionable AND customer_id = $3 ORDER BY id LIMIT $2`,
      [runId, limit, customerId],
    );
  }

  async customerName({ customerId }: CustomerScope): Promise<string | null> {
    const rows = await this.db.query<Array<{ name: string }>>(
      `SELECT name FROM customers WHERE id = $1`,
      [customerId],
    );
    return rows[0]?.name ?? null;
  }

  /** Stores a new alert (delivery pending). */
  async create(
    { customerId }: CustomerScope,
    input: {
      runId: string;
      severity: AlertSeverity;
      title: string;
      details: Record<string, unknown>;
    },
  ): Promise<{ id: string; created_at: Date }> {
    const [row] = await this.db.query<[{ id: string; created_at: Date }]>(
      `INSERT INTO reconciliation_alerts (run_id, customer_id, severity, title, details)
       VALUES ($1, $2, $3, $4, $5::jsonb)
       RETURNING id, created_at`,
      [input.runId, customerId, input.severity, input.title, JSON.stringify(input.details)],
    );
    return row;
  }

  /** Writes the delivery outcome back to the customer's alert. */
  async recordDelivery(
    { customerId }: CustomerScope,
    alertId: string,
    outcome: { deliveryStatus: AlertDeliveryStatus; attempts: number; lastError: string | null },
  ): Promise<void> {
    await this.db.query(
      `UPDATE reconciliation_alerts
          SET delivery_status = $2, delivery_attempts = $3, last_error = $4,
              delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE NULL END
        WHERE id = $1 AND customer_id = $5`,
      [alertId, outcome.deliveryStatus, outcome.attempts, outcome.lastError, customerId],
    );
  }
}

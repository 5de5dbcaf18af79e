/**
 * The shape of an ops alert (stored in reconciliation_alerts.details and POSTed to the ops URL).
 * Pure functions only, so the format is unit-tested without a database.
 */

/** One discrepancy as read back from reconciliation_discrepancies. */
export interface AlertRecordRow {
  resource: string;
  source_id: string;
  state: string;
  details: Record<string, unknown> | null;
}

export interface RunAlertDetails {
  customer: { id: string; name: string | null };
  kind: string;
  runId: string;
  window: { start: string; end: string };
  counts: Record<string, number>;
  records: {
    /** Every actionable record of the run. */
    total: number;
    /** How many are listed below (capped). */
    shown: number;
    truncated: boolean;
    items: Array<Record<string, unknown>>;
  };
}

/** Keys a record's details may never contribute to an alert, whatever a check stored. */
const NEVER_SENT = new Set(['token', 'apiToken', 'secret', 'password', 'authorization']);

/** One alert line: resource, ID and state first, then the check's details (amount, campaign…). */
export function alertItem(row: AlertRecordRow): Record<string, unknown> {
  const details = Object.fromEntries(
    Object.entries(row.details ?? {}).filter(([key]) => !NEVER_SENT.has(key)),
  );
  return { resource: row.resource, id: row.source_id, state: row.state, ...details };
}

export function runAlertDetails(input: {
  customerId: string;
  customerName: string | null;
  kind: string;
  runId: string;
  windowStart: Date;
  windowEnd: Date;
  counts: Record<string, number>;
  total: number;
  rows: AlertRecordRow[];
}): RunAlertDetails {
  return {
    customer: { id: input.customerId, name: input.customerName },
    kind: input.kind,
    runId: input.runId,
    window: { start: input.windowStart.toISOString(), end: input.windowEnd.toISOString() },
    counts: input.counts,
    records: {
      total: input.total,
      shown: input.rows.length,
      truncated: input.rows.length < input.total,
      items: input.rows.map(alertItem),
    },
  };
}

/** What the ops URL receives: the stored alert with its ID and time. */
export function webhookBody(alert: {
  id: string;
  runId: string;
  customerId: string;
  severity: string;
  title: string;
  createdAt: Date;
  details: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    type: 'raise-sync.reconciliation.alert',
    alertId: alert.id,
    runId: alert.runId,
    customerId: alert.customerId,
    severity: alert.severity,
    title: alert.title,
    createdAt: alert.createdAt.toISOString(),
    details: alert.details,
  };
}

/** Backoff before attempt `attempt` (2, 3, …): base, 3 × base, 9 × base… */
export const backoffMs = (attempt: number, baseMs: number): number =>
  baseMs * 3 ** Math.max(0, attempt - 2);

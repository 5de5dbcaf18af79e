import type { ReconciliationKind, ReconciliationTrigger } from '@raise-sync/shared/state';

/** Everything a check needs to reconcile one customer over one closed window. */
export interface RunContext {
  runId: string;
  customerId: string;
  kind: ReconciliationKind;
  /** Inclusive start, exclusive end. Deletion runs use the whole history (start = epoch). */
  windowStart: Date;
  windowEnd: Date;
  /** Resources to compare; null = every resource of the customer's sources. */
  resources: string[] | null;
  trigger: ReconciliationTrigger;
  /** The schedule's settings for this kind (e.g. crmDestination, crmTransactionSource). */
  settings: Record<string, unknown>;
  /** Aborted when the lease is lost or the process shuts down: stop between pages. */
  signal: AbortSignal;
}

/**
 * What a run stores in reconciliation_runs.counts and exports as gauges. Common keys:
 * source_total, destination_total, missing_in_destination, missing_in_source, stale,
 * not_yet_linked, republished, actionable; checks may add their own (e.g. orphaned_crm_key).
 */
export type RunCounts = Record<string, number>;

export interface RunOutcome {
  status: 'done' | 'skipped';
  counts: RunCounts;
  /** Why a run was skipped, or a short human summary. */
  note?: string;
}

/** One kind of reconciliation. The runner picks the check by `kind`. */
export interface ReconciliationCheck {
  readonly kind: ReconciliationKind;
  run(ctx: RunContext): Promise<RunOutcome>;
}

export const CUSTOMER_STATUSES = [
  'onboarding',
  'backfilling',
  'live',
  'paused',
  'offboarded',
] as const;
export type CustomerStatus = (typeof CUSTOMER_STATUSES)[number];

/**
 * How a customer's data starts (chosen at onboarding): its whole history by backfill, its
 * history since a date by backfill, only changes from its creation on, or (when a create
 * request asks for none of these) its history read by the first polls.
 */
export const ONBOARDING_MODES = [
  'full_history',
  'history_since',
  'from_now',
  'poll_history',
] as const;
export type OnboardingMode = (typeof ONBOARDING_MODES)[number];

export const DESTINATION_KINDS = [
  'warehouse',
  'crm-plus',
  'accounting',
  'marketing',
  'webhook',
] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

export const SYNC_STATUSES = ['pending', 'submitted', 'confirmed', 'failed'] as const;
export type SyncStatus = (typeof SYNC_STATUSES)[number];

/**
 * A record held for a fix in the source (source_fix_holds): open while it waits, released when
 * the fix sent it on through the retry topics, resolved when a newer version superseded it.
 */
export const SOURCE_FIX_HOLD_STATUSES = ['open', 'released', 'resolved'] as const;
export type SourceFixHoldStatus = (typeof SOURCE_FIX_HOLD_STATUSES)[number];

export const CHECKPOINT_DIRECTIONS = ['inbound', 'outbound'] as const;
export type CheckpointDirection = (typeof CHECKPOINT_DIRECTIONS)[number];

export const BACKFILL_STATUSES = ['pending', 'running', 'done', 'failed'] as const;
export type BackfillStatus = (typeof BACKFILL_STATUSES)[number];

/** A backfill request as a whole; its ID ranges (backfill_jobs) use BACKFILL_STATUSES. */
export const BACKFILL_RUN_STATUSES = ['pending', 'running', 'done', 'failed', 'cancelled'] as const;
export type BackfillRunStatus = (typeof BACKFILL_RUN_STATUSES)[number];

export const BACKFILL_TRIGGERS = ['onboarding', 'admin', 'cli'] as const;
export type BackfillTrigger = (typeof BACKFILL_TRIGGERS)[number];

export const RECONCILIATION_TRIGGERS = ['schedule', 'admin', 'cli'] as const;
export type ReconciliationTrigger = (typeof RECONCILIATION_TRIGGERS)[number];

export const RECONCILIATION_CADENCES = ['hourly', 'daily', 'weekly'] as const;
export type ReconciliationCadence = (typeof RECONCILIATION_CADENCES)[number];

export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export const ALERT_DELIVERY_STATUSES = [
  'pending',
  'delivered',
  'failed',
  'not_configured',
] as const;
export type AlertDeliveryStatus = (typeof ALERT_DELIVERY_STATUSES)[number];

/**
 * What a reconciliation found about one record. Window/deletion kinds: missing_in_destination,
 * stale_in_destination, deleted_in_source, dead_lettered (an open dead letter holds the version,
 * so it is reported, not republished). crmKey consistency (seed 001): consistent,
 * not_yet_synced, orphaned_crm_key, crm_unreachable, plus missing_in_crm (gift not found in CRM+
 * after the lag window) and one_sided (a dual-webhook arrival never confirmed by the other side).
 */
export const DISCREPANCY_STATES = [
  'missing_in_destination',
  'stale_in_destination',
  'deleted_in_source',
  'dead_lettered',
  'consistent',
  'not_yet_synced',
  'orphaned_crm_key',
  'crm_unreachable',
  'missing_in_crm',
  'one_sided',
] as const;
export type DiscrepancyState = (typeof DISCREPANCY_STATES)[number];

export const DEAD_LETTER_STATUSES = ['open', 'retried', 'discarded'] as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number];

export const RECONCILIATION_KINDS = [
  'window',
  'deletion',
  'crm-consistency',
  'webhook-log',
] as const;
export type ReconciliationKind = (typeof RECONCILIATION_KINDS)[number];

/** pending = requested on demand and not yet claimed; skipped = nothing to compare (e.g. single-product). */
export const RECONCILIATION_STATUSES = ['pending', 'running', 'done', 'failed', 'skipped'] as const;
export type ReconciliationStatus = (typeof RECONCILIATION_STATUSES)[number];

/** SQL list for CHECK constraints, from the same arrays the code validates with. */
export const sqlList = (values: readonly string[]): string =>
  values.map((v) => `'${v}'`).join(', ');

export const SOURCE_NAMES = ['raise', 'vomo'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

/** Health of a customer's source token: failing stops polling and raises an alert metric. */
export const CREDENTIAL_STATUSES = ['unverified', 'valid', 'failing'] as const;
export type CredentialStatus = (typeof CREDENTIAL_STATUSES)[number];

export const CUSTOMER_STATUSES = [
  'onboarding',
  'backfilling',
  'live',
  'paused',
  'offboarded',
] as const;
export type CustomerStatus = (typeof CUSTOMER_STATUSES)[number];

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

export const CHECKPOINT_DIRECTIONS = ['inbound', 'outbound'] as const;
export type CheckpointDirection = (typeof CHECKPOINT_DIRECTIONS)[number];

export const BACKFILL_STATUSES = ['pending', 'running', 'done', 'failed'] as const;
export type BackfillStatus = (typeof BACKFILL_STATUSES)[number];

export const DEAD_LETTER_STATUSES = ['open', 'retried', 'discarded'] as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number];

export const RECONCILIATION_KINDS = ['window', 'deletion', 'crm-consistency'] as const;
export type ReconciliationKind = (typeof RECONCILIATION_KINDS)[number];

export const RECONCILIATION_STATUSES = ['running', 'done', 'failed'] as const;
export type ReconciliationStatus = (typeof RECONCILIATION_STATUSES)[number];

/** SQL list for CHECK constraints, from the same arrays the code validates with. */
export const sqlList = (values: readonly string[]): string =>
  values.map((v) => `'${v}'`).join(', ');

export const SOURCE_NAMES = ['raise', 'vomo'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

/** Health of a customer's source token: failing stops polling and raises an alert metric. */
export const CREDENTIAL_STATUSES = ['unverified', 'valid', 'failing'] as const;
export type CredentialStatus = (typeof CREDENTIAL_STATUSES)[number];

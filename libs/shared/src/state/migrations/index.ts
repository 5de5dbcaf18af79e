import { CreateTenancy1763800000000 } from './1763800000000-create-tenancy';
import { CreateSyncState1763800001000 } from './1763800001000-create-sync-state';
import { CreateIngestState1763800002000 } from './1763800002000-create-ingest-state';
import { CreateWarehouse1763800003000 } from './1763800003000-create-warehouse';
import { CreateDeliveryLedger1763800004000 } from './1763800004000-create-delivery-ledger';
import { CreateBackfillAndReconciliation1763800005000 } from './1763800005000-create-backfill-and-reconciliation';
import { CreateCrossProductArrivals1763800006000 } from './1763800006000-create-cross-product-arrivals';
import { CreateConsoleTokens1763800007000 } from './1763800007000-create-console-tokens';
import { CreateReplayRuns1763800008000 } from './1763800008000-create-replay-runs';
import { CreateRelatedRecords1763800010000 } from './1763800010000-create-related-records';
import { WebhookLogReconciliation1763800011000 } from './1763800011000-webhook-log-reconciliation';
import { DeliveryLanes1763800012000 } from './1763800012000-delivery-lanes';
import { LeanSyncState1763800013000 } from './1763800013000-lean-sync-state';
import { TypedAuditDetail1763800014000 } from './1763800014000-typed-audit-detail';
import { OnboardingModes1763800015000 } from './1763800015000-onboarding-modes';
import { CustomerPurges1763800016000 } from './1763800016000-customer-purges';
import { SourceFixHolds1763800017000 } from './1763800017000-source-fix-holds';
import { Retention1763800018000 } from './1763800018000-retention';
import { DonorErasures1763800019000 } from './1763800019000-donor-erasures';

/** Every migration, oldest first. New ones are appended here. */
export const MIGRATIONS = [
  CreateTenancy1763800000000,
  CreateSyncState1763800001000,
  CreateIngestState1763800002000,
  CreateWarehouse1763800003000,
  CreateDeliveryLedger1763800004000,
  CreateBackfillAndReconciliation1763800005000,
  CreateCrossProductArrivals1763800006000,
  CreateConsoleTokens1763800007000,
  CreateReplayRuns1763800008000,
  CreateRelatedRecords1763800010000,
  WebhookLogReconciliation1763800011000,
  DeliveryLanes1763800012000,
  LeanSyncState1763800013000,
  TypedAuditDetail1763800014000,
  OnboardingModes1763800015000,
  CustomerPurges1763800016000,
  SourceFixHolds1763800017000,
  Retention1763800018000,
  DonorErasures1763800019000,
];

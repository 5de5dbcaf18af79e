import { CreateTenancy1763800000000 } from './1763800000000-create-tenancy';
import { CreateSyncState1763800001000 } from './1763800001000-create-sync-state';
import { CreateIngestState1763800002000 } from './1763800002000-create-ingest-state';

/** Every migration, oldest first. New ones are appended here. */
export const MIGRATIONS = [
  CreateTenancy1763800000000,
  CreateSyncState1763800001000,
  CreateIngestState1763800002000,
];

import { Module } from '@nestjs/common';
import {
  AdminTokenGuard,
  BulkPushback,
  DatabaseModule,
  KafkaPlumbingModule,
  ServiceModule,
} from '@raise-sync/shared/service';
import { SourceClients } from '@raise-sync/sources/service';
import { stateRepositoryProviders } from '@raise-sync/shared/state';
import { BackfillAdminController } from './admin/backfill-admin.controller';
import { BackfillAdminService } from './admin/backfill-admin.service';
import { ProgressTracker } from './progress/progress-tracker.service';
import { ReplayAdminController } from './replay/replay-admin.controller';
import { ReplayAdminService } from './replay/replay-admin.service';
import { ReplayRunner } from './replay/replay-runner.service';
import { ReplayScheduler } from './replay/replay-scheduler.service';
import { ReplayRunRepository } from './replay/replay-run.repository';
import { SourceReader } from './source/source-reader.service';
import { BackfillRepository } from './state/backfill.repository';
import { BackfillPublisher } from './work/backfill-publisher.service';
import { BackfillScheduler } from './work/backfill-scheduler.service';
import { CustomerCredentialsReader } from './work/credentials.service';
import { RangeRunner } from './work/range-runner.service';
import { RunPlanner } from './work/run-planner.service';
import { BACKFILLER_SECTIONS } from './backfiller.config';

/**
 * Resumable backfills into the live topics: runs requested through the admin API (or the CLI,
 * or ingest's onboarding) are planned into ID ranges and worked under leases in PostgreSQL by
 * any number of replicas, within the customer's shared source budget. Topic replays (recovery)
 * read a customer's events back out of a source topic and republish them (origin replay), leased
 * the same way.
 */
@Module({
  imports: [
    ServiceModule.forRoot({ name: 'backfiller', config: BACKFILLER_SECTIONS }),
    KafkaPlumbingModule,
    DatabaseModule,
  ],
  controllers: [BackfillAdminController, ReplayAdminController],
  providers: [
    ...stateRepositoryProviders,
    SourceClients,
    BulkPushback,
    SourceReader,
    BackfillRepository,
    BackfillPublisher,
    CustomerCredentialsReader,
    RunPlanner,
    RangeRunner,
    BackfillScheduler,
    ProgressTracker,
    BackfillAdminService,
    ReplayRunRepository,
    ReplayRunner,
    ReplayScheduler,
    ReplayAdminService,
    AdminTokenGuard,
  ],
})
export class BackfillerModule {}

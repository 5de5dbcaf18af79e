import { Module } from '@nestjs/common';
import {
  AdminTokenGuard,
  BulkPushback,
  DatabaseModule,
  KafkaPlumbingModule,
  ServiceModule,
} from '@raise-sync/shared/service';
import { ReconcilerAdminController } from './admin/admin.controller';
import { ReconciliationAdmin } from './admin/reconciliation-admin.service';
import { DeletionCheck } from './checks/deletion.check';
import { Republisher } from './checks/republisher';
import { SourceReader } from './checks/source-reader';
import { SyncStateRepository } from './checks/sync-state.repository';
import { WebhookLogCheck } from './checks/webhook-log.check';
import { WindowCheck } from './checks/window.check';
import { ReconcilerCoreModule } from './core/core.module';
import { CrmModule } from './crm/crm.module';
import { ReplicaIdentity } from './runs/replica-identity';
import { RunRunner } from './runs/run-runner.service';
import { RUN_SLOTS_PROVIDER } from './runs/run-slots';
import { RunRepository } from './runs/run.repository';
import { SchedulerService } from './schedule/scheduler.service';
import { RECONCILER_SECTIONS } from './reconciler.config';

/**
 * The reconciler: schedules per customer and kind, a runner that executes requested and
 * scheduled runs under a lease, the window and deletion checks (and the CRM+ consistency check
 * from CrmModule), and the admin API.
 */
@Module({
  imports: [
    ServiceModule.forRoot({ name: 'reconciler', config: RECONCILER_SECTIONS }),
    KafkaPlumbingModule,
    DatabaseModule,
    ReconcilerCoreModule,
    CrmModule,
  ],
  controllers: [ReconcilerAdminController],
  providers: [
    AdminTokenGuard,
    ReplicaIdentity,
    RunRepository,
    SchedulerService,
    RunRunner,
    RUN_SLOTS_PROVIDER,
    BulkPushback,
    SourceReader,
    SyncStateRepository,
    Republisher,
    WindowCheck,
    DeletionCheck,
    WebhookLogCheck,
    ReconciliationAdmin,
  ],
})
export class ReconcilerModule {}

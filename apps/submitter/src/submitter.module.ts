import { adapterRegistryProvider, donorErasureProvider } from '@raise-sync/destinations';
import { Module } from '@nestjs/common';
import {
  AdminTokenGuard,
  DatabaseModule,
  KafkaPlumbingModule,
  ServiceModule,
} from '@raise-sync/shared/service';
import { SourceClients } from '@raise-sync/sources/service';
import { stateRepositoryProviders } from '@raise-sync/shared/state';
import { ConsoleAuthGuard } from './console/console-auth.guard';
import { ConsoleController } from './console/console.controller';
import { ConsoleQueries } from './console/console-query.service';
import { ConsoleRepository } from './console/console.repository';
import { ConsoleTokens } from './console/console-tokens.service';
import { ConsoleTokensController } from './console/console-tokens.controller';
import { RecordLinksService } from './console/record-links.service';
import { LaneDrainer } from './consume/lane-drainer';
import { RetryConsumer } from './consume/retry.consumer';
import { SourceEventsConsumer } from './consume/source-events.consumer';
import { SubmitterAdminController } from './dead-letters/admin.controller';
import { DeadLetterRepository } from './dead-letters/dead-letter.repository';
import { DeadLetterService } from './dead-letters/dead-letter.service';
import { DeliveryDecider } from './delivery/delivery-decider';
import { DeliveryEngine } from './delivery/delivery-engine.service';
import { DeliveryLanes } from './delivery/delivery-lanes.service';
import { DeliveryRecorder } from './delivery/delivery-recorder';
import { DeliveryRepository } from './delivery/delivery.repository';
import { DeliveryWriter } from './delivery/delivery-writer';
import { DestinationDirectory } from './delivery/destination-directory.service';
import { ErasedDonors } from './delivery/erased-donors.service';
import { LaneRepository } from './delivery/lane.repository';
import { RelatedRecordRepository } from './delivery/related-record.repository';
import { LedgerMonitor } from './ledger/ledger-monitor.service';
import { LedgerRepository } from './ledger/ledger.repository';
import { RecordCompletion } from './delivery/record-completion.service';
import { UnroutableMessages } from './dead-letters/unroutable-messages.service';
import { RelatedRedrive } from './dead-letters/related-redrive.service';
import { SourceFixRepository } from './source-fixes/source-fix.repository';
import { SourceFixes } from './source-fixes/source-fix.service';
import { DestinationSettings } from './destinations/destination-settings.service';
import { DestinationsController } from './destinations/destinations.controller';
import { SUBMITTER_SECTIONS } from './submitter.config';

/**
 * The delivery side: source and retry topics → destination adapters, dead letters, ledger, the
 * customers' destination settings; and the sync-health console that reads the same state.
 */
@Module({
  imports: [
    ServiceModule.forRoot({ name: 'submitter', config: SUBMITTER_SECTIONS }),
    KafkaPlumbingModule,
    DatabaseModule,
  ],
  controllers: [
    SubmitterAdminController,
    DestinationsController,
    ConsoleController,
    ConsoleTokensController,
  ],
  providers: [
    ...stateRepositoryProviders,
    ConsoleRepository,
    DeadLetterRepository,
    DeliveryRepository,
    LaneRepository,
    LedgerRepository,
    RelatedRecordRepository,
    adapterRegistryProvider,
    donorErasureProvider,
    ErasedDonors,
    DestinationDirectory,
    DestinationSettings,
    DeliveryLanes,
    DeliveryDecider,
    DeliveryWriter,
    DeliveryRecorder,
    DeliveryEngine,
    SourceEventsConsumer,
    RetryConsumer,
    LaneDrainer,
    LedgerMonitor,
    DeadLetterService,
    RecordCompletion,
    RelatedRedrive,
    SourceFixRepository,
    SourceFixes,
    UnroutableMessages,
    AdminTokenGuard,
    ConsoleTokens,
    ConsoleAuthGuard,
    ConsoleQueries,
    SourceClients,
    RecordLinksService,
  ],
})
export class SubmitterModule {}

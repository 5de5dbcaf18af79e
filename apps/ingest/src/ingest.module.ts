import { Module } from '@nestjs/common';
import { stateRepositoryProviders } from '@raise-sync/shared/state';
import {
  AdminTokenGuard,
  DatabaseModule,
  KafkaPlumbingModule,
  ServiceModule,
} from '@raise-sync/shared/service';
import { AdminController } from './admin/admin.controller';
import { OnboardingRepository } from './admin/onboarding.repository';
import { OnboardingService } from './admin/onboarding.service';
import { CustomerDirectory } from './customers/customer-directory.service';
import { PollScheduler } from './polling/poll-scheduler.service';
import { PollScheduleRepository } from './polling/poll-schedule.repository';
import { Poller } from './polling/poller.service';
import { EventPublisher } from './publish/event-publisher.service';
import { CredentialHealth } from './sources/credential-health.service';
import { CustomerSourceRepository } from './sources/customer-source.repository';
import { SourceClients } from '@raise-sync/sources/service';
import { CrmPlusWebhookRegistration } from './admin/crm-plus-webhook-registration.service';
import { CrmPlusWebhookController } from './webhooks/crm-plus-webhook.controller';
import { CrmPlusWebhookIntake } from './webhooks/crm-plus-webhook.service';
import { CrossProductArrivals } from './webhooks/cross-product-arrivals.service';
import { replayClaimsProvider } from './webhooks/replay-claims';
import { WebhookDeliveryRepository } from './webhooks/webhook-delivery.repository';
import { WebhookIntake } from './webhooks/webhook-intake.service';
import { WebhookController } from './webhooks/webhook.controller';
import { WebhookBodyReader } from './webhooks/raw-body';
import { INGEST_SECTIONS } from './ingest.config';
import { PurgeJob } from './lifecycle/purge.service';
import { RetentionJob } from './lifecycle/retention.service';
import { EraseDonor } from './lifecycle/erase-donor.service';
import { adapterRegistryProvider, donorErasureProvider } from '@raise-sync/destinations';

/**
 * The capture side: signed webhooks and checkpointed polling into the customer-keyed source
 * topics, plus the admin API that onboards customers.
 */
@Module({
  imports: [
    ServiceModule.forRoot({ name: 'ingest', config: INGEST_SECTIONS }),
    KafkaPlumbingModule,
    DatabaseModule,
  ],
  // CRM+ first: the Raise controller's `:source/:customerId` would also match its path.
  controllers: [CrmPlusWebhookController, WebhookController, AdminController],
  providers: [
    ...stateRepositoryProviders,
    OnboardingRepository,
    CustomerSourceRepository,
    PollScheduleRepository,
    WebhookDeliveryRepository,
    replayClaimsProvider,
    CustomerDirectory,
    EventPublisher,
    SourceClients,
    CredentialHealth,
    WebhookBodyReader,
    WebhookIntake,
    CrossProductArrivals,
    CrmPlusWebhookIntake,
    CrmPlusWebhookRegistration,
    Poller,
    PollScheduler,
    PurgeJob,
    RetentionJob,
    adapterRegistryProvider,
    donorErasureProvider,
    EraseDonor,
    OnboardingService,
    AdminTokenGuard,
  ],
})
export class IngestModule {}

import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SecretBox } from '@raise-sync/shared/crypto';
import { SourceClients } from '@raise-sync/sources/service';
import {
  CrossProductArrivalRepository,
  CustomerRepository,
  DestinationRepository,
  stateRepositoryProviders,
} from '@raise-sync/shared/state';
import { DiscrepancyRepository } from '../runs/discrepancy.repository';
import { ScheduleRepository } from '../schedule/schedule.repository';
import { adapterRegistryProvider } from '@raise-sync/destinations';
import { DestinationDirectory } from './destination-directory';
import type { ReconcilerConfig } from '../reconciler.config';

/**
 * What every part of the reconciler (window and deletion checks, the CRM+ consistency check, the
 * alerts) shares: the secret box for sealed credentials, the source clients on the customer-wide
 * rate budget, the customers (CustomerRepository) and their destinations, the repository of what
 * runs find, and the schedules (whose settings the checks keep). Global, so feature modules inject
 * them directly.
 */
@Global()
@Module({
  providers: [
    {
      provide: SecretBox,
      inject: [ConfigService],
      useFactory: (config: ConfigService<ReconcilerConfig, true>) =>
        SecretBox.fromHex(config.get('secretsKey', { infer: true })),
    },
    ...stateRepositoryProviders,
    SourceClients,
    adapterRegistryProvider,
    DestinationDirectory,
    DiscrepancyRepository,
    ScheduleRepository,
  ],
  exports: [
    SecretBox,
    CustomerRepository,
    CrossProductArrivalRepository,
    SourceClients,
    DestinationRepository,
    DestinationDirectory,
    DiscrepancyRepository,
    ScheduleRepository,
  ],
})
export class ReconcilerCoreModule {}

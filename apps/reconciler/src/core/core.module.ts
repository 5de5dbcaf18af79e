import { Global, Module } from '@nestjs/common';
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
import { ReconcileTargets } from './reconcile-targets';

/**
 * What every part of the reconciler (window and deletion checks, the CRM+ consistency check, the
 * alerts) shares: the source clients on the customer-wide
 * rate budget, the customers (CustomerRepository) and their destinations, the repository of what
 * runs find, and the schedules (whose settings the checks keep). Global, so feature modules inject
 * them directly.
 */
@Global()
@Module({
  providers: [
    ...stateRepositoryProviders,
    SourceClients,
    adapterRegistryProvider,
    ReconcileTargets,
    DiscrepancyRepository,
    ScheduleRepository,
  ],
  exports: [
    CustomerRepository,
    CrossProductArrivalRepository,
    SourceClients,
    DestinationRepository,
    ReconcileTargets,
    DiscrepancyRepository,
    ScheduleRepository,
  ],
})
export class ReconcilerCoreModule {}

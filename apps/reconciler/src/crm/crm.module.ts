import { Module } from '@nestjs/common';
import { AlertsModule } from '../alerts/alerts.module';
import { CrmConsistencyCheck } from './crm-consistency.check';
import { CrmDestinationResolver } from './crm-destination';

/**
 * Raise vs CRM+ consistency and the ops alerts for its actionable discrepancies.
 * SourceClients, CustomerRepository, DestinationRepository and DiscrepancyRepository come from
 * the global ReconcilerCoreModule (SecretBox from ServiceModule): one source
 * client per process, so the check draws on the same per-customer Raise budget as the others.
 */
@Module({
  imports: [AlertsModule],
  providers: [CrmDestinationResolver, CrmConsistencyCheck],
  exports: [CrmConsistencyCheck, AlertsModule],
})
export class CrmModule {}

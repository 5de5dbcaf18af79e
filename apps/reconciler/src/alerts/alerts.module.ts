import { Module } from '@nestjs/common';
import { OpsAlerter } from './ops-alerter.service';

/** Ops alerts for reconciliation runs (stored, then POSTed to RECONCILER_OPS_WEBHOOK_URL). */
@Module({
  providers: [OpsAlerter],
  exports: [OpsAlerter],
})
export class AlertsModule {}

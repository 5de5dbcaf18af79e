import { Module } from '@nestjs/common';
import { AlertRepository } from './alert.repository';
import { OpsAlerter } from './ops-alerter.service';

/** Ops alerts for reconciliation runs (stored, then POSTed to RECONCILER_OPS_WEBHOOK_URL). */
@Module({
  providers: [AlertRepository, OpsAlerter],
  exports: [OpsAlerter],
})
export class AlertsModule {}

export * from './alerts.module';
export * from './ops-alerter.service';
export * from './alert-format';

export { startSimulator } from './simulator';
export { connectSimulator, type RemoteSimulatorControl } from './client';
export { SimulatorError } from './errors';
export type {
  CreateOrgOptions,
  EmitWebhooksOptions,
  EmitWebhooksResult,
  OrgSummary,
  RaisePatch,
  RecordKey,
  Simulator,
  SimulatorControl,
  SimulatorOptions,
  VomoUserPatch,
} from './types';
export type { FaultConfig, RateLimitConfig } from './faults';
export { TokenBucket } from './faults';
export type {
  DroppedWebhook,
  WebhookDeliveryAttempt,
  WebhookRetryOptions,
  WebhookSubscription,
} from './raise/webhooks';
export type { OrgStats, PageServed, WebhookStats } from './stats';
export { ID_BASE, SIM_RESOURCES, type ModelFor, type SimResource } from './data/dataset';

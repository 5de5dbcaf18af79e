export { startSimulator } from './simulator';
export {
  connectSimulator,
  type RemoteDestinationControl,
  type RemoteSimulatorControl,
} from './client';
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
export {
  DESTINATION_ACCOUNT_KINDS,
  MARKETING_STATUSES,
  type AccountingCreditNote,
  type AccountingInvoice,
  type AccountingLine,
  type AccountingLogEntry,
  type CreateDestinationAccountOptions,
  type CrmContact,
  type CrmGift,
  type CrmReference,
  type DestinationAccountKind,
  type DestinationAccountSummary,
  type DestinationControl,
  type DestinationFaultConfig,
  type DestinationStats,
  type HookDelivery,
  type MarketingMember,
  type MarketingStatus,
} from './destinations/types';
export { CRM_DEFAULT_HOURLY_LIMIT } from './destinations/crm-plus-api';
export {
  CRM_WEBHOOK_SIGNATURE_HEADER,
  CRM_WEBHOOK_TOGGLES,
  signCrmWebhook,
  type CrmWebhookAttempt,
  type CrmWebhookDropped,
  type CrmWebhookDrops,
  type CrmWebhookEvent,
  type CrmWebhookSubscription,
  type CrmWebhookToggle,
} from './destinations/crm-plus-webhooks';
export { subscriberHash } from './destinations/marketing-api';
export { HOOK_SIGNATURE_HEADER, HOOK_TIMESTAMP_HEADER, signHook } from './destinations/hooks-api';

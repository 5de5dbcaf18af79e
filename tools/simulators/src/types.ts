import type { RaiseModelByResource, RaiseResource, VomoUserResource } from '@raise-sync/sources';
import type { ModelFor, SimResource } from './data/dataset';
import type { DestinationControl } from './destinations/types';
import type { FaultConfig } from './faults';
import type {
  DroppedWebhook,
  WebhookDeliveryAttempt,
  WebhookRetryOptions,
  WebhookSubscription,
} from './raise/webhooks';
import type { OrgStats } from './stats';

export interface SimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default seed for orgs created without one (mixed with the org id). Default 1. */
  seed?: number;
  /** Initial webhook delivery settings (see setWebhookRetry). */
  webhooks?: WebhookRetryOptions;
}

export interface Simulator {
  /** e.g. http://127.0.0.1:4010 */
  readonly url: string;
  /** `${url}/raise`: the Raise API lives at `${raiseUrl}/api/...`. */
  readonly raiseUrl: string;
  /** `${url}/vomo/v1`: VOMO users at `${vomoUrl}/users`. */
  readonly vomoUrl: string;
  /** `${url}/crm`: CRM+ at `${crmUrl}/api/...`. */
  readonly crmUrl: string;
  /** `${url}/accounting`: `${accountingUrl}/invoices`, `/credit-notes`. */
  readonly accountingUrl: string;
  /** `${url}/marketing`: `${marketingUrl}/lists/{listId}/members/{hash}`. */
  readonly marketingUrl: string;
  /** `${url}/hooks`: a webhook account's endpoint is `${hooksUrl}/{accountId}`. */
  readonly hooksUrl: string;
  readonly port: number;
  control: SimulatorControl;
  /** The destination simulators' accounts, faults and recorded writes. */
  destinations: DestinationControl;
  stop(): Promise<void>;
}

export interface CreateOrgOptions {
  id: string;
  raiseToken: string;
  vomoToken: string;
  /** Same seed (and counts, anchor) => identical records. Default: simulator seed + org id. */
  seed?: number;
  donors?: number;
  gifts?: number;
  recurringGifts?: number;
  campaigns?: number;
  users?: number;
  /** Share of donors, gifts and recurring gifts in test mode. Default 0.05. */
  testModeFraction?: number;
  /**
   * Generated times lie in the 30 days before this instant (ISO 8601). Default: the start of the
   * current UTC day, so one seed gives the same records all day long.
   */
  anchor?: string;
}

export interface OrgSummary {
  id: string;
  seed: number;
  anchor: string;
  raiseToken: string;
  vomoToken: string;
  /** Live records per resource. */
  counts: Record<SimResource, number>;
  webhooks: number;
}

export type RaisePatch<R extends RaiseResource> = Partial<RaiseModelByResource[R]>;

/** Fields accepted for a VOMO user (the API's upsert fields plus the resource's own). */
export type VomoUserPatch = Partial<Omit<VomoUserResource, 'type' | 'id'>>;

export interface EmitWebhooksOptions {
  count: number;
  /** Default 'gift'. Each new record fires its "created" event (10 for gifts). */
  resource?: RaiseResource;
}

export interface EmitWebhooksResult {
  count: number;
  firstId: number | null;
  lastId: number | null;
}

/** A lean view of a record, for comparing large sets. */
export interface RecordKey {
  id: number;
  modifiedDate: string;
}

/**
 * Everything a test or the demo can do to the simulator. Available in-process as
 * `simulator.control` and over HTTP under `${url}/_sim/...` (see README).
 * Unknown orgs/records throw a SimulatorError (404 over HTTP); bad input throws one with 400.
 */
export interface SimulatorControl {
  createOrg(options: CreateOrgOptions): OrgSummary;
  removeOrg(org: string): void;
  listOrgs(): OrgSummary[];

  /** Creates a record (like Raise activity) and fires its "created" webhook. */
  createRecord<R extends RaiseResource>(
    org: string,
    resource: R,
    partial?: RaisePatch<R>,
  ): RaiseModelByResource[R];
  /** Applies `patch`, bumps the modified time to now (strictly increasing per org), fires "updated". */
  updateRecord<R extends RaiseResource>(
    org: string,
    resource: R,
    id: number,
    patch?: RaisePatch<R>,
  ): RaiseModelByResource[R];
  /** Removes the record and fires "deleted" (data: id + deletion time). Returns the record as it was. */
  deleteRecord<R extends RaiseResource>(
    org: string,
    resource: R,
    id: number,
  ): RaiseModelByResource[R];
  /** Sets the modified time to `at` without any webhook: a late-modified record. */
  lateModify<R extends SimResource>(org: string, resource: R, id: number, at: string): ModelFor<R>;

  createUser(org: string, partial?: VomoUserPatch): VomoUserResource;
  updateUser(org: string, id: number, patch?: VomoUserPatch): VomoUserResource;

  /** Bulk load: creates `count` records quickly, each firing its "created" webhook. */
  emitWebhooks(org: string, options: EmitWebhooksOptions): EmitWebhooksResult;

  /** Replaces the fault config of one org, or of every org with '*'. */
  setFaults(org: string, faults: FaultConfig): void;
  resetFaults(): void;
  getFaults(): Record<string, FaultConfig>;
  setWebhookRetry(options: WebhookRetryOptions): void;

  droppedWebhooks(org: string): DroppedWebhook[];
  webhookDeliveries(org: string): WebhookDeliveryAttempt[];
  /** Subscriptions registered through the Raise API (secrets included). */
  webhookSubscriptions(org: string): WebhookSubscription[];
  /** Resolves once every queued delivery has succeeded or exhausted its retries. */
  flushWebhooks(): Promise<void>;

  stats(org: string): OrgStats;
  resetStats(): void;

  /** Current (live) records, full models, in id order. */
  records<R extends SimResource>(org: string, resource: R): Array<ModelFor<R>>;
  /** Current records as { id, modifiedDate } only (cheap for large sets). */
  recordKeys(org: string, resource: SimResource): RecordKey[];
  deletedIds(org: string, resource: SimResource): number[];
}

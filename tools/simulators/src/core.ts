import {
  RAISE_EVENT_TYPES,
  RAISE_MODIFIED_FIELD,
  RAISE_RESOURCES,
  raiseEventTypesFor,
  type RaiseModelByResource,
  type RaiseResource,
  type RaiseWebhookPayload,
  type VomoUserResource,
} from '@raise-sync/sources';
import {
  COLUMN_FIELDS,
  DAY_MS,
  Dataset,
  SIM_RESOURCES,
  vomoTime,
  type ModelFor,
  type SimResource,
} from './data/dataset';
import { COMMON_AMOUNTS } from './data/vocabulary';
import { SimulatorError } from './errors';
import { FaultRegistry, validateFaults, type FaultConfig } from './faults';
import { hash32, hashString, Prng } from './prng';
import { parseInstant } from './raise/query';
import {
  WebhookDispatcher,
  type WebhookRetryOptions,
  type WebhookSubscription,
} from './raise/webhooks';
import { StatsRecorder, type OrgStats } from './stats';
import type {
  CreateOrgOptions,
  EmitWebhooksOptions,
  EmitWebhooksResult,
  OrgSummary,
  RaisePatch,
  RecordKey,
  SimulatorControl,
  VomoUserPatch,
} from './types';

const DEFAULT_COUNTS = { donors: 200, gifts: 1000, recurringGifts: 50, campaigns: 10, users: 100 };
const MAX_RECORDS = 10_000_000;
const ORG_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** One simulated customer: its data, tokens, webhook subscriptions and clock. */
export class Org {
  readonly subscriptions = new Map<number, WebhookSubscription>();
  nextWebhookId = 1;
  /** Randomness for records created after generation (links, amounts). */
  readonly mutationRng: Prng;
  /** Randomness for injected API errors and latency jitter. */
  readonly faultRng: Prng;
  /** Lower-cased email -> user slot, built on first use. */
  emailIndex: Map<string, number> | undefined;
  private lastMs: number;

  constructor(
    readonly id: string,
    readonly raiseToken: string,
    readonly vomoToken: string,
    readonly seed: number,
    readonly dataset: Dataset,
  ) {
    this.mutationRng = new Prng(hash32(seed, 0xa11));
    this.faultRng = new Prng(hash32(seed, 0xfa));
    this.lastMs = Math.max(dataset.latestGenerated, dataset.anchorMs);
  }

  /** Wall-clock ms, strictly increasing across every change in this org. */
  now(): number {
    const now = Math.max(Date.now(), this.lastMs + 1);
    this.lastMs = now;
    return now;
  }

  /** Keeps later `now()` values after an explicitly set time. */
  observe(ms: number): void {
    if (ms > this.lastMs) {
      this.lastMs = ms;
    }
  }
}

function isRaiseResource(resource: string): resource is RaiseResource {
  return (RAISE_RESOURCES as string[]).includes(resource);
}

function assertResource(resource: string): asserts resource is SimResource {
  if (!(SIM_RESOURCES as readonly string[]).includes(resource)) {
    throw new SimulatorError(400, `unknown resource '${resource}'`);
  }
}

function assertRaise(resource: string): asserts resource is RaiseResource {
  if (!isRaiseResource(resource)) {
    throw new SimulatorError(400, `'${resource}' is not a Raise resource`);
  }
}

function count(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === null) {
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_RECORDS) {
    throw new SimulatorError(400, `${name} must be an integer in [0, ${MAX_RECORDS}]`);
  }
  return value;
}

const startOfUtcDay = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

/**
 * The simulator's state and every control operation. The HTTP layers (Raise, VOMO, control) call
 * into this; `control()` exposes it as the public SimulatorControl.
 */
export class SimulatorCore {
  readonly orgs = new Map<string, Org>();
  readonly byRaiseToken = new Map<string, Org>();
  readonly byVomoToken = new Map<string, Org>();
  readonly faults = new FaultRegistry();
  readonly stats = new StatsRecorder();
  readonly webhooks: WebhookDispatcher;

  constructor(
    readonly defaultSeed: number,
    webhookOptions?: WebhookRetryOptions,
  ) {
    this.webhooks = new WebhookDispatcher(this.stats, (org) => this.faults.forOrg(org));
    if (webhookOptions) {
      this.webhooks.configure(webhookOptions);
    }
  }

  org(id: string): Org {
    const org = this.orgs.get(id);
    if (!org) {
      throw new SimulatorError(404, `unknown org '${id}'`);
    }
    return org;
  }

  // ---------------------------------------------------------------- orgs

  createOrg(options: CreateOrgOptions): OrgSummary {
    if (typeof options !== 'object' || options === null) {
      throw new SimulatorError(400, 'org options must be an object');
    }
    const { id, raiseToken, vomoToken } = options;
    if (typeof id !== 'string' || !ORG_ID.test(id)) {
      throw new SimulatorError(400, 'id must be 1-64 characters of [A-Za-z0-9_.-]');
    }
    if (typeof raiseToken !== 'string' || raiseToken === '') {
      throw new SimulatorError(400, 'raiseToken is required');
    }
    if (typeof vomoToken !== 'string' || vomoToken === '') {
      throw new SimulatorError(400, 'vomoToken is required');
    }
    if (this.orgs.has(id)) {
      throw new SimulatorError(409, `org '${id}' already exists`);
    }
    if (this.byRaiseToken.has(raiseToken) || this.byVomoToken.has(vomoToken)) {
      throw new SimulatorError(409, 'token already used by another org');
    }
    const fraction = options.testModeFraction ?? 0.05;
    if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) {
      throw new SimulatorError(400, 'testModeFraction must be in [0, 1]');
    }
    let anchorMs = startOfUtcDay(Date.now());
    if (options.anchor !== undefined) {
      anchorMs = parseInstant(String(options.anchor));
      if (Number.isNaN(anchorMs)) {
        throw new SimulatorError(400, 'anchor must be an ISO 8601 instant');
      }
    }
    if (
      options.seed !== undefined &&
      (typeof options.seed !== 'number' || !Number.isFinite(options.seed))
    ) {
      throw new SimulatorError(400, 'seed must be a number');
    }
    const seed = options.seed ?? hash32(this.defaultSeed, hashString(id));
    const dataset = new Dataset({
      seed,
      anchorMs,
      testModeFraction: fraction,
      counts: {
        donor: count(options.donors, 'donors', DEFAULT_COUNTS.donors),
        gift: count(options.gifts, 'gifts', DEFAULT_COUNTS.gifts),
        recurring_gift: count(
          options.recurringGifts,
          'recurringGifts',
          DEFAULT_COUNTS.recurringGifts,
        ),
        campaign: count(options.campaigns, 'campaigns', DEFAULT_COUNTS.campaigns),
        user: count(options.users, 'users', DEFAULT_COUNTS.users),
      },
    });
    const org = new Org(id, raiseToken, vomoToken, seed, dataset);
    this.orgs.set(id, org);
    this.byRaiseToken.set(raiseToken, org);
    this.byVomoToken.set(vomoToken, org);
    this.webhooks.addOrg(id, seed);
    return this.summary(org);
  }

  removeOrg(id: string): void {
    const org = this.org(id);
    this.orgs.delete(id);
    this.byRaiseToken.delete(org.raiseToken);
    this.byVomoToken.delete(org.vomoToken);
    this.webhooks.removeOrg(id);
    this.faults.forgetOrg(id);
    this.stats.forget(id);
  }

  summary(org: Org): OrgSummary {
    const counts = Object.fromEntries(
      SIM_RESOURCES.map((resource) => [resource, org.dataset.tables[resource].liveCount]),
    ) as Record<SimResource, number>;
    return {
      id: org.id,
      seed: org.seed,
      anchor: new Date(org.dataset.anchorMs).toISOString(),
      raiseToken: org.raiseToken,
      vomoToken: org.vomoToken,
      counts,
      webhooks: org.subscriptions.size,
    };
  }

  // ------------------------------------------------------------- records

  /** Slot of a live record, or a 404. */
  slot(org: Org, resource: SimResource, id: number): number {
    const slot = org.dataset.tables[resource].slotOf(Number(id));
    if (slot < 0) {
      throw new SimulatorError(404, `${resource} ${id} not found`);
    }
    return slot;
  }

  /**
   * Writes patch fields: values the query engine reads go to columns, the rest to overrides.
   * Modified times are never taken from a patch; the caller sets them.
   */
  applyPatch(org: Org, resource: SimResource, slot: number, patch: Record<string, unknown>): void {
    const table = org.dataset.tables[resource];
    const columns = COLUMN_FIELDS[resource];
    const overrides: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(patch)) {
      if (value === undefined || field === 'id' || field === 'type') {
        continue;
      }
      const column = columns[field];
      switch (column) {
        case 'modified':
          break;
        case 'created':
        case 'date': {
          if (value === null && column === 'date') {
            table.set(slot, column, Number.NaN);
            break;
          }
          let ms = typeof value === 'string' ? parseInstant(value) : Number.NaN;
          if (Number.isNaN(ms)) {
            throw new SimulatorError(400, `${field} must be an ISO 8601 instant`);
          }
          if (resource === 'user') {
            ms = Math.floor(ms / 1000) * 1000;
          }
          table.set(slot, column, ms);
          break;
        }
        case 'amount':
          if (typeof value !== 'number' || !Number.isFinite(value)) {
            throw new SimulatorError(400, `${field} must be a number`);
          }
          table.set(slot, 'amount', value);
          break;
        case 'test':
          if (typeof value !== 'boolean') {
            throw new SimulatorError(400, `${field} must be a boolean`);
          }
          table.setTest(slot, value);
          break;
        case undefined:
          overrides[field] = value;
          break;
      }
    }
    if (Object.keys(overrides).length > 0) {
      table.setOverrides(slot, overrides);
    }
  }

  /** Appends a new Raise record with fresh times, random values and links to live records. */
  private insert(org: Org, resource: RaiseResource): number {
    const now = org.now();
    const rng = org.mutationRng;
    const dataset = org.dataset;
    let amount = Number.NaN;
    let date = Number.NaN;
    switch (resource) {
      case 'gift':
        amount = rng.chance(0.75)
          ? COMMON_AMOUNTS[rng.int(COMMON_AMOUNTS.length)]!
          : Math.round((5 + rng.next() * 995) * 100) / 100;
        date = now;
        break;
      case 'recurring_gift':
        amount = COMMON_AMOUNTS[rng.int(8)]!;
        date = now;
        break;
      case 'campaign':
        date = startOfUtcDay(now) + DAY_MS;
        break;
      case 'donor':
        break;
    }
    const test = resource !== 'campaign' && rng.next() < dataset.testModeFraction;
    const table = dataset.tables[resource];
    const slot = table.append({ created: now, modified: now, date, amount, test });
    if (resource === 'gift') {
      let donorId = dataset.pickLiveId('donor', rng);
      let recurringGiftId: number | null = null;
      if (rng.chance(0.2)) {
        recurringGiftId = dataset.pickLiveId('recurring_gift', rng);
        if (recurringGiftId !== null) {
          const recurring = dataset.materialize(
            'recurring_gift',
            dataset.tables.recurring_gift.slotOf(recurringGiftId),
          );
          donorId = recurring.donorId ?? donorId;
        }
      }
      const campaignId = rng.chance(0.85) ? dataset.pickLiveId('campaign', rng) : null;
      table.setOverrides(slot, {
        donorId,
        recurringGiftId,
        campaignName:
          campaignId === null
            ? null
            : dataset.campaignName(dataset.tables.campaign.slotOf(campaignId)),
      });
    } else if (resource === 'recurring_gift') {
      table.setOverrides(slot, { donorId: dataset.pickLiveId('donor', rng) });
    }
    return slot;
  }

  /** Queues the webhook for a created/updated record, carrying its state as of now. */
  private fire(org: Org, resource: RaiseResource, slot: number, kind: 'created' | 'updated'): void {
    if (org.subscriptions.size === 0) {
      return;
    }
    const [created, updated] = raiseEventTypesFor(resource);
    const eventType = kind === 'created' ? created : updated;
    const dataset = org.dataset;
    const snapshot = dataset.snapshot(resource, slot);
    const contextId = dataset.tables[resource].idOf(slot);
    this.webhooks.publish(
      org.id,
      {
        eventType,
        contextId,
        modifiedMs: snapshot.modified,
        render: (): RaiseWebhookPayload => ({
          eventType,
          eventTypeDisplay: RAISE_EVENT_TYPES[eventType]!.label,
          contextId,
          data: dataset.fromSnapshot(snapshot) as unknown as Record<string, unknown>,
        }),
      },
      org.subscriptions.values(),
    );
  }

  createRecord<R extends RaiseResource>(
    orgId: string,
    resource: R,
    partial?: RaisePatch<R>,
  ): RaiseModelByResource[R] {
    const org = this.org(orgId);
    assertRaise(resource);
    const slot = this.insert(org, resource);
    if (partial) {
      this.applyPatch(org, resource, slot, partial);
    }
    this.fire(org, resource, slot, 'created');
    return org.dataset.materialize(resource, slot) as RaiseModelByResource[R];
  }

  updateRecord<R extends RaiseResource>(
    orgId: string,
    resource: R,
    id: number,
    patch?: RaisePatch<R>,
  ): RaiseModelByResource[R] {
    const org = this.org(orgId);
    assertRaise(resource);
    const slot = this.slot(org, resource, id);
    if (patch) {
      this.applyPatch(org, resource, slot, patch);
    }
    return this.touch(org, resource, slot) as RaiseModelByResource[R];
  }

  /** Bumps the modified time to now and fires "updated"; used by PATCH and toggle-sync too. */
  touch(org: Org, resource: RaiseResource, slot: number): RaiseModelByResource[RaiseResource] {
    org.dataset.tables[resource].set(slot, 'modified', org.now());
    this.fire(org, resource, slot, 'updated');
    return org.dataset.materialize(resource, slot);
  }

  deleteRecord<R extends RaiseResource>(
    orgId: string,
    resource: R,
    id: number,
  ): RaiseModelByResource[R] {
    const org = this.org(orgId);
    assertRaise(resource);
    const slot = this.slot(org, resource, id);
    const before = org.dataset.materialize(resource, slot) as RaiseModelByResource[R];
    const at = org.now();
    org.dataset.tables[resource].remove(slot, at);
    if (org.subscriptions.size > 0) {
      const eventType = raiseEventTypesFor(resource)[2];
      const contextId = Number(id);
      const field = RAISE_MODIFIED_FIELD[resource];
      this.webhooks.publish(
        org.id,
        {
          eventType,
          contextId,
          modifiedMs: at,
          render: () => ({
            eventType,
            eventTypeDisplay: RAISE_EVENT_TYPES[eventType]!.label,
            contextId,
            data: { id: contextId, [field]: new Date(at).toISOString() },
          }),
        },
        org.subscriptions.values(),
      );
    }
    return before;
  }

  lateModify<R extends SimResource>(
    orgId: string,
    resource: R,
    id: number,
    at: string,
  ): ModelFor<R> {
    const org = this.org(orgId);
    assertResource(resource);
    const slot = this.slot(org, resource, id);
    let ms = typeof at === 'string' ? parseInstant(at) : Number.NaN;
    if (Number.isNaN(ms)) {
      throw new SimulatorError(400, 'at must be an ISO 8601 instant');
    }
    if (resource === 'user') {
      ms = Math.floor(ms / 1000) * 1000;
    }
    org.dataset.tables[resource].set(slot, 'modified', ms);
    org.observe(ms);
    return org.dataset.materialize(resource, slot);
  }

  emitWebhooks(orgId: string, options: EmitWebhooksOptions): EmitWebhooksResult {
    const org = this.org(orgId);
    const resource = options?.resource ?? 'gift';
    assertRaise(resource);
    const n = count(options?.count, 'count', 0);
    let firstId: number | null = null;
    let lastId: number | null = null;
    for (let i = 0; i < n; i++) {
      const slot = this.insert(org, resource);
      this.fire(org, resource, slot, 'created');
      lastId = org.dataset.tables[resource].idOf(slot);
      firstId ??= lastId;
    }
    return { count: n, firstId, lastId };
  }

  // --------------------------------------------------------------- users

  private emailIndex(org: Org): Map<string, number> {
    if (!org.emailIndex) {
      const index = new Map<string, number>();
      const table = org.dataset.tables.user;
      for (let slot = 0; slot < table.size; slot++) {
        if (table.isLive(slot)) {
          const email = org.dataset.materialize('user', slot).email;
          if (email && !index.has(email.toLowerCase())) {
            index.set(email.toLowerCase(), slot);
          }
        }
      }
      org.emailIndex = index;
    }
    return org.emailIndex;
  }

  findUserByEmail(org: Org, email: string): number {
    return this.emailIndex(org).get(email.toLowerCase()) ?? -1;
  }

  private reindexEmail(org: Org, slot: number, before: string | null): void {
    if (!org.emailIndex) {
      return;
    }
    const after = org.dataset.materialize('user', slot).email;
    if (before && org.emailIndex.get(before.toLowerCase()) === slot) {
      org.emailIndex.delete(before.toLowerCase());
    }
    if (after && !org.emailIndex.has(after.toLowerCase())) {
      org.emailIndex.set(after.toLowerCase(), slot);
    }
  }

  createUser(orgId: string, partial?: VomoUserPatch): VomoUserResource {
    const org = this.org(orgId);
    const now = Math.floor(Date.now() / 1000) * 1000;
    const slot = org.dataset.tables.user.append({ created: now, modified: now });
    if (partial) {
      this.applyPatch(org, 'user', slot, partial);
    }
    this.reindexEmail(org, slot, null);
    return org.dataset.materialize('user', slot);
  }

  updateUser(orgId: string, id: number, patch?: VomoUserPatch): VomoUserResource {
    const org = this.org(orgId);
    const slot = this.slot(org, 'user', id);
    const before = org.dataset.materialize('user', slot).email;
    if (patch) {
      this.applyPatch(org, 'user', slot, patch);
    }
    const table = org.dataset.tables.user;
    const now = Math.floor(Date.now() / 1000) * 1000;
    table.set(slot, 'modified', Math.max(now, table.modified[slot]!));
    this.reindexEmail(org, slot, before);
    return org.dataset.materialize('user', slot);
  }

  // ------------------------------------------------------------ queries

  records<R extends SimResource>(orgId: string, resource: R): Array<ModelFor<R>> {
    const org = this.org(orgId);
    assertResource(resource);
    const table = org.dataset.tables[resource];
    const out: Array<ModelFor<R>> = [];
    for (let slot = 0; slot < table.size; slot++) {
      if (table.isLive(slot)) {
        out.push(org.dataset.materialize(resource, slot));
      }
    }
    return out;
  }

  recordKeys(orgId: string, resource: SimResource): RecordKey[] {
    const org = this.org(orgId);
    assertResource(resource);
    const table = org.dataset.tables[resource];
    const format = resource === 'user' ? vomoTime : (ms: number) => new Date(ms).toISOString();
    const out: RecordKey[] = [];
    for (let slot = 0; slot < table.size; slot++) {
      if (table.isLive(slot)) {
        out.push({ id: table.idOf(slot), modifiedDate: format(table.modified[slot]!) });
      }
    }
    return out;
  }

  deletedIds(orgId: string, resource: SimResource): number[] {
    const org = this.org(orgId);
    assertResource(resource);
    const table = org.dataset.tables[resource];
    return [...table.deletedAt.keys()].map((slot) => table.idOf(slot)).sort((a, b) => a - b);
  }

  orgStats(orgId: string): OrgStats {
    this.org(orgId);
    return this.stats.snapshot(orgId, this.webhooks.pending(orgId));
  }

  setFaults(scope: string, faults: FaultConfig): void {
    if (scope !== '*') {
      this.org(scope);
    }
    let valid: FaultConfig;
    try {
      valid = validateFaults(faults);
    } catch (error) {
      throw new SimulatorError(400, (error as Error).message);
    }
    this.faults.set(scope, valid);
  }

  setWebhookRetry(options: WebhookRetryOptions): void {
    try {
      this.webhooks.configure(options ?? {});
    } catch (error) {
      throw new SimulatorError(400, (error as Error).message);
    }
  }

  /** The public control surface: plain closures, safe to destructure. */
  control(): SimulatorControl {
    return {
      createOrg: (options) => this.createOrg(options),
      removeOrg: (org) => this.removeOrg(org),
      listOrgs: () => [...this.orgs.values()].map((org) => this.summary(org)),
      createRecord: (org, resource, partial) => this.createRecord(org, resource, partial),
      updateRecord: (org, resource, id, patch) => this.updateRecord(org, resource, id, patch),
      deleteRecord: (org, resource, id) => this.deleteRecord(org, resource, id),
      lateModify: (org, resource, id, at) => this.lateModify(org, resource, id, at),
      createUser: (org, partial) => this.createUser(org, partial),
      updateUser: (org, id, patch) => this.updateUser(org, id, patch),
      emitWebhooks: (org, options) => this.emitWebhooks(org, options),
      setFaults: (org, faults) => this.setFaults(org, faults),
      resetFaults: () => this.faults.reset(),
      getFaults: () => this.faults.all(),
      setWebhookRetry: (options) => this.setWebhookRetry(options),
      droppedWebhooks: (org) => this.webhooks.dropped(this.org(org).id),
      webhookDeliveries: (org) => this.webhooks.deliveries(this.org(org).id),
      webhookSubscriptions: (org) =>
        [...this.org(org).subscriptions.values()].map((subscription) => ({ ...subscription })),
      flushWebhooks: () => this.webhooks.flush(),
      stats: (org) => this.orgStats(org),
      resetStats: () => this.stats.reset(),
      records: (org, resource) => this.records(org, resource),
      recordKeys: (org, resource) => this.recordKeys(org, resource),
      deletedIds: (org, resource) => this.deletedIds(org, resource),
    };
  }
}

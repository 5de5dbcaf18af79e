import { Inject, Injectable, Optional } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { PinoLogger } from 'nestjs-pino';
import { SourceClients } from '@raise-sync/sources/service';
import {
  crmLinks,
  RAISE_OPERATORS,
  RAISE_PARAMETERS,
  type RaiseCondition,
  type RaiseCredentials,
  type RaiseDonorModel,
  type RaiseGiftModel,
  type RaiseModelByResource,
  type RaiseRecurringGiftModel,
} from '@raise-sync/sources';
import { CustomerRepository, customerScope, type CustomerScope } from '@raise-sync/shared/state';
import { OpsAlerter } from '../alerts/ops-alerter.service';
import { DiscrepancyRepository, type Discrepancy } from '../runs/discrepancy.repository';
import type { ReconciliationCheck, RunContext, RunOutcome } from '../runs/run-types';
import { CampaignDirectory } from './campaign-directory';
import {
  classifyDonor,
  classifyGift,
  classifyRecurringGift,
  CrmTally,
  looksSingleProduct,
  raiseAdminLink,
  windowLabel,
  type CampaignInfo,
  type Classification,
  type CrmLookup,
} from './crm-classify';
import { ScheduleRepository } from '../schedule/schedule.repository';
import { CrmDestinationResolver, type CrmDestination } from './crm-destination';
import { CrossProductArrivalRepository } from '@raise-sync/shared/state';
import { CrmPlusLookups, type CrmPlusLookupOptions } from './crm-plus-lookups';
import { OneSidedArrivalCheck } from './one-sided';
import { OneSidedTally } from './one-sided-classify';
import { mapPool } from './pool';
import type { ReconcilerConfig } from '../reconciler.config';

/** Lookup tuning (timeouts, 429 waits); tests pass shorter ones. */
export const CRM_LOOKUP_OPTIONS = Symbol('CRM_LOOKUP_OPTIONS');

type CheckedResource = 'donor' | 'gift' | 'recurring_gift';
const CHECKED: CheckedResource[] = ['donor', 'gift', 'recurring_gift'];

/** Everything one run carries from page to page. */
interface RunScope {
  ctx: RunContext;
  customer: CustomerScope;
  creds: RaiseCredentials;
  crm: CrmDestination;
  lookups: CrmPlusLookups;
  campaigns: CampaignDirectory;
  tally: CrmTally;
  settings: Record<string, unknown>;
  runStartedAt: Date;
  /** The first reason CRM+ could not be asked, for the log and the unreachable alert. */
  firstUnreachable: string | null;
}

const hasKey = (crmKey: unknown): crmKey is string =>
  typeof crmKey === 'string' && crmKey.trim() !== '';

const timeOf = (value: unknown): Date | null => {
  if (typeof value !== 'string' || value === '') {
    return null;
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms);
};

const asRecord = (value: unknown): Record<string, unknown> | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;

/**
 * Raise vs CRM+ consistency (seed 001, pattern 1: crmKey as the join key), for one customer and one
 * closed window of Raise modified times. Streams the window's donors, gifts and recurring gifts a
 * page at a time and asks the customer's CRM+ about each, with bounded concurrency:
 *
 * - donor: no crmKey → not_yet_synced; `GET /api/Contact/{crmKey}` 200 → consistent, 404 →
 *   orphaned_crm_key (actionable), anything else → crm_unreachable;
 * - gift: `GET /api/v2/Gift/Transaction?transactionSource&transactionId=<gift id>`; found →
 *   consistent; absent → missing_in_crm once older than RECONCILER_CRM_LAG_MINUTES (actionable
 *   unless its campaign has canSync false or it is in test mode), else not_yet_synced;
 * - recurring gift: no crmKey → not_yet_synced; with one → counted as not checked (there is no
 *   recurring-gift lookup to call).
 *
 * Every non-consistent record is stored with its details; consistent ones are only counted. One
 * ops alert lists the actionable records; if CRM+ never answered, one "CRM+ unreachable" alert is
 * raised instead of a line per record. Nothing is remediated: the platform's sync is not ours to
 * drive. Customers without CRM+ (no destination, or a window of ≥ 20 donors none of which has a
 * crmKey) are skipped, the latter remembered in the schedule's settings (`singleProduct: true`).
 */
@Injectable()
export class CrmConsistencyCheck implements ReconciliationCheck {
  readonly kind = 'crm-consistency' as const;
  private readonly pageSize: number;
  private readonly concurrency: number;
  private readonly lagMinutes: number;
  private readonly defaults: { timezone: string; runAtMinute: number };

  constructor(
    private readonly customers: CustomerRepository,
    private readonly schedules: ScheduleRepository,
    private readonly arrivals: CrossProductArrivalRepository,
    config: ConfigService<ReconcilerConfig, true>,
    private readonly clients: SourceClients,
    private readonly destinations: CrmDestinationResolver,
    private readonly recorder: DiscrepancyRepository,
    private readonly alerter: OpsAlerter,
    private readonly log: PinoLogger,
    @Optional()
    @Inject(CRM_LOOKUP_OPTIONS)
    private readonly lookupOptions: CrmPlusLookupOptions = {},
  ) {
    const reconciler = config.get('reconciler', { infer: true });
    this.pageSize = reconciler.pageSize;
    this.concurrency = reconciler.lookupConcurrency;
    this.lagMinutes = reconciler.crmLagMinutes;
    this.defaults = {
      timezone: reconciler.defaultTimezone,
      runAtMinute: reconciler.runAtMinute,
    };
    this.log.setContext('crm-consistency');
  }

  async run(ctx: RunContext): Promise<RunOutcome> {
    const runStartedAt = new Date();
    const { customerId } = ctx;
    const customerKey = customerScope(customerId);
    const settings = {
      ...ctx.settings,
      ...(await this.schedules.settings(customerKey, this.kind)),
    };
    if (settings.singleProduct === true) {
      return {
        status: 'skipped',
        counts: {},
        note: 'single-product: no donor carried a crmKey (detected earlier); clear settings.singleProduct to check again',
      };
    }
    const resolved = await this.destinations.resolve(customerKey, settings);
    if (!resolved.found) {
      return { status: 'skipped', counts: {}, note: resolved.reason };
    }
    const customer = await this.customers.get(customerKey);
    const credentials = await this.customers.credentials(customerKey);
    const token = credentials.raise?.apiToken;
    if (!customer || !token) {
      throw new Error('the customer has no Raise API token: cannot read its Raise records');
    }
    const creds: RaiseCredentials = { customerId, token };
    const scope: RunScope = {
      ctx,
      customer: customerKey,
      creds,
      crm: resolved.destination,
      lookups: new CrmPlusLookups(resolved.destination.target, this.lookupOptions),
      campaigns: new CampaignDirectory(this.clients.raise, creds, ctx.signal),
      tally: new CrmTally(),
      settings,
      runStartedAt,
      firstUnreachable: null,
    };
    const resources = CHECKED.filter((r) => ctx.resources === null || ctx.resources.includes(r));

    if (resources.includes('donor')) {
      const donors = await this.checkDonors(scope);
      if (looksSingleProduct(donors.total, donors.withKey)) {
        await this.markSingleProduct(scope, donors.total);
        return {
          status: 'skipped',
          counts: { donor_total: donors.total, donors_with_crm_key: 0 },
          note: `single-product: none of ${donors.total} donors in the window has a crmKey; later runs are skipped until settings.singleProduct is cleared`,
        };
      }
    }
    if (resources.includes('gift')) {
      await this.checkGifts(scope);
    }
    if (resources.includes('recurring_gift')) {
      await this.checkRecurringGifts(scope);
    }

    // Dual-webhook one-sided arrivals: only when ingest registered a CRM+ webhook for the customer.
    const oneSided =
      resources.includes('gift') && credentials.crmPlus?.subscriptionId
        ? await new OneSidedArrivalCheck(this.arrivals, this.clients.raise, this.recorder, {
            lagMinutes: this.lagMinutes,
            pageSize: this.pageSize,
            concurrency: this.concurrency,
          }).run(scope)
        : new OneSidedTally();
    const counts = { ...scope.tally.counts(), ...oneSided.counts() };
    counts.actionable = (counts.actionable ?? 0) + oneSided.actionable;
    const label = windowLabel(ctx.windowStart, ctx.windowEnd);
    const logFields = {
      customerId,
      runId: ctx.runId,
      destinationId: scope.crm.destinationId,
      counts,
      crmRequests: scope.lookups.requests,
      crmRateLimited: scope.lookups.rateLimited,
    };
    if (counts.crm_unreachable) {
      this.log.warn(
        { ...logFields, err: scope.firstUnreachable },
        `CRM+ could not be asked about ${counts.crm_unreachable} records`,
      );
    }
    if (scope.tally.everyLookupUnreachable()) {
      await this.alerter.raise({
        runId: ctx.runId,
        customerId,
        severity: 'warning',
        title: `CRM+ unreachable for ${customer.name} on ${label}`,
        details: {
          customer: { id: customerId, name: customer.name },
          kind: this.kind,
          runId: ctx.runId,
          window: { start: ctx.windowStart.toISOString(), end: ctx.windowEnd.toISOString() },
          destination: { id: scope.crm.destinationId, name: scope.crm.name },
          reason: scope.lookups.stopReason ?? scope.firstUnreachable,
          lookups: counts.lookups,
          counts,
        },
      });
    }
    if (counts.actionable) {
      await this.alerter.raiseForRun({
        runId: ctx.runId,
        customerId,
        kind: this.kind,
        windowStart: ctx.windowStart,
        windowEnd: ctx.windowEnd,
        counts,
        title: (n, name) =>
          `${n} Raise record${n === 1 ? '' : 's'} out of line with CRM+ for ${name} on ${label}`,
      });
    }
    this.log.info(logFields, 'Raise vs CRM+ consistency checked');
    return { status: 'done', counts, note: summary(counts) };
  }

  private async checkDonors(scope: RunScope): Promise<{ total: number; withKey: number }> {
    let total = 0;
    let withKey = 0;
    for await (const donors of this.pages(scope, 'donor')) {
      const lookups = await mapPool(donors, this.concurrency, (donor) =>
        hasKey(donor.crmKey) ? scope.lookups.contact(donor.crmKey) : Promise.resolve(undefined),
      );
      const found: Discrepancy[] = [];
      donors.forEach((donor, i) => {
        const linked = hasKey(donor.crmKey);
        total += 1;
        withKey += linked ? 1 : 0;
        const c = classifyDonor(donor, lookups[i]);
        this.count(scope, 'donor', c, { linked, looked: linked });
        if (c.store) {
          found.push(this.discrepancy(scope, 'donor', String(donor.id), c, donorDetails(donor)));
        }
      });
      await this.recorder.record(scope.customer, scope.ctx.runId, found);
    }
    return { total, withKey };
  }

  private async checkGifts(scope: RunScope): Promise<void> {
    for await (const gifts of this.pages(scope, 'gift')) {
      const lookups = await mapPool(gifts, this.concurrency, (gift) =>
        scope.lookups.gift(String(gift.id)),
      );
      const found: Discrepancy[] = [];
      for (const [i, gift] of gifts.entries()) {
        const lookup = lookups[i] as CrmLookup;
        // The campaign only matters for a gift CRM+ lacks; read once per campaign per run.
        const campaign = lookup.outcome === 'not_found' ? await scope.campaigns.of(gift) : null;
        const c = classifyGift(
          {
            isTestMode: gift.isTestMode === true,
            createdAt: timeOf(gift.createdDate) ?? timeOf(gift.date),
            campaign,
          },
          lookup,
          { runStartedAt: scope.runStartedAt, lagMinutes: this.lagMinutes },
        );
        this.count(scope, 'gift', c, { linked: true, looked: true });
        if (c.store) {
          found.push(
            this.discrepancy(scope, 'gift', String(gift.id), c, giftDetails(gift, campaign)),
          );
        }
      }
      await this.recorder.record(scope.customer, scope.ctx.runId, found);
    }
  }

  private async checkRecurringGifts(scope: RunScope): Promise<void> {
    for await (const schedules of this.pages(scope, 'recurring_gift')) {
      const found: Discrepancy[] = [];
      for (const recurring of schedules) {
        const c = classifyRecurringGift(recurring);
        this.count(scope, 'recurring_gift', c, { linked: hasKey(recurring.crmKey), looked: false });
        if (c.store) {
          found.push(
            this.discrepancy(
              scope,
              'recurring_gift',
              String(recurring.id),
              c,
              recurringDetails(recurring),
            ),
          );
        }
      }
      await this.recorder.record(scope.customer, scope.ctx.runId, found);
    }
  }

  /** The window's records of one resource, a page at a time, in (modified time, id) order. */
  private async *pages<R extends CheckedResource>(
    scope: RunScope,
    resource: R,
  ): AsyncGenerator<Array<RaiseModelByResource[R]>> {
    const { ctx } = scope;
    const window: RaiseCondition[] = [
      {
        parameter: RAISE_PARAMETERS.modified,
        operator: RAISE_OPERATORS.greaterThanOrEqual,
        value: ctx.windowStart.toISOString(),
      },
      {
        parameter: RAISE_PARAMETERS.modified,
        operator: RAISE_OPERATORS.lessThan,
        value: ctx.windowEnd.toISOString(),
      },
    ];
    ctx.signal.throwIfAborted();
    const stream = this.clients.raise.streamModifiedSince(scope.creds, resource, {
      after: null,
      pageSize: this.pageSize,
      // Gifts with their donor embedded: the donor's crmKeyUrls are the links ops follow.
      includeDetails: resource === 'gift',
      extraConditions: window,
      signal: ctx.signal,
    });
    for await (const page of stream) {
      yield page.items;
      ctx.signal.throwIfAborted();
    }
  }

  private count(
    scope: RunScope,
    resource: CheckedResource,
    c: Classification,
    facts: { linked: boolean; looked: boolean },
  ): void {
    scope.tally.add(resource, c, facts);
    if (c.state === 'crm_unreachable') {
      scope.firstUnreachable ??= c.cause;
    }
  }

  private discrepancy(
    scope: RunScope,
    resource: CheckedResource,
    sourceId: string,
    c: Classification,
    details: Record<string, unknown>,
  ): Discrepancy {
    return {
      resource,
      sourceId,
      destinationId: scope.crm.destinationId,
      state: c.state,
      actionable: c.actionable,
      details: {
        likelyCause: c.cause,
        ...details,
        raiseAdminUrl: raiseAdminLink(scope.settings.raiseAdminUrl, resource, sourceId),
      },
    };
  }

  /**
   * Remembers that the customer does not run the platform's Raise → CRM+ sync, and drops what this
   * run stored so far (only not-yet-synced donors: none had a key to look up).
   */
  private async markSingleProduct(scope: RunScope, donors: number): Promise<void> {
    const { ctx } = scope;
    const mark = {
      singleProduct: true,
      singleProductDetectedAt: new Date().toISOString(),
      singleProductRunId: ctx.runId,
    };
    await this.schedules.markSingleProduct(
      scope.customer,
      ctx.runId,
      this.kind,
      mark,
      this.defaults,
    );
    this.log.info(
      { customerId: ctx.customerId, runId: ctx.runId, donors },
      'single-product customer detected: no donor has a crmKey; CRM+ consistency runs are skipped from now on',
    );
  }
}

function donorDetails(donor: RaiseDonorModel): Record<string, unknown> {
  return {
    name: donor.name,
    isTestMode: donor.isTestMode === true,
    crmKey: donor.crmKey ?? null,
    crmKeyUrls: crmLinks(donor.crmKeyUrls),
    modifiedDate: donor.modifiedDate,
  };
}

function giftDetails(gift: RaiseGiftModel, campaign: CampaignInfo | null): Record<string, unknown> {
  const donor = asRecord(gift.donor);
  const own = crmLinks(gift.crmKeyUrls);
  return {
    amount: gift.amount,
    currency: gift.currency,
    formattedAmount: typeof gift.formattedAmount === 'string' ? gift.formattedAmount : null,
    date: gift.date,
    createdDate: gift.createdDate,
    campaign: campaign
      ? { id: campaign.id, name: campaign.name }
      : gift.campaignName
        ? { id: null, name: gift.campaignName }
        : null,
    canSync: campaign?.canSync ?? null,
    isTestMode: gift.isTestMode === true,
    donorId: gift.donorId,
    crmKey: typeof gift.crmKey === 'string' ? gift.crmKey : null,
    donorCrmKey: typeof donor?.crmKey === 'string' ? donor.crmKey : null,
    // Gifts carry no crmKeyUrls of their own in the documented model; the donor's link is the
    // way into CRM+ for ops.
    crmKeyUrls: own.length > 0 ? own : crmLinks(donor?.crmKeyUrls),
  };
}

function recurringDetails(recurring: RaiseRecurringGiftModel): Record<string, unknown> {
  return {
    amount: recurring.amount,
    currency: recurring.currencyCode,
    isTestMode: recurring.isTestMode === true,
    crmKey: recurring.crmKey ?? null,
    crmKeyUrls: crmLinks(recurring.crmKeyUrls),
    modifiedDate: recurring.modifiedDate,
  };
}

function summary(counts: Record<string, number>): string {
  const n = (key: string): number => counts[key] ?? 0;
  return (
    `${n('actionable')} actionable (${n('orphaned_crm_key')} orphaned crmKey, ` +
    `${n('missing_in_crm')} missing in CRM+); ${n('consistent')} consistent, ` +
    `${n('not_yet_synced')} not yet synced, ${n('crm_unreachable')} CRM+ unreachable, ` +
    `${n('expected_not_synced')} canSync false, ${n('test_mode')} test mode, ` +
    `${n('not_checked')} not checked, of ${n('raise_total')} Raise records; ` +
    `one-sided arrivals: ${n('one_sided_only_in_raise')} only in Raise, ` +
    `${n('one_sided_only_in_crm')} only in CRM+`
  );
}

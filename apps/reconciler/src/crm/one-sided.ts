import {
  crmLinks,
  type RaiseClient,
  type RaiseCredentials,
  type RaiseGiftModel,
} from '@raise-sync/sources';
import { customerScope, type CustomerScope } from '@raise-sync/shared/state';
import type { Discrepancy, DiscrepancyRepository } from '../runs/discrepancy.repository';
import type { RunContext } from '../runs/run-types';
import type { CampaignDirectory } from './campaign-directory';
import { raiseAdminLink, type CampaignInfo } from './crm-classify';
import type { CrmDestination } from './crm-destination';
import type { ArrivalRow, CrossProductArrivalRepository } from '@raise-sync/shared/state';
import { judgeOneSided, ONE_SIDED_HORIZON_DAYS, OneSidedTally } from './one-sided-classify';
import { mapPool } from './pool';

export interface OneSidedScope {
  ctx: RunContext;
  creds: RaiseCredentials;
  crm: CrmDestination;
  campaigns: CampaignDirectory;
  settings: Record<string, unknown>;
  runStartedAt: Date;
}

export interface OneSidedOptions {
  lagMinutes: number;
  pageSize: number;
  concurrency: number;
}

const RAISE_ID = /^\d{1,18}$/;

/**
 * Dual-webhook one-sided arrivals (seed 001, "Detecting one-sided arrivals") for one customer:
 * gift rows of `cross_product_arrivals` that only one product's webhook reported, first seen
 * before the run started minus RECONCILER_CRM_LAG_MINUTES (and within the last
 * ONE_SIDED_HORIZON_DAYS). Each is checked against Raise by ID, a page at a time:
 *
 * - only Raise reported it: `one_sided` / only_in_raise, actionable unless test mode or canSync
 *   false (a gift since deleted from Raise is only counted);
 * - only CRM+ reported it and Raise has no such gift: `one_sided` / only_in_crm, actionable;
 * - only CRM+ reported it but Raise has the gift: we missed Raise's webhook, the gift itself is
 *   fine. The Raise side is filled in and the row is no longer one-sided.
 *
 * Nothing is remediated. Both-sided rows older than the horizon are pruned at the end.
 */
export class OneSidedArrivalCheck {
  constructor(
    private readonly arrivals: CrossProductArrivalRepository,
    private readonly raise: RaiseClient,
    private readonly recorder: DiscrepancyRepository,
    private readonly options: OneSidedOptions,
  ) {}

  async run(scope: OneSidedScope): Promise<OneSidedTally> {
    const { ctx } = scope;
    const customer = customerScope(ctx.customerId);
    const tally = new OneSidedTally();
    const cutoff = new Date(scope.runStartedAt.getTime() - this.options.lagMinutes * 60_000);
    const horizon = new Date(cutoff.getTime() - ONE_SIDED_HORIZON_DAYS * 86_400_000);
    let afterId = '0';
    for (;;) {
      ctx.signal.throwIfAborted();
      const rows = await this.arrivals.oneSidedGifts(
        customer,
        cutoff,
        horizon,
        afterId,
        this.options.pageSize,
      );
      if (rows.length === 0) {
        break;
      }
      afterId = rows[rows.length - 1]!.id;
      await this.page(scope, customer, rows, tally);
    }
    await this.arrivals.pruneBothSided(customer, horizon);
    return tally;
  }

  private async page(
    scope: OneSidedScope,
    customer: CustomerScope,
    rows: ArrivalRow[],
    tally: OneSidedTally,
  ): Promise<void> {
    const gifts = await mapPool(rows, this.options.concurrency, (row) =>
      RAISE_ID.test(row.raise_id)
        ? this.raise.get(scope.creds, 'gift', row.raise_id, scope.ctx.signal)
        : Promise.resolve(null),
    );
    const found: Discrepancy[] = [];
    const confirmed: string[] = [];
    for (const [i, row] of rows.entries()) {
      const gift = gifts[i] ?? null;
      // The campaign only matters for a gift CRM+ never confirmed.
      const campaign =
        gift !== null && row.crm_seen_at === null ? await scope.campaigns.of(gift) : null;
      const verdict = judgeOneSided(
        { raiseSeen: row.raise_seen_at !== null, crmSeen: row.crm_seen_at !== null },
        gift === null ? null : { isTestMode: gift.isTestMode === true, campaign },
      );
      tally.add(verdict);
      if (verdict.kind === 'confirmed_in_raise') {
        confirmed.push(row.id);
      } else if (verdict.kind === 'report') {
        found.push({
          resource: 'gift',
          sourceId: row.raise_id,
          destinationId: scope.crm.destinationId,
          state: 'one_sided',
          actionable: verdict.actionable,
          details: {
            likelyCause: verdict.cause,
            side: verdict.side,
            ...arrivalDetails(row, gift, campaign),
            raiseAdminUrl:
              gift === null
                ? null
                : raiseAdminLink(scope.settings.raiseAdminUrl, 'gift', row.raise_id),
          },
        });
      }
    }
    if (confirmed.length > 0) {
      await this.arrivals.confirmRaiseSide(customer, confirmed);
    }
    await this.recorder.record(customer, scope.ctx.runId, found);
  }
}

/** What ops needs to find both records: IDs, arrival times, amounts as each side reported them. */
function arrivalDetails(
  row: ArrivalRow,
  gift: RaiseGiftModel | null,
  campaign: CampaignInfo | null,
): Record<string, unknown> {
  const seen = row.details;
  return {
    raiseGiftId: row.raise_id,
    crmGiftId: row.crm_id,
    raiseSeenAt: row.raise_seen_at?.toISOString() ?? null,
    crmSeenAt: row.crm_seen_at?.toISOString() ?? null,
    crmEvent: row.crm_event,
    amount: gift?.amount ?? seen.raiseAmount ?? seen.crmAmount ?? null,
    currency: gift?.currency ?? seen.raiseCurrency ?? seen.crmCurrency ?? null,
    crmAmount: seen.crmAmount ?? null,
    campaign: campaign
      ? { id: campaign.id, name: campaign.name }
      : gift?.campaignName
        ? { id: null, name: gift.campaignName }
        : null,
    canSync: campaign?.canSync ?? null,
    isTestMode: gift ? gift.isTestMode === true : null,
    donorId: gift?.donorId ?? seen.donorId ?? null,
    crmKeyUrls: crmLinks(gift?.crmKeyUrls),
  };
}

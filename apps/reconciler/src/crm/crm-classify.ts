import type { DiscrepancyState } from '@raise-sync/shared/state';

/**
 * Pure rules of the Raise vs CRM+ consistency check (seed 001, pattern 1). No I/O here: the check
 * feeds in what Raise said about a record and what CRM+ answered, and gets back the state to store,
 * whether ops must act on it, and the bucket it is counted in.
 */

/** What one CRM+ lookup said. */
export type CrmLookup =
  | { outcome: 'found'; crmId: string | null }
  | { outcome: 'not_found' }
  /** 401/403, 5xx, timeout, network error, 429 beyond our retries, or not attempted at all. */
  | { outcome: 'unreachable'; reason: string };

/** The campaign of a gift as far as sync is concerned; canSync null = could not be determined. */
export interface CampaignInfo {
  id: string | null;
  name: string | null;
  canSync: boolean | null;
}

/**
 * Mutually exclusive buckets: every Raise record examined lands in exactly one, so they add up to
 * raise_total. `expected_not_synced` (canSync false) and `test_mode` hold records CRM+ lacks on
 * purpose; `not_checked` holds recurring gifts whose crmKey cannot be verified (no CRM+ lookup).
 */
export const CRM_BUCKETS = [
  'consistent',
  'not_yet_synced',
  'orphaned_crm_key',
  'missing_in_crm',
  'crm_unreachable',
  'expected_not_synced',
  'test_mode',
  'not_checked',
] as const;
export type CrmBucket = (typeof CRM_BUCKETS)[number];

export interface Classification {
  state: DiscrepancyState;
  actionable: boolean;
  bucket: CrmBucket;
  /** Short, human likely cause; what ops reads first. */
  cause: string;
  /** Stored as a discrepancy row: every state but consistent (and unverifiable recurring gifts). */
  store: boolean;
}

export const CAUSES = {
  orphaned: 'CRM+ record deleted or link set incorrectly',
  missing: 'sync failed: gift not in CRM+ after the sync-lag window',
  withinLag: 'within the sync-lag window',
  notLinked: 'not linked yet: sync pending, or its campaign has canSync false',
  canSyncFalse: 'canSync false',
  testMode: 'test mode',
  recurringNotChecked: 'not checked: CRM+ has no recurring-gift lookup we can call',
  consistent: 'consistent',
} as const;

const consistent = (): Classification => ({
  state: 'consistent',
  actionable: false,
  bucket: 'consistent',
  cause: CAUSES.consistent,
  store: false,
});

const unreachable = (reason: string): Classification => ({
  state: 'crm_unreachable',
  actionable: false,
  bucket: 'crm_unreachable',
  cause: reason,
  store: true,
});

const stored = (
  state: DiscrepancyState,
  bucket: CrmBucket,
  cause: string,
  actionable = false,
): Classification => ({ state, bucket, cause, actionable, store: true });

const hasKey = (crmKey: string | null | undefined): crmKey is string =>
  typeof crmKey === 'string' && crmKey.trim() !== '';

/**
 * A donor joined to its CRM+ contact through crmKey. Without a key there is nothing to look up
 * (`lookup` is ignored); with one, the contact's existence decides. A test-mode donor is never
 * actionable: test data may sync differently or not at all.
 */
export function classifyDonor(
  donor: { crmKey: string | null | undefined; isTestMode: boolean },
  lookup: CrmLookup | undefined,
): Classification {
  if (!hasKey(donor.crmKey)) {
    return stored('not_yet_synced', 'not_yet_synced', CAUSES.notLinked);
  }
  if (!lookup) {
    throw new Error('a donor with a crmKey needs a CRM+ lookup');
  }
  switch (lookup.outcome) {
    case 'found':
      return consistent();
    case 'unreachable':
      return unreachable(lookup.reason);
    case 'not_found':
      return donor.isTestMode
        ? stored('orphaned_crm_key', 'test_mode', CAUSES.testMode)
        : stored('orphaned_crm_key', 'orphaned_crm_key', CAUSES.orphaned, true);
  }
}

/**
 * A gift joined to the CRM+ gift carrying its ID as transactionId. A gift CRM+ lacks is missing
 * once it is older than the sync lag; before that it is merely not synced yet. Test-mode gifts and
 * gifts under a campaign with canSync false are expected to be absent: stored with their cause,
 * never actionable. An undetermined canSync (no campaign found) does not excuse a missing gift.
 */
export function classifyGift(
  gift: { isTestMode: boolean; createdAt: Date | null; campaign: CampaignInfo | null },
  lookup: CrmLookup,
  timing: { runStartedAt: Date; lagMinutes: number },
): Classification {
  switch (lookup.outcome) {
    case 'found':
      return consistent();
    case 'unreachable':
      return unreachable(lookup.reason);
    case 'not_found':
      break;
  }
  const cutoff = timing.runStartedAt.getTime() - timing.lagMinutes * 60_000;
  // No creation time at all: treat it as old, so a gap is never hidden by missing data.
  const old = gift.createdAt === null || gift.createdAt.getTime() < cutoff;
  const state: DiscrepancyState = old ? 'missing_in_crm' : 'not_yet_synced';
  if (gift.isTestMode) {
    return stored(state, 'test_mode', CAUSES.testMode);
  }
  if (gift.campaign?.canSync === false) {
    return stored(state, 'expected_not_synced', CAUSES.canSyncFalse);
  }
  return old
    ? stored(state, 'missing_in_crm', CAUSES.missing, true)
    : stored(state, 'not_yet_synced', CAUSES.withinLag);
}

/**
 * A recurring gift: without crmKey it is not linked yet; with one it cannot be verified, since
 * neither the CRM+ reference nor our simulator offers a recurring-gift lookup by ID.
 */
export function classifyRecurringGift(recurring: {
  crmKey: string | null | undefined;
}): Classification {
  return hasKey(recurring.crmKey)
    ? {
        state: 'consistent',
        actionable: false,
        bucket: 'not_checked',
        cause: CAUSES.recurringNotChecked,
        store: false,
      }
    : stored('not_yet_synced', 'not_yet_synced', CAUSES.notLinked);
}

/**
 * The run's counts. Buckets are exclusive (see CRM_BUCKETS); on top of them: raise_total and
 * source_total (records examined), crm_found and destination_total (CRM+ lookups that found the
 * record), not_yet_linked (donors and recurring gifts without crmKey), actionable, lookups and
 * per-resource totals.
 */
export class CrmTally {
  private readonly buckets = new Map<CrmBucket, number>(CRM_BUCKETS.map((b) => [b, 0]));
  private readonly perResource = new Map<string, number>();
  private total = 0;
  private found = 0;
  private notLinked = 0;
  private actionable = 0;
  private lookups = 0;
  private unreachableLookups = 0;

  add(resource: string, c: Classification, facts: { linked: boolean; looked: boolean }): void {
    this.total += 1;
    this.perResource.set(resource, (this.perResource.get(resource) ?? 0) + 1);
    this.buckets.set(c.bucket, (this.buckets.get(c.bucket) ?? 0) + 1);
    if (c.actionable) {
      this.actionable += 1;
    }
    if (!facts.linked) {
      this.notLinked += 1;
    }
    if (facts.looked) {
      this.lookups += 1;
      if (c.state === 'crm_unreachable') {
        this.unreachableLookups += 1;
      }
      if (c.bucket === 'consistent') {
        this.found += 1;
      }
    }
  }

  /** True when CRM+ was asked at least once and never answered. */
  everyLookupUnreachable(): boolean {
    return this.lookups > 0 && this.unreachableLookups === this.lookups;
  }

  get actionableCount(): number {
    return this.actionable;
  }

  counts(): Record<string, number> {
    const counts: Record<string, number> = {
      raise_total: this.total,
      source_total: this.total,
      crm_found: this.found,
      destination_total: this.found,
      not_yet_linked: this.notLinked,
      actionable: this.actionable,
      lookups: this.lookups,
    };
    for (const [bucket, n] of this.buckets) {
      counts[bucket] = n;
    }
    for (const [resource, n] of this.perResource) {
      counts[`${resource}_total`] = n;
    }
    return counts;
  }
}

/** Single-product rule: enough donors in the window and not one carries a crmKey. */
export const SINGLE_PRODUCT_MIN_DONORS = 20;

export function looksSingleProduct(donors: number, donorsWithKey: number): boolean {
  return donors >= SINGLE_PRODUCT_MIN_DONORS && donorsWithKey === 0;
}

/**
 * A Raise admin link from an operator-given template (`settings.raiseAdminUrl`, e.g.
 * `https://admin.example.org/{resource}/{id}`); null without a template. We do not guess Raise's
 * admin URL scheme.
 */
export function raiseAdminLink(template: unknown, resource: string, id: string): string | null {
  if (typeof template !== 'string' || template.trim() === '') {
    return null;
  }
  return template
    .replaceAll('{resource}', encodeURIComponent(resource))
    .replaceAll('{id}', encodeURIComponent(id));
}

/** `2026-11-20` for a window that is exactly one UTC day, else `start – end` in ISO. */
export function windowLabel(start: Date, end: Date): string {
  const day = 86_400_000;
  if (start.getTime() % day === 0 && end.getTime() - start.getTime() === day) {
    return start.toISOString().slice(0, 10);
  }
  return `${start.toISOString()} – ${end.toISOString()}`;
}

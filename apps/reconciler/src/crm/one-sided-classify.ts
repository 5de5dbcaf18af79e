import { classifyGift, type CampaignInfo } from './crm-classify';

/**
 * Pure rules of the dual-webhook check (seed 001, pattern 2): what a gift arrival seen from one
 * side only means, once the lag window has passed. No I/O, so the rules are unit-tested directly.
 */

export type OneSidedSide = 'only_in_raise' | 'only_in_crm';

export const ONE_SIDED_CAUSES = {
  only_in_raise: 'CRM+ never confirmed the Raise gift',
  only_in_crm: 'CRM+ gift references a Raise gift we never saw',
} as const;

/** How far back one-sided arrivals are reported; older ones have been reported for a month. */
export const ONE_SIDED_HORIZON_DAYS = 30;

/** What Raise says about the gift an arrival names (null: Raise has no such gift). */
export interface RaiseGiftFacts {
  isTestMode: boolean;
  campaign: CampaignInfo | null;
}

export type OneSidedVerdict =
  /** Stored as a `one_sided` discrepancy. */
  | { kind: 'report'; side: OneSidedSide; actionable: boolean; cause: string }
  /**
   * Only CRM+ told us, but Raise does have the gift: its Raise webhook was missed (the poller
   * captured it). Not one-sided; the Raise side of the row is filled in.
   */
  | { kind: 'confirmed_in_raise' }
  /** Only Raise told us, and the gift is gone from Raise since: nothing left to confirm. */
  | { kind: 'gone_from_raise' };

/**
 * `crmSeen`/`raiseSeen` say which side arrived; `raise` is the Raise gift looked up by ID now. A
 * gift CRM+ never confirmed is judged like a gift missing from CRM+ by the crmKey check (same
 * helper): test-mode gifts and gifts of campaigns with canSync false are expected to stay out of
 * CRM+, so they are stored with that cause and never actionable.
 */
export function judgeOneSided(
  arrival: { raiseSeen: boolean; crmSeen: boolean },
  raise: RaiseGiftFacts | null,
): OneSidedVerdict {
  if (arrival.raiseSeen === arrival.crmSeen) {
    throw new Error('an arrival is one-sided only when exactly one side was seen');
  }
  if (arrival.crmSeen) {
    return raise === null
      ? {
          kind: 'report',
          side: 'only_in_crm',
          actionable: true,
          cause: ONE_SIDED_CAUSES.only_in_crm,
        }
      : { kind: 'confirmed_in_raise' };
  }
  if (raise === null) {
    return { kind: 'gone_from_raise' };
  }
  // The lag was applied to the arrival already: judge the gift as old (createdAt null).
  const c = classifyGift(
    { isTestMode: raise.isTestMode, createdAt: null, campaign: raise.campaign },
    { outcome: 'not_found' },
    { runStartedAt: new Date(0), lagMinutes: 0 },
  );
  return {
    kind: 'report',
    side: 'only_in_raise',
    actionable: c.actionable,
    cause: c.actionable ? ONE_SIDED_CAUSES.only_in_raise : c.cause,
  };
}

/** The run's counts for this part of the check. */
export class OneSidedTally {
  onlyInRaise = 0;
  onlyInCrm = 0;
  actionable = 0;
  confirmedInRaise = 0;
  goneFromRaise = 0;
  checked = 0;

  add(verdict: OneSidedVerdict): void {
    this.checked += 1;
    switch (verdict.kind) {
      case 'report':
        if (verdict.side === 'only_in_raise') {
          this.onlyInRaise += 1;
        } else {
          this.onlyInCrm += 1;
        }
        this.actionable += verdict.actionable ? 1 : 0;
        break;
      case 'confirmed_in_raise':
        this.confirmedInRaise += 1;
        break;
      case 'gone_from_raise':
        this.goneFromRaise += 1;
        break;
    }
  }

  counts(): Record<string, number> {
    return {
      one_sided_checked: this.checked,
      one_sided_only_in_raise: this.onlyInRaise,
      one_sided_only_in_crm: this.onlyInCrm,
      one_sided_actionable: this.actionable,
      one_sided_confirmed_in_raise: this.confirmedInRaise,
      one_sided_gone_from_raise: this.goneFromRaise,
    };
  }
}

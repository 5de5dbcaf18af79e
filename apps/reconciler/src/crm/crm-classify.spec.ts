import {
  CAUSES,
  CRM_BUCKETS,
  classifyDonor,
  classifyGift,
  classifyRecurringGift,
  CrmTally,
  looksSingleProduct,
  raiseAdminLink,
  windowLabel,
  type CampaignInfo,
  type CrmLookup,
} from './crm-classify';

const FOUND: CrmLookup = { outcome: 'found', crmId: '200001' };
const MISSING: CrmLookup = { outcome: 'not_found' };
const DOWN: CrmLookup = { outcome: 'unreachable', reason: 'CRM+ answered HTTP 503' };
const RUN = new Date('2026-11-21T06:00:00.000Z');
const TIMING = { runStartedAt: RUN, lagMinutes: 60 };
const SYNCING: CampaignInfo = { id: '101', name: 'Spring', canSync: true };
const PAUSED: CampaignInfo = { id: '102', name: 'Test campaign', canSync: false };
const OLD = new Date('2026-11-20T10:00:00.000Z');
const YOUNG = new Date('2026-11-21T05:30:00.000Z');

describe('classifyDonor', () => {
  it('treats a donor without crmKey as not yet synced, without asking CRM+', () => {
    for (const crmKey of [null, undefined, '', '  ']) {
      expect(classifyDonor({ crmKey, isTestMode: false }, undefined)).toEqual({
        state: 'not_yet_synced',
        actionable: false,
        bucket: 'not_yet_synced',
        cause: CAUSES.notLinked,
        store: true,
      });
    }
  });

  it('joins on crmKey: found is consistent (not stored), 404 is an actionable orphan', () => {
    expect(classifyDonor({ crmKey: '200001', isTestMode: false }, FOUND)).toMatchObject({
      state: 'consistent',
      store: false,
      actionable: false,
    });
    expect(classifyDonor({ crmKey: '999999', isTestMode: false }, MISSING)).toEqual({
      state: 'orphaned_crm_key',
      actionable: true,
      bucket: 'orphaned_crm_key',
      cause: 'CRM+ record deleted or link set incorrectly',
      store: true,
    });
  });

  it('never makes a test-mode orphan actionable', () => {
    expect(classifyDonor({ crmKey: '999999', isTestMode: true }, MISSING)).toMatchObject({
      state: 'orphaned_crm_key',
      actionable: false,
      bucket: 'test_mode',
      cause: 'test mode',
    });
  });

  it('keeps an unreachable CRM+ apart from the data: stored, counted, not actionable', () => {
    expect(classifyDonor({ crmKey: '200001', isTestMode: false }, DOWN)).toEqual({
      state: 'crm_unreachable',
      actionable: false,
      bucket: 'crm_unreachable',
      cause: 'CRM+ answered HTTP 503',
      store: true,
    });
  });

  it('refuses to classify a linked donor without a lookup', () => {
    expect(() => classifyDonor({ crmKey: '1', isTestMode: false }, undefined)).toThrow(/lookup/);
  });
});

describe('classifyGift', () => {
  const gift = (over: Partial<Parameters<typeof classifyGift>[0]> = {}) => ({
    isTestMode: false,
    createdAt: OLD,
    campaign: SYNCING,
    ...over,
  });

  it('is consistent when CRM+ holds the transaction', () => {
    expect(classifyGift(gift(), FOUND, TIMING)).toMatchObject({
      state: 'consistent',
      store: false,
    });
  });

  it('is missing in CRM+ (actionable) when absent past the sync lag, not yet synced within it', () => {
    expect(classifyGift(gift(), MISSING, TIMING)).toEqual({
      state: 'missing_in_crm',
      actionable: true,
      bucket: 'missing_in_crm',
      cause: CAUSES.missing,
      store: true,
    });
    expect(classifyGift(gift({ createdAt: YOUNG }), MISSING, TIMING)).toEqual({
      state: 'not_yet_synced',
      actionable: false,
      bucket: 'not_yet_synced',
      cause: CAUSES.withinLag,
      store: true,
    });
    // Exactly at the cutoff is still within the lag.
    const cutoff = new Date(RUN.getTime() - 60 * 60_000);
    expect(classifyGift(gift({ createdAt: cutoff }), MISSING, TIMING).state).toBe('not_yet_synced');
    expect(classifyGift(gift({ createdAt: null }), MISSING, TIMING).state).toBe('missing_in_crm');
  });

  it('filters canSync false and test mode out of the actionable set, with their cause', () => {
    expect(classifyGift(gift({ campaign: PAUSED }), MISSING, TIMING)).toEqual({
      state: 'missing_in_crm',
      actionable: false,
      bucket: 'expected_not_synced',
      cause: 'canSync false',
      store: true,
    });
    expect(classifyGift(gift({ isTestMode: true }), MISSING, TIMING)).toEqual({
      state: 'missing_in_crm',
      actionable: false,
      bucket: 'test_mode',
      cause: 'test mode',
      store: true,
    });
    expect(
      classifyGift(gift({ isTestMode: true, campaign: PAUSED, createdAt: YOUNG }), MISSING, TIMING),
    ).toMatchObject({ state: 'not_yet_synced', actionable: false, bucket: 'test_mode' });
  });

  it('does not excuse a missing gift whose campaign could not be determined', () => {
    for (const campaign of [null, { id: null, name: 'Gone', canSync: null }]) {
      expect(classifyGift(gift({ campaign }), MISSING, TIMING)).toMatchObject({
        state: 'missing_in_crm',
        actionable: true,
      });
    }
  });

  it('reports an unreachable CRM+ whatever the gift', () => {
    expect(classifyGift(gift({ campaign: PAUSED }), DOWN, TIMING)).toMatchObject({
      state: 'crm_unreachable',
      bucket: 'crm_unreachable',
      actionable: false,
    });
  });
});

describe('classifyRecurringGift', () => {
  it('is not yet synced without crmKey and not checked (not stored) with one', () => {
    expect(classifyRecurringGift({ crmKey: null })).toMatchObject({
      state: 'not_yet_synced',
      bucket: 'not_yet_synced',
      store: true,
    });
    expect(classifyRecurringGift({ crmKey: '41234' })).toMatchObject({
      bucket: 'not_checked',
      store: false,
      actionable: false,
    });
  });
});

describe('CrmTally', () => {
  it('puts every record in exactly one bucket and derives the summary counts', () => {
    const tally = new CrmTally();
    const add = (
      resource: string,
      c: ReturnType<typeof classifyDonor>,
      linked: boolean,
      looked: boolean,
    ) => tally.add(resource, c, { linked, looked });
    add('donor', classifyDonor({ crmKey: '1', isTestMode: false }, FOUND), true, true);
    add('donor', classifyDonor({ crmKey: null, isTestMode: false }, undefined), false, false);
    add('donor', classifyDonor({ crmKey: '9', isTestMode: false }, MISSING), true, true);
    add(
      'gift',
      classifyGift({ isTestMode: false, createdAt: OLD, campaign: SYNCING }, MISSING, TIMING),
      true,
      true,
    );
    add(
      'gift',
      classifyGift({ isTestMode: false, createdAt: OLD, campaign: PAUSED }, MISSING, TIMING),
      true,
      true,
    );
    add(
      'gift',
      classifyGift({ isTestMode: true, createdAt: OLD, campaign: SYNCING }, MISSING, TIMING),
      true,
      true,
    );
    add(
      'gift',
      classifyGift({ isTestMode: false, createdAt: OLD, campaign: SYNCING }, DOWN, TIMING),
      true,
      true,
    );
    add('recurring_gift', classifyRecurringGift({ crmKey: '5' }), true, false);

    const counts = tally.counts();
    expect(counts).toEqual({
      raise_total: 8,
      source_total: 8,
      crm_found: 1,
      destination_total: 1,
      not_yet_linked: 1,
      actionable: 2,
      lookups: 6,
      consistent: 1,
      not_yet_synced: 1,
      orphaned_crm_key: 1,
      missing_in_crm: 1,
      crm_unreachable: 1,
      expected_not_synced: 1,
      test_mode: 1,
      not_checked: 1,
      donor_total: 3,
      gift_total: 4,
      recurring_gift_total: 1,
    });
    const bucketSum = CRM_BUCKETS.reduce((sum, b) => sum + (counts[b] ?? 0), 0);
    expect(bucketSum).toBe(counts.raise_total);
    expect(tally.everyLookupUnreachable()).toBe(false);
  });

  it('notices a run in which CRM+ never answered (and not one without lookups)', () => {
    const none = new CrmTally();
    none.add('donor', classifyDonor({ crmKey: null, isTestMode: false }, undefined), {
      linked: false,
      looked: false,
    });
    expect(none.everyLookupUnreachable()).toBe(false);
    const down = new CrmTally();
    for (let i = 0; i < 3; i += 1) {
      down.add('donor', classifyDonor({ crmKey: String(i + 1), isTestMode: false }, DOWN), {
        linked: true,
        looked: true,
      });
    }
    expect(down.everyLookupUnreachable()).toBe(true);
  });
});

describe('helpers', () => {
  it('detects single-product windows: at least 20 donors, none with crmKey', () => {
    expect(looksSingleProduct(20, 0)).toBe(true);
    expect(looksSingleProduct(19, 0)).toBe(false);
    expect(looksSingleProduct(500, 1)).toBe(false);
  });

  it('forms a Raise admin link only from an operator template', () => {
    expect(raiseAdminLink(undefined, 'gift', '1000001')).toBeNull();
    expect(raiseAdminLink('https://admin.example/{resource}/{id}', 'gift', '1000001')).toBe(
      'https://admin.example/gift/1000001',
    );
  });

  it('labels a UTC day by its date and anything else by its bounds', () => {
    expect(windowLabel(new Date('2026-11-20T00:00:00Z'), new Date('2026-11-21T00:00:00Z'))).toBe(
      '2026-11-20',
    );
    expect(windowLabel(new Date('2026-11-20T05:00:00Z'), new Date('2026-11-21T05:00:00Z'))).toBe(
      '2026-11-20T05:00:00.000Z – 2026-11-21T05:00:00.000Z',
    );
  });
});

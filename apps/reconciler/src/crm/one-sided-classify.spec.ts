import { judgeOneSided, ONE_SIDED_CAUSES, OneSidedTally } from './one-sided-classify';

const syncing = { id: '101', name: 'Spring', canSync: true };
const paused = { id: '102', name: 'Paused', canSync: false };
const onlyRaise = { raiseSeen: true, crmSeen: false };
const onlyCrm = { raiseSeen: false, crmSeen: true };

describe(judgeOneSided.name, () => {
  it('reports a Raise gift CRM+ never confirmed as actionable', () => {
    expect(judgeOneSided(onlyRaise, { isTestMode: false, campaign: syncing })).toEqual({
      kind: 'report',
      side: 'only_in_raise',
      actionable: true,
      cause: ONE_SIDED_CAUSES.only_in_raise,
    });
    // An undetermined campaign does not excuse it.
    expect(judgeOneSided(onlyRaise, { isTestMode: false, campaign: null })).toMatchObject({
      actionable: true,
    });
  });

  it('keeps test-mode and canSync-false gifts out of the actionable ones, naming why', () => {
    expect(judgeOneSided(onlyRaise, { isTestMode: true, campaign: syncing })).toEqual({
      kind: 'report',
      side: 'only_in_raise',
      actionable: false,
      cause: 'test mode',
    });
    expect(judgeOneSided(onlyRaise, { isTestMode: false, campaign: paused })).toEqual({
      kind: 'report',
      side: 'only_in_raise',
      actionable: false,
      cause: 'canSync false',
    });
  });

  it('reports a CRM+ gift pointing at a Raise gift that does not exist', () => {
    expect(judgeOneSided(onlyCrm, null)).toEqual({
      kind: 'report',
      side: 'only_in_crm',
      actionable: true,
      cause: ONE_SIDED_CAUSES.only_in_crm,
    });
  });

  it('does not report a missed Raise webhook, nor a gift deleted from Raise since', () => {
    expect(judgeOneSided(onlyCrm, { isTestMode: false, campaign: syncing })).toEqual({
      kind: 'confirmed_in_raise',
    });
    expect(judgeOneSided(onlyRaise, null)).toEqual({ kind: 'gone_from_raise' });
  });

  it('refuses rows that are not one-sided', () => {
    expect(() => judgeOneSided({ raiseSeen: true, crmSeen: true }, null)).toThrow('one-sided');
  });
});

describe(OneSidedTally.name, () => {
  it('counts each verdict once, actionable ones on top', () => {
    const tally = new OneSidedTally();
    tally.add(judgeOneSided(onlyRaise, { isTestMode: false, campaign: syncing }));
    tally.add(judgeOneSided(onlyRaise, { isTestMode: true, campaign: syncing }));
    tally.add(judgeOneSided(onlyCrm, null));
    tally.add(judgeOneSided(onlyCrm, { isTestMode: false, campaign: syncing }));
    tally.add(judgeOneSided(onlyRaise, null));
    expect(tally.counts()).toEqual({
      one_sided_checked: 5,
      one_sided_only_in_raise: 2,
      one_sided_only_in_crm: 1,
      one_sided_actionable: 2,
      one_sided_confirmed_in_raise: 1,
      one_sided_gone_from_raise: 1,
    });
    expect(tally.actionable).toBe(2);
  });
});

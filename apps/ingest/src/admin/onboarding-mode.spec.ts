import { BadRequestException } from '@nestjs/common';
import type { CreateCustomerDto } from './admin.dto';
import { resolveOnboarding } from './onboarding-mode';

const NOW = new Date('2026-12-07T12:00:00.000Z');
const base: CreateCustomerDto = { name: 'Hope Shelter', raise: { apiToken: 't' } };
const plan = (extra: Partial<CreateCustomerDto>) => resolveOnboarding({ ...base, ...extra }, NOW);
const refusal = (extra: Partial<CreateCustomerDto>): string => {
  try {
    plan(extra);
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('resolveOnboarding', () => {
  it('full_history backfills everything and starts backfilling, with the backfill block or without', () => {
    expect(plan({ mode: 'full_history' })).toEqual({
      mode: 'full_history',
      status: 'backfilling',
      syncFrom: null,
      backfill: { modifiedFrom: null, modifiedTo: null },
      checkpointsAt: null,
    });
    expect(plan({ backfill: { resources: ['gift'] } })).toMatchObject({
      mode: 'full_history',
      backfill: { resources: ['gift'], modifiedFrom: null },
    });
  });

  it('history_since backfills from the date, given as historySince or as backfill.modifiedFrom', () => {
    const since = '2026-06-01T00:00:00.000Z';
    for (const extra of [
      { mode: 'history_since' as const, historySince: since },
      { historySince: since },
      { backfill: { modifiedFrom: since } },
      { historySince: since, backfill: { modifiedFrom: since } },
    ]) {
      expect(plan(extra)).toMatchObject({
        mode: 'history_since',
        status: 'backfilling',
        syncFrom: new Date(since),
        backfill: { modifiedFrom: since },
        checkpointsAt: null,
      });
    }
  });

  it('from_now starts live with no backfill and every checkpoint at the creation time', () => {
    expect(plan({ mode: 'from_now' })).toEqual({
      mode: 'from_now',
      status: 'live',
      syncFrom: NOW,
      backfill: null,
      checkpointsAt: NOW,
    });
  });

  it('no mode and no backfill is poll_history: live, the first polls read the history', () => {
    expect(plan({})).toEqual({
      mode: 'poll_history',
      status: 'live',
      syncFrom: null,
      backfill: null,
      checkpointsAt: null,
    });
  });

  it('refuses contradictions with a message naming them', () => {
    expect(refusal({ mode: 'history_since' })).toMatch(/needs historySince/);
    expect(refusal({ mode: 'history_since', historySince: '2027-01-01T00:00:00Z' })).toMatch(
      /future/,
    );
    expect(refusal({ mode: 'full_history', historySince: '2026-01-01T00:00:00Z' })).toMatch(
      /use mode history_since/,
    );
    expect(refusal({ mode: 'from_now', backfill: {} })).toMatch(/drop backfill/);
    expect(refusal({ mode: 'poll_history', historySince: '2026-01-01T00:00:00Z' })).toMatch(
      /drop backfill and historySince/,
    );
    expect(
      refusal({
        historySince: '2026-01-01T00:00:00Z',
        backfill: { modifiedFrom: '2026-02-01T00:00:00Z' },
      }),
    ).toMatch(/disagree/);
  });
});

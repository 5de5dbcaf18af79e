import { newSourceEvent, type RaiseGift, type SourceEvent } from '@raise-sync/shared/events';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import { isGdprDeleted, withoutDonorData } from './erased-donors.service';

const at = new Date('2026-11-20T10:00:00.000Z');
const CUSTOMER = '6f1c1c1e-8d7e-4b8e-9a51-0f3f4c2a9b10';

const donor = (raw: Record<string, unknown> | string): SourceEvent =>
  newSourceEvent({
    customerId: CUSTOMER,
    source: 'raise',
    resource: 'donor',
    operation: 'upsert',
    origin: 'webhook',
    recordId: '48213',
    sourceModifiedAt: at,
    record: { ...SAMPLE_RECORDS.donor, raw: typeof raw === 'string' ? raw : JSON.stringify(raw) },
  });

describe('isGdprDeleted', () => {
  it("reads Raise's flag from the donor's source model", () => {
    expect(isGdprDeleted(donor({ id: 48213, isGDPRDeleted: true }))).toBe(true);
    expect(isGdprDeleted(donor({ id: 48213, isGDPRDeleted: false }))).toBe(false);
    expect(isGdprDeleted(donor({ id: 48213 }))).toBe(false);
    expect(isGdprDeleted(donor({ id: 48213, isGDPRDeleted: 'true' }))).toBe(false);
    expect(isGdprDeleted(donor('not json'))).toBe(false);
  });

  it('ignores every other resource and deletes', () => {
    const gift = newSourceEvent({
      customerId: CUSTOMER,
      source: 'raise',
      resource: 'gift',
      operation: 'upsert',
      origin: 'poll',
      recordId: '900113',
      sourceModifiedAt: at,
      record: { ...SAMPLE_RECORDS.gift, raw: JSON.stringify({ isGDPRDeleted: true }) },
    });
    expect(isGdprDeleted(gift)).toBe(false);
    expect(isGdprDeleted({ ...donor({ isGDPRDeleted: true }), record: null })).toBe(false);
  });
});

describe('withoutDonorData', () => {
  it("removes the donor's email and the donor part of a gift's raw model, keeping the gift", () => {
    const gift = newSourceEvent({
      customerId: CUSTOMER,
      source: 'raise',
      resource: 'gift',
      operation: 'upsert',
      origin: 'webhook',
      recordId: '900113',
      sourceModifiedAt: at,
      record: {
        ...SAMPLE_RECORDS.gift,
        raw: JSON.stringify({
          id: 900113,
          amount: 125.5,
          donorId: 48213,
          donor: { firstName: 'Ada', email: 'ada@example.org' },
          donorEmail: 'ada@example.org',
          billingAddress: { address1: '1 Analytical Row' },
          firstName: 'Ada',
          projects: [{ projectId: 7 }],
        }),
      },
    });
    const redacted = withoutDonorData(gift);
    const record = redacted.record as RaiseGift;
    expect(record.donorEmail).toBeNull();
    expect(JSON.parse(record.raw)).toEqual({
      id: 900113,
      amount: 125.5,
      donorId: 48213,
      projects: [{ projectId: 7 }],
    });
    expect(record.amount).toBe('125.50');
    expect(JSON.stringify(redacted)).not.toMatch(/ada@example\.org|Ada|Analytical/);
    expect((gift.record as RaiseGift).donorEmail).toBe('ada@example.org'); // not mutated
  });
});

import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import {
  compareSourceIds,
  parseRecordId,
  parseSourceTime,
  raiseDeletedRecordId,
  raiseDeletedRecordTime,
  raiseToRecord,
  toDecimalAmount,
  vomoToRecord,
} from './mapping';
import type {
  RaiseCampaignModel,
  RaiseDonorModel,
  RaiseGiftModel,
  RaiseRecurringGiftModel,
} from './raise-wire';
import { MalformedSourceRecordError } from './source-errors';
import type { VomoUserResource } from './vomo-wire';

const donorModel: RaiseDonorModel = {
  id: 48213,
  name: 'Ada Lovelace',
  firstName: 'Ada',
  lastName: 'Lovelace',
  email: 'ada@example.org',
  phone: '(555) 010-2000',
  isOrganization: false,
  organizationName: null,
  isTestMode: false,
  isArchived: false,
  crmKey: '10023',
  crmSecondKey: null,
  donorEmailAddresses: [
    {
      id: 1,
      donorId: 48213,
      value: 'old@example.org',
      isPrimary: false,
      isOptedIn: false,
      isEmail: true,
      isPhone: false,
    },
    {
      id: 2,
      donorId: 48213,
      value: 'ada@example.org',
      isPrimary: true,
      isOptedIn: true,
      isEmail: true,
      isPhone: false,
    },
  ],
  createdDate: '2026-01-04T10:00:00',
  modifiedDate: '2026-11-20T08:30:00Z',
};

const giftModel: RaiseGiftModel = {
  id: 900113,
  donorId: 48213,
  recurringGiftId: null,
  amount: 125.5,
  currency: 'USD',
  date: '2026-11-20T09:12:00',
  status: 1,
  statusText: 'Success',
  isTestMode: false,
  isAnonymous: false,
  paymentType: 'CreditCard',
  transactionId: 'ch_3Q8',
  campaignName: 'Winter Appeal',
  projects: [{ projectId: 7, name: 'General', amount: 125.5 }],
  donor: donorModel,
  createdDate: '2026-11-20T09:12:03',
  modifiedDate: '2026-11-20T09:12:04.2501234',
};

const recurringModel: RaiseRecurringGiftModel = {
  id: 5501,
  amount: 20,
  currencyCode: 'USD',
  frequency: 3,
  formattedFrequency: 'Monthly',
  status: 1,
  statusText: 'Active',
  startDate: '2026-02-01',
  nextChargeDate: '2026-12-01',
  crmKey: null,
  donor: donorModel,
  createdDate: '2026-02-01T00:00:00Z',
  modifiedDate: '2026-11-01T00:00:05+00:00',
};

const campaignModel: RaiseCampaignModel = {
  id: 77,
  name: 'Winter Appeal',
  description: 'Year-end giving',
  startDate: '2026-11-01',
  endDate: '2026-12-31',
  canSync: false,
  crmKey: 'C-77',
  createdDateTime: '2026-10-15T12:00:00Z',
  modifiedDateTime: '2026-11-18T17:45:00+01:00',
};

const vomoUser: VomoUserResource = {
  type: 'user',
  id: '8205',
  first_name: 'Grace',
  last_name: 'Hopper',
  full_name: 'Grace Hopper',
  email: 'grace@example.org',
  phone: null,
  user_status: 'VERIFIED',
  membership_status: 'ACCEPTED',
  membership_role: 'VOLUNTEER',
  created_at: '2025-06-01T10:00:00.000000Z',
  updated_at: '2026-11-19T10:00:00.000000Z',
};

const withoutRaw = <T extends { raw: string }>(record: T): Omit<T, 'raw'> => {
  const { raw: _raw, ...rest } = record;
  return rest;
};

describe(raiseToRecord.name, () => {
  it('maps a donor, with opt-in from the primary email address', () => {
    const mapped = raiseToRecord('donor', donorModel);

    expect(mapped.recordId).toBe('48213');
    expect(mapped.sourceModifiedAt).toEqual(new Date('2026-11-20T08:30:00.000Z'));
    expect(withoutRaw(mapped.record)).toEqual(withoutRaw(SAMPLE_RECORDS.donor));
    expect(JSON.parse(mapped.record.raw)).toEqual(donorModel);
  });

  it('gives a donor without email addresses a null opt-in', () => {
    const { donorEmailAddresses: _addresses, ...bare } = donorModel;
    expect(raiseToRecord('donor', bare).record.emailOptIn).toBeNull();
  });

  it('maps a gift: decimal amount, string ids, donor email from the embedded donor', () => {
    const mapped = raiseToRecord('gift', giftModel);

    expect(mapped.recordId).toBe('900113');
    // Zone-less time read as UTC, sub-millisecond digits truncated.
    expect(mapped.sourceModifiedAt).toEqual(new Date('2026-11-20T09:12:04.250Z'));
    expect(withoutRaw(mapped.record)).toEqual(withoutRaw(SAMPLE_RECORDS.gift));
  });

  it('maps a gift without an embedded donor to a null donor email', () => {
    const { donor: _donor, ...bare } = giftModel;
    const record = raiseToRecord('gift', { ...bare, recurringGiftId: 5501 }).record;
    expect(record.donorEmail).toBeNull();
    expect(record.recurringGiftId).toBe('5501');
  });

  it('maps a recurring gift, frequency text from formattedFrequency', () => {
    const mapped = raiseToRecord('recurring_gift', recurringModel);

    expect(mapped.recordId).toBe('5501');
    expect(withoutRaw(mapped.record)).toEqual(withoutRaw(SAMPLE_RECORDS.recurring_gift));
  });

  it('maps a campaign from its modifiedDateTime', () => {
    const mapped = raiseToRecord('campaign', campaignModel);

    expect(mapped.sourceModifiedAt).toEqual(new Date('2026-11-18T16:45:00.000Z'));
    expect(withoutRaw(mapped.record)).toEqual(withoutRaw(SAMPLE_RECORDS.campaign));
  });

  it('maps the same record with raw deferred, serialized once on first read', () => {
    const eager = raiseToRecord('gift', giftModel);
    const deferred = raiseToRecord('gift', giftModel, { raw: 'deferred' });
    expect(deferred).toEqual(eager);
    expect(Object.keys(deferred.record)).toEqual(Object.keys(eager.record));
    expect(JSON.stringify(deferred.record)).toBe(JSON.stringify(eager.record));
    // Serialized when first read (from the model as it is then), and kept from then on.
    const model = { ...giftModel };
    const late = raiseToRecord('gift', model, { raw: 'deferred' });
    (model as { amount: unknown }).amount = 99;
    const raw = late.record.raw;
    expect(JSON.parse(raw)).toMatchObject({ amount: 99 });
    (model as { amount: unknown }).amount = 1;
    expect(late.record.raw).toBe(raw);
    expect(vomoToRecord(vomoUser, { raw: 'deferred' })).toEqual(vomoToRecord(vomoUser));
  });

  it.each([
    ['gift', 'id', { ...giftModel, id: undefined }],
    ['gift', 'id', { ...giftModel, id: 1.5 }],
    ['gift', 'modifiedDate', { ...giftModel, modifiedDate: 'yesterday' }],
    ['gift', 'modifiedDate', { ...giftModel, modifiedDate: undefined }],
    ['gift', 'amount', { ...giftModel, amount: undefined }],
    ['gift', 'amount', { ...giftModel, amount: 'ten' }],
    ['gift', 'currency', { ...giftModel, currency: null }],
    ['donor', 'modifiedDate', { ...donorModel, modifiedDate: '20/11/2026' }],
    ['recurring_gift', 'currencyCode', { ...recurringModel, currencyCode: undefined }],
    ['campaign', 'modifiedDateTime', { ...campaignModel, modifiedDateTime: undefined }],
    ['campaign', 'name', { ...campaignModel, name: null }],
  ] as const)('rejects a %s with a missing or invalid %s', (resource, field, model) => {
    let caught: unknown;
    try {
      raiseToRecord(resource, model as Record<string, unknown>);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MalformedSourceRecordError);
    expect(caught).toMatchObject({ field, retriable: false, reason: 'malformed_record' });
    expect((caught as Error).message).toContain(field);
  });
});

describe(toDecimalAmount.name, () => {
  it.each([
    [125.5, '125.50'],
    [20, '20.00'],
    [0.1 + 0.2, '0.30'],
    [1.1 * 3, '3.30'],
    [0.07 * 100, '7.00'],
    [1.005, '1.01'],
    [2.675, '2.68'],
    [-3.456, '-3.46'],
    [-0.001, '0.00'],
    [0, '0.00'],
    [1e-7, '0.00'],
    [1e21, '1000000000000000000000.00'],
    [123456789.125, '123456789.13'],
    ['19.999', '20.00'],
    ['7', '7.00'],
  ])('writes %p as %p', (input, expected) => {
    expect(toDecimalAmount(input)).toBe(expected);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, '1e5', '', null])('rejects %p', (input) => {
    expect(() => toDecimalAmount(input)).toThrow(MalformedSourceRecordError);
  });
});

describe(vomoToRecord.name, () => {
  it('maps a VOMO user, updated_at as the source-modified time', () => {
    const mapped = vomoToRecord(vomoUser);

    expect(mapped.recordId).toBe('8205');
    expect(mapped.sourceModifiedAt).toEqual(new Date('2026-11-19T10:00:00.000Z'));
    expect(withoutRaw(mapped.record)).toEqual(withoutRaw(SAMPLE_RECORDS.user));
  });

  it('accepts a numeric id and rejects a user without updated_at', () => {
    expect(vomoToRecord({ ...vomoUser, id: 8205 }).recordId).toBe('8205');
    expect(() => vomoToRecord({ ...vomoUser, updated_at: '' })).toThrow(/updated_at/);
    expect(() => vomoToRecord({ ...vomoUser, id: '' })).toThrow(MalformedSourceRecordError);
  });
});

describe('Raise delete payloads', () => {
  it('read the id from data, else contextId, and the time from the modified field', () => {
    const payload = {
      contextId: 900113,
      data: { id: 900113, modifiedDate: '2026-11-21T08:00:00' },
    };
    expect(raiseDeletedRecordId(payload)).toBe('900113');
    expect(raiseDeletedRecordId({ contextId: 77, data: null })).toBe('77');
    expect(raiseDeletedRecordTime('gift', payload)).toEqual(new Date('2026-11-21T08:00:00Z'));
    expect(
      raiseDeletedRecordTime('campaign', {
        data: { id: 77, modifiedDateTime: '2026-11-21T09:00:00Z' },
      }),
    ).toEqual(new Date('2026-11-21T09:00:00Z'));
  });

  it('throw MalformedSourceRecordError when the delete time is missing', () => {
    expect(() => raiseDeletedRecordTime('donor', { data: { id: 1 } })).toThrow(
      MalformedSourceRecordError,
    );
    expect(() => raiseDeletedRecordId({ contextId: Number.NaN, data: null })).toThrow(/contextId/);
  });
});

describe(parseSourceTime.name, () => {
  it.each([
    ['2026-11-20T09:12:04.2501234', '2026-11-20T09:12:04.250Z'],
    ['2026-11-20T09:12:04Z', '2026-11-20T09:12:04.000Z'],
    ['2026-11-20T10:12:04+01:00', '2026-11-20T09:12:04.000Z'],
    ['2026-11-20T10:12:04+0100', '2026-11-20T09:12:04.000Z'],
    ['2026-11-20 09:12', '2026-11-20T09:12:00.000Z'],
    ['2026-11-20', '2026-11-20T00:00:00.000Z'],
  ])('reads %p as %p', (input, expected) => {
    expect(parseSourceTime(input)?.toISOString()).toBe(expected);
  });

  it.each(['1', 'Nov 20 2026', '2026-13-45T00:00:00Z', '', 42, null])('rejects %p', (input) => {
    expect(parseSourceTime(input)).toBeNull();
  });
});

describe(compareSourceIds.name, () => {
  it('orders integer ids numerically and others as strings', () => {
    expect(['10', '9', '100', '09'].sort(compareSourceIds)).toEqual(['9', '09', '10', '100']);
    expect(compareSourceIds('b', 'a')).toBeGreaterThan(0);
  });
});

describe(parseRecordId.name, () => {
  it.each([
    [1, '1'],
    [900113, '900113'],
    [Number.MAX_SAFE_INTEGER, '9007199254740991'],
    ['8205', '8205'],
    ['9007199254740991', '9007199254740991'],
  ])('accepts %p as %p', (value, expected) => {
    expect(parseRecordId(value)).toBe(expected);
  });

  it.each([
    ['a number JSON.parse rounded (2^53 + 1)', JSON.parse('9007199254740993') as number],
    ['a number beyond MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER + 1],
    ['a string beyond MAX_SAFE_INTEGER', '9007199254740993'],
    ['17 digits', '10000000000000000'],
    ['an empty string', ''],
    ['a negative number', -5],
    ['a negative string', '-5'],
    ['zero', 0],
    ['the string zero', '0'],
    ['a fraction', 1.5],
    ['a fraction as text', '1.5'],
    ['an exponent', '1e3'],
    ['a leading zero', '0123'],
    ['spaces', ' 123'],
    ['the Kafka key separator', 'a:b'],
    ['an ID with the separator', '12:34'],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a bigint', 12n],
    ['a boolean', true],
    ['null', null],
    ['undefined', undefined],
    ['an object', { id: 1 }],
  ])('refuses %s', (_name, value) => {
    let caught: unknown;
    try {
      parseRecordId(value, 'data.id');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MalformedSourceRecordError);
    expect(caught).toMatchObject({ field: 'data.id', reason: 'malformed_record' });
  });

  it('is the rule of every mapping path: upserts, VOMO users and delete payloads', () => {
    expect(() => raiseToRecord('gift', { ...giftModel, id: 'a:b' })).toThrow(/id/);
    expect(() => raiseToRecord('gift', { ...giftModel, id: 2 ** 53 + 2 })).toThrow(/id/);
    expect(() => raiseToRecord('gift', { ...giftModel, donorId: -1 })).toThrow(/donorId/);
    expect(() => vomoToRecord({ ...vomoUser, id: '82:05' })).toThrow(MalformedSourceRecordError);
    expect(() => raiseDeletedRecordId({ contextId: 1, data: { id: -5 } })).toThrow(/data\.id/);
    expect(() => raiseDeletedRecordId({ contextId: 0, data: null })).toThrow(/contextId/);
  });
});

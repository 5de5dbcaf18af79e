import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import {
  DestinationConfigError,
  mapFields,
  parseFieldMapConfig,
  readSourcePath,
  sourceView,
} from './field-map';

describe('parseFieldMapConfig', () => {
  it('accepts paths, constants and null per resource', () => {
    expect(
      parseFieldMapConfig({
        donor: { phone: null, 'customFields.Raise Id': 'id', origin: { value: 'raise' } },
      }),
    ).toEqual({
      donor: { phone: null, 'customFields.Raise Id': 'id', origin: { value: 'raise' } },
    });
    expect(parseFieldMapConfig(undefined)).toEqual({});
  });

  it.each([
    ['not an object', 'x'],
    ['an unknown resource', { invoice: {} }],
    ['a bad source', { donor: { phone: 42 } }],
    ['a bad destination path', { donor: { 'a..b': 'id' } }],
    ['a prototype path', { donor: { '__proto__.x': 'id' } }],
    ['a constant with extra keys', { donor: { x: { value: 1, other: 2 } } }],
  ])('rejects %s', (_what, value) => {
    expect(() => parseFieldMapConfig(value)).toThrow(DestinationConfigError);
  });

  it('refuses to remap protected identity fields', () => {
    expect(() =>
      parseFieldMapConfig(
        { gift: { transactionId: 'transactionId' } },
        { gift: ['transactionId'] },
      ),
    ).toThrow(/record identity/);
  });
});

describe('readSourcePath', () => {
  it('reads record fields and paths into raw JSON', () => {
    const view = sourceView(SAMPLE_RECORDS.gift);
    expect(readSourcePath(view, 'amount')).toBe('125.50');
    expect(readSourcePath(view, 'raw.projects.0.projectId')).toBe(7);
    expect(readSourcePath(view, 'raw.nothing.here')).toBeUndefined();
    expect(readSourcePath(view, 'raw')).toBe(SAMPLE_RECORDS.gift.raw);
  });

  it('treats a raw that is not JSON as empty', () => {
    expect(readSourcePath(sourceView({ raw: '{oops' }), 'raw.a')).toBeUndefined();
  });
});

describe('mapFields', () => {
  const donor = SAMPLE_RECORDS.donor;

  it('applies defaults, computed values, overrides and fixed fields in that order', () => {
    const body = mapFields(
      donor,
      {
        defaults: { firstName: 'firstName', phone: 'phone', created: 'createdDate' },
        computed: { tags: 'a;b', kind: 'Household' },
        fixed: { referenceId: donor.id },
      },
      {
        phone: null,
        'customFields.Raise Email': 'email',
        kind: { value: 'Organization' },
        referenceId: 'email',
      },
    );
    expect(body).toEqual({
      firstName: 'Ada',
      created: '2026-01-04T10:00:00.000Z',
      tags: 'a;b',
      kind: 'Organization',
      customFields: { 'Raise Email': 'ada@example.org' },
      referenceId: '48213',
    });
  });

  it('leaves out absent and null values instead of blanking them', () => {
    const body = mapFields(
      { ...donor, phone: null },
      { defaults: { phone: 'phone', city: 'raw.primaryAddress.city' } },
      undefined,
    );
    expect(body).toEqual({});
  });
});

import { createHash } from 'node:crypto';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import {
  type MarketingMappingSettings,
  donorToMember,
  memberStatusOf,
  subscriberHashOf,
  userToMember,
} from './marketing.mapping';

const settings: MarketingMappingSettings = { tags: ['raise'], fieldMap: {} };

describe('marketing mapping', () => {
  it('keys members by the md5 of the lower-cased email', () => {
    const expected = createHash('md5').update('ada@example.org').digest('hex');
    expect(subscriberHashOf('  Ada@Example.ORG ')).toBe(expected);
  });

  it('maps a donor to a member with merge fields and tags', () => {
    expect(donorToMember({ ...SAMPLE_RECORDS.donor, email: 'Ada@Example.org' }, settings)).toEqual({
      kind: 'member',
      subscriberHash: subscriberHashOf('ada@example.org'),
      body: {
        email_address: 'ada@example.org',
        status_if_new: 'subscribed',
        merge_fields: { FNAME: 'Ada', LNAME: 'Lovelace' },
        tags: ['raise', 'donor'],
      },
    });
  });

  it.each([
    [true, { status_if_new: 'subscribed' }],
    [false, { status_if_new: 'transactional', status: 'transactional' }],
    [null, { status_if_new: 'transactional' }],
  ])('never subscribes without opt-in (emailOptIn %s)', (optIn, status) => {
    expect(memberStatusOf(optIn)).toEqual(status);
    const mapped = donorToMember({ ...SAMPLE_RECORDS.donor, emailOptIn: optIn }, settings);
    expect(mapped.kind === 'member' && mapped.body).toMatchObject(status);
  });

  it('skips test-mode donors and donors without email', () => {
    expect(donorToMember({ ...SAMPLE_RECORDS.donor, isTestMode: true }, settings)).toEqual({
      kind: 'skip',
      reason: 'test-mode donor: never synced to marketing',
    });
    expect(donorToMember({ ...SAMPLE_RECORDS.donor, email: null }, settings)).toMatchObject({
      kind: 'skip',
    });
  });

  it('tags organisations and volunteers, and never subscribes volunteers', () => {
    const org = donorToMember({ ...SAMPLE_RECORDS.donor, isOrganization: true }, settings);
    expect(org.kind === 'member' && org.body.tags).toEqual(['raise', 'donor', 'organization']);
    const volunteer = userToMember(SAMPLE_RECORDS.user, settings);
    expect(volunteer.kind === 'member' && volunteer.body).toMatchObject({
      email_address: 'grace@example.org',
      status_if_new: 'transactional',
      tags: ['raise', 'volunteer'],
      merge_fields: { FNAME: 'Grace', LNAME: 'Hopper' },
    });
  });

  it('applies merge-field overrides from the field map', () => {
    const mapped = donorToMember(SAMPLE_RECORDS.donor, {
      ...settings,
      fieldMap: { donor: { 'merge_fields.PHONE': 'phone', 'merge_fields.LNAME': null } },
    });
    expect(mapped.kind === 'member' && mapped.body.merge_fields).toEqual({
      FNAME: 'Ada',
      PHONE: '(555) 010-2000',
    });
  });
});

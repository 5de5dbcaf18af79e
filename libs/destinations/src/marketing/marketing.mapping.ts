import { createHash } from 'node:crypto';
import type { RaiseDonor, VomoUser } from '@raise-sync/shared/events';
import { type FieldMap, type FieldMapConfig, mapFields } from '../mapping/field-map';

export type MemberStatus = 'subscribed' | 'unsubscribed' | 'transactional';

export interface MarketingMappingSettings {
  /** Tags on every member the sync writes. Default none. */
  tags: readonly string[];
  fieldMap: FieldMapConfig;
}

export const MARKETING_PROTECTED_FIELDS = {
  donor: ['email_address', 'status', 'status_if_new'],
  user: ['email_address', 'status', 'status_if_new'],
} as const;

export const MARKETING_DONOR_DEFAULTS: FieldMap = {
  'merge_fields.FNAME': 'firstName',
  'merge_fields.LNAME': 'lastName',
};

export const MARKETING_USER_DEFAULTS: FieldMap = {
  'merge_fields.FNAME': 'firstName',
  'merge_fields.LNAME': 'lastName',
};

/** The list's member key: lower-cased, trimmed email. */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

/** Mailchimp's subscriber hash: md5 hex of the lower-cased email. */
export const subscriberHashOf = (email: string): string =>
  createHash('md5').update(normalizeEmail(email)).digest('hex');

/**
 * Member status from the donor's email opt-in, so nobody is ever subscribed without consent:
 *
 * | emailOptIn | status_if_new (new member) | status (existing member)                         |
 * |------------|----------------------------|--------------------------------------------------|
 * | true       | subscribed                 | unchanged (an unsubscribe in the tool is kept)   |
 * | false      | transactional              | transactional (the donor opted out in Raise)     |
 * | null       | transactional              | unchanged (consent unknown)                      |
 */
export function memberStatusOf(emailOptIn: boolean | null): {
  status_if_new: MemberStatus;
  status?: MemberStatus;
} {
  if (emailOptIn === true) {
    return { status_if_new: 'subscribed' };
  }
  if (emailOptIn === false) {
    return { status_if_new: 'transactional', status: 'transactional' };
  }
  return { status_if_new: 'transactional' };
}

export type MemberMapping =
  | { kind: 'member'; subscriberHash: string; body: Record<string, unknown> }
  | { kind: 'skip'; reason: string };

function member(
  record: RaiseDonor | VomoUser,
  email: string | null,
  defaults: FieldMap,
  overrides: FieldMap | undefined,
  tags: readonly string[],
  emailOptIn: boolean | null,
): MemberMapping {
  if (email === null || email.trim() === '') {
    return { kind: 'skip', reason: 'no email address: a list member needs one' };
  }
  const body = mapFields(record, { defaults }, overrides);
  return {
    kind: 'member',
    subscriberHash: subscriberHashOf(email),
    body: {
      ...body,
      email_address: normalizeEmail(email),
      ...memberStatusOf(emailOptIn),
      tags: [...new Set(tags)],
    },
  };
}

/** A donor as a list member; test-mode donors and donors without email are skipped. */
export function donorToMember(
  donor: RaiseDonor,
  settings: MarketingMappingSettings,
): MemberMapping {
  if (donor.isTestMode) {
    return { kind: 'skip', reason: 'test-mode donor: never synced to marketing' };
  }
  const tags = [...settings.tags, 'donor', ...(donor.isOrganization ? ['organization'] : [])];
  return member(
    donor,
    donor.email,
    MARKETING_DONOR_DEFAULTS,
    settings.fieldMap.donor,
    tags,
    donor.emailOptIn,
  );
}

/**
 * A VOMO user (volunteer) as a list member. VOMO has no marketing opt-in, so volunteers are
 * never subscribed by the sync (status 'transactional' when new, an existing status is kept).
 */
export function userToMember(user: VomoUser, settings: MarketingMappingSettings): MemberMapping {
  return member(
    user,
    user.email,
    MARKETING_USER_DEFAULTS,
    settings.fieldMap.user,
    [...settings.tags, 'volunteer'],
    null,
  );
}

import { NeedsSourceFixError, RecordRejectedError } from '@raise-sync/shared';
import type { RaiseDonor, RaiseGift, VomoUser } from '@raise-sync/shared/events';
import { AmountError, toJsonAmount } from '../mapping/amounts';
import { type FieldMap, type FieldMapConfig, mapFields } from '../mapping/field-map';

/** Settings the CRM+ mapping reads from `destinations.config` (see README, "CRM+"). */
export interface CrmPlusMappingSettings {
  /** `transactionSource` of gift transactions. Default 'raise'. */
  transactionSource: string;
  /** `referenceSource` of contacts made from Raise donors. Default 'raise'. */
  referenceSource: string;
  /** `referenceSource` of contacts made from VOMO users. Default 'vomo'. */
  volunteerReferenceSource: string;
  /** Tags on donor contacts (sent semicolon-separated). Default none. */
  contactTags: readonly string[];
  /** Tags on volunteer contacts. Default none. */
  volunteerTags: readonly string[];
  fieldMap: FieldMapConfig;
}

/** Destination fields the adapter owns: a field map may not change them. */
export const CRM_PLUS_PROTECTED_FIELDS = {
  donor: ['referenceSource', 'referenceId'],
  user: ['referenceSource', 'referenceId'],
  gift: ['transactionSource', 'transactionId', 'amount', 'currencyCode', 'giftType', 'cancelDate'],
} as const;

export const CRM_PLUS_DONOR_DEFAULTS: FieldMap = {
  name: 'name',
  firstName: 'firstName',
  lastName: 'lastName',
  email: 'email',
  phone: 'phone',
  address1: 'raw.primaryAddress.address1',
  city: 'raw.primaryAddress.city',
  state: 'raw.primaryAddress.state',
  postal: 'raw.primaryAddress.postal',
  country: 'raw.primaryAddress.countryString',
};

export const CRM_PLUS_USER_DEFAULTS: FieldMap = {
  firstName: 'firstName',
  lastName: 'lastName',
  email: 'email',
  phone: 'phone',
};

export const CRM_PLUS_GIFT_DEFAULTS: FieldMap = {
  giftDate: 'giftDate',
  'contact.referenceId': 'donorId',
  'contact.email': 'donorEmail',
  'contact.firstname': 'raw.donor.firstName',
  'contact.lastname': 'raw.donor.lastName',
  segment: 'raw.segment',
  recurringGiftTransactionId: 'recurringGiftId',
  isPrivate: 'isAnonymous',
};

/** Raise `paymentType` → CRM+ `giftType` (values from the CRM+ gift transaction docs). */
export function crmGiftType(paymentType: string | null): string {
  const normalized = (paymentType ?? '').replace(/[^a-z]/gi, '').toLowerCase();
  if (normalized.includes('paypal')) {
    return 'PayPal';
  }
  if (normalized.includes('card') || normalized === 'credit') {
    return 'Credit';
  }
  if (['ach', 'eft', 'bankaccount', 'bank', 'directdebit', 'sepa'].includes(normalized)) {
    return 'EFT';
  }
  if (normalized === 'check' || normalized === 'cheque') {
    return 'Check';
  }
  if (normalized === 'cash') {
    return 'Cash';
  }
  if (normalized.includes('crypto')) {
    return 'Cryptocoin';
  }
  return 'Other';
}

const tags = (list: readonly string[]): string | undefined =>
  list.length > 0 ? list.join(';') : undefined;

function hasEmail(body: Record<string, unknown>, path: 'email' | 'contact'): boolean {
  const email =
    path === 'email' ? body.email : (body.contact as Record<string, unknown> | undefined)?.email;
  return typeof email === 'string' && email.trim() !== '';
}

/** A contact needs an email: a donor or user without one waits for it in the source. */
function requireContactEmail(body: Record<string, unknown>, record: string): void {
  if (!hasEmail(body, 'email')) {
    throw new NeedsSourceFixError(
      'CRM+ needs an email for contacts',
      'contact_without_email',
      record,
    );
  }
}

/** `POST /api/Contact/Transaction` body for a Raise donor. Throws NeedsSourceFixError without email. */
export function donorToContact(
  donor: RaiseDonor,
  settings: CrmPlusMappingSettings,
): Record<string, unknown> {
  const body = mapFields(
    donor,
    {
      defaults: CRM_PLUS_DONOR_DEFAULTS,
      computed: {
        contactType: donor.isOrganization ? 'Organization' : 'Household',
        tags: tags(settings.contactTags),
      },
      fixed: { referenceSource: settings.referenceSource, referenceId: donor.id },
    },
    settings.fieldMap.donor,
  );
  if (donor.isOrganization && donor.organizationName) {
    body.name ??= donor.organizationName;
  }
  requireContactEmail(body, `donor:${donor.id}`);
  return body;
}

/** `POST /api/Contact/Transaction` body for a VOMO user (a volunteer). */
export function userToContact(
  user: VomoUser,
  settings: CrmPlusMappingSettings,
): Record<string, unknown> {
  const body = mapFields(
    user,
    {
      defaults: CRM_PLUS_USER_DEFAULTS,
      computed: { contactType: 'Household', tags: tags(settings.volunteerTags) },
      fixed: { referenceSource: settings.volunteerReferenceSource, referenceId: user.id },
    },
    settings.fieldMap.user,
  );
  requireContactEmail(body, `user:${user.id}`);
  return body;
}

function giftAmount(gift: RaiseGift): number {
  try {
    return toJsonAmount(gift.amount);
  } catch (error) {
    throw new RecordRejectedError(
      `gift ${gift.id}: ${error instanceof AmountError ? error.message : 'bad amount'}`,
    );
  }
}

/** `POST /api/v2/Gift/Transaction` body for a Raise gift (idempotent on transactionSource + transactionId). */
export function giftToTransaction(
  gift: RaiseGift,
  settings: CrmPlusMappingSettings,
): Record<string, unknown> {
  const amount = giftAmount(gift);
  if (amount <= 0) {
    throw new RecordRejectedError(`gift ${gift.id}: CRM+ needs an amount above zero`);
  }
  const body = mapFields(
    gift,
    { defaults: CRM_PLUS_GIFT_DEFAULTS, clearOnNull: true },
    settings.fieldMap.gift,
  );
  Object.assign(body, {
    transactionSource: settings.transactionSource,
    transactionId: gift.id,
    giftType: crmGiftType(gift.paymentType),
    amount,
    currencyCode: gift.currency,
  });
  if (!hasEmail(body, 'contact')) {
    // The gift is fine; its donor has no email (yet), or it has neither donor nor email. It is
    // delivered on its own once the donor (or the gift) is fixed in Raise.
    throw gift.donorId !== null
      ? new NeedsSourceFixError(
          `CRM+ needs the donor email for gifts; donor ${gift.donorId} has none`,
          'donor_without_email',
          `donor:${gift.donorId}`,
        )
      : new NeedsSourceFixError(
          'CRM+ needs the donor email (donorEmail) for gifts; the gift has no donor and no email',
          'gift_without_email',
          `gift:${gift.id}`,
        );
  }
  return body;
}

/** Whether a gift's status means the money went back to the donor. */
export const isRefunded = (gift: RaiseGift): boolean =>
  (gift.statusText ?? '').trim().toLowerCase() === 'refunded';

/** Transaction ID of the reversing transaction that records a refund. */
export const refundTransactionId = (giftId: string): string => `${giftId}-refund`;

/**
 * The refund as its own reversing transaction (negative amount, `giftType`
 * 'ReversingTransaction', transactionId `<gift id>-refund`), so the original gift keeps its
 * history and CRM+ totals net to zero. Sent after the gift itself.
 */
export function refundToTransaction(
  gift: RaiseGift,
  original: Record<string, unknown>,
  refundedAt: Date,
): Record<string, unknown> {
  return {
    transactionSource: original.transactionSource,
    transactionId: refundTransactionId(gift.id),
    contact: original.contact,
    giftDate: refundedAt.toISOString(),
    giftType: 'ReversingTransaction',
    amount: -giftAmount(gift),
    currencyCode: gift.currency,
    notes: `Refund of Raise gift ${gift.id}`,
  };
}

import { RecordRejectedError } from '@raise-sync/shared';
import type { RaiseGift } from '@raise-sync/shared/events';
import { AmountError, toMinorUnits } from '../mapping/amounts';
import { type FieldMap, type FieldMapConfig, mapFields } from '../mapping/field-map';

export interface AccountingMappingSettings {
  /** Gift `statusText` values that are revenue (get an invoice). Default Success, Refunded. */
  invoiceStatuses: readonly string[];
  /** Gift `statusText` values that mean "refunded" (invoice + credit note). Default Refunded. */
  refundStatuses: readonly string[];
  /** Ledger account code put on the invoice line. Default none. */
  account?: string;
  fieldMap: FieldMapConfig;
}

/** A field map may not change what the invoice's identity and amount are made of. */
export const ACCOUNTING_PROTECTED_FIELDS = {
  gift: ['reference', 'currency', 'amountMinor', 'issueDate'],
} as const;

/**
 * Default invoice fields. `description` and `account` are the invoice's single line; a field map
 * may point them (or the contact) elsewhere.
 */
export const ACCOUNTING_GIFT_DEFAULTS: FieldMap = {
  'contact.email': 'donorEmail',
  'contact.name': 'raw.donor.name',
};

export type GiftOperation = 'invoice' | 'credit-note' | 'void';

/**
 * Idempotency key of one accounting operation on one invoice of a gift: stable across retries,
 * replays and process restarts, so the accounting system records each operation at most once.
 * `revision` counts the gift's invoices (1 for the first; a changed amount voids the invoice and
 * issues revision 2, and so on); the first revision's keys carry no suffix.
 */
export const idempotencyKeyFor = (
  customerId: string,
  giftId: string,
  operation: GiftOperation,
  revision = 1,
): string =>
  `raise-sync:${customerId}:gift:${giftId}:${operation}${revision > 1 ? `:r${revision}` : ''}`;

/** The invoice reference of a gift (what `lookup` and reconciliation search by). */
export const invoiceReferenceFor = (giftId: string): string => `raise-gift-${giftId}`;
export const creditNoteReferenceFor = (giftId: string): string => `raise-gift-${giftId}-refund`;

const statusIn = (gift: RaiseGift, statuses: readonly string[]): boolean => {
  const status = (gift.statusText ?? '').trim().toLowerCase();
  return statuses.some((s) => s.trim().toLowerCase() === status);
};

export const isInvoiceable = (gift: RaiseGift, s: AccountingMappingSettings): boolean =>
  statusIn(gift, s.invoiceStatuses) || statusIn(gift, s.refundStatuses);

export const isRefundedGift = (gift: RaiseGift, s: AccountingMappingSettings): boolean =>
  statusIn(gift, s.refundStatuses);

/** The gift's amount in minor units; RecordRejectedError when it cannot be represented. */
export function giftAmountMinor(gift: RaiseGift): number {
  try {
    return toMinorUnits(gift.amount, gift.currency);
  } catch (error) {
    throw new RecordRejectedError(
      `gift ${gift.id}: ${error instanceof AmountError ? error.message : 'bad amount'}`,
    );
  }
}

/** YYYY-MM-DD of the gift (its local date as Raise gives it), else of its creation or sync. */
export function issueDateOf(gift: RaiseGift, fallback: Date): string {
  const local = /^(\d{4}-\d{2}-\d{2})/.exec(gift.giftDate ?? '')?.[1];
  return local ?? (gift.createdDate ?? fallback).toISOString().slice(0, 10);
}

/**
 * `POST /invoices` body. Deterministic for a given gift state (the idempotency key would refuse a
 * different body): the contact falls back to the email, then to "Raise donor <id>".
 */
export function giftToInvoice(
  gift: RaiseGift,
  settings: AccountingMappingSettings,
  modifiedAt: Date,
): Record<string, unknown> {
  const amountMinor = giftAmountMinor(gift);
  if (amountMinor <= 0) {
    throw new RecordRejectedError(`gift ${gift.id}: an invoice needs an amount above zero`);
  }
  const mapped = mapFields(
    gift,
    {
      defaults: ACCOUNTING_GIFT_DEFAULTS,
      computed: {
        description: `Raise gift ${gift.id}${gift.campaignName ? ` (${gift.campaignName})` : ''}`,
        account: settings.account,
      },
    },
    settings.fieldMap.gift,
  );
  const { description, account, contact: mappedContact, ...extra } = mapped;
  const contact = { ...((mappedContact as Record<string, unknown> | undefined) ?? {}) };
  if (contact.name === undefined) {
    const fallback =
      (typeof contact.email === 'string' ? contact.email : undefined) ??
      (gift.donorId ? `Raise donor ${gift.donorId}` : 'Raise donor');
    contact.name = fallback;
  }
  return {
    ...extra,
    reference: invoiceReferenceFor(gift.id),
    contact,
    currency: gift.currency.toUpperCase(),
    issueDate: issueDateOf(gift, modifiedAt),
    lines: [
      {
        description: description ?? `Raise gift ${gift.id}`,
        amountMinor,
        ...(account === undefined ? {} : { account }),
      },
    ],
  };
}

/** `POST /credit-notes` body: the full invoice amount, in the invoice's currency. */
export function creditNoteFor(
  giftId: string,
  invoice: { id: string; totalMinor: number; currency: string },
): Record<string, unknown> {
  return {
    invoiceId: invoice.id,
    reference: creditNoteReferenceFor(giftId),
    amountMinor: invoice.totalMinor,
    currency: invoice.currency,
    reason: 'refunded in Raise',
  };
}

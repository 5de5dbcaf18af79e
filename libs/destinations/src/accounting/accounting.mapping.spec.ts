import { RecordRejectedError } from '@raise-sync/shared';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import {
  type AccountingMappingSettings,
  creditNoteFor,
  giftToInvoice,
  idempotencyKeyFor,
  isInvoiceable,
  isRefundedGift,
  issueDateOf,
} from './accounting.mapping';

const settings: AccountingMappingSettings = {
  invoiceStatuses: ['Success', 'Refunded'],
  refundStatuses: ['Refunded'],
  fieldMap: {},
};
const modifiedAt = new Date('2026-11-20T09:12:04.250Z');

describe('accounting mapping', () => {
  it('derives idempotency keys from customer, gift and operation', () => {
    expect(idempotencyKeyFor('c1', '900113', 'invoice')).toBe('raise-sync:c1:gift:900113:invoice');
    expect(idempotencyKeyFor('c1', '900113', 'credit-note')).toBe(
      'raise-sync:c1:gift:900113:credit-note',
    );
    expect(idempotencyKeyFor('c1', '900113', 'void')).toBe('raise-sync:c1:gift:900113:void');
  });

  it('builds the invoice in minor units with the gift reference', () => {
    expect(
      giftToInvoice(SAMPLE_RECORDS.gift, { ...settings, account: '4000' }, modifiedAt),
    ).toEqual({
      reference: 'raise-gift-900113',
      contact: { email: 'ada@example.org', name: 'ada@example.org' },
      currency: 'USD',
      issueDate: '2026-11-20',
      lines: [
        { description: 'Raise gift 900113 (Winter Appeal)', amountMinor: 12550, account: '4000' },
      ],
    });
  });

  it('handles zero-decimal currencies and refuses fractions they cannot hold', () => {
    const yen = { ...SAMPLE_RECORDS.gift, amount: '5000.00', currency: 'JPY' };
    expect(giftToInvoice(yen, settings, modifiedAt).lines).toEqual([
      expect.objectContaining({ amountMinor: 5000 }),
    ]);
    expect(() => giftToInvoice({ ...yen, amount: '5000.50' }, settings, modifiedAt)).toThrow(
      RecordRejectedError,
    );
    expect(() =>
      giftToInvoice({ ...SAMPLE_RECORDS.gift, amount: '0.00' }, settings, modifiedAt),
    ).toThrow(/above zero/);
  });

  it('is deterministic for one gift state, so retries replay the same body', () => {
    expect(giftToInvoice(SAMPLE_RECORDS.gift, settings, modifiedAt)).toEqual(
      giftToInvoice(SAMPLE_RECORDS.gift, settings, new Date()),
    );
  });

  it('takes the contact name from the field map, from raw.donor, or falls back', () => {
    const withDonor = {
      ...SAMPLE_RECORDS.gift,
      raw: JSON.stringify({ donor: { name: 'Ada Lovelace' } }),
    };
    expect(giftToInvoice(withDonor, settings, modifiedAt).contact).toEqual({
      email: 'ada@example.org',
      name: 'Ada Lovelace',
    });
    const anonymous = { ...SAMPLE_RECORDS.gift, donorEmail: null };
    expect(giftToInvoice(anonymous, settings, modifiedAt).contact).toEqual({
      name: 'Raise donor 48213',
    });
    const mapped = giftToInvoice(
      SAMPLE_RECORDS.gift,
      {
        ...settings,
        fieldMap: { gift: { 'contact.name': { value: 'Donor' }, account: { value: '4100' } } },
      },
      modifiedAt,
    );
    expect(mapped.contact).toEqual({ email: 'ada@example.org', name: 'Donor' });
    expect(mapped.lines).toEqual([expect.objectContaining({ account: '4100' })]);
  });

  it('uses the gift local date, else the creation date', () => {
    expect(issueDateOf({ ...SAMPLE_RECORDS.gift, giftDate: null }, modifiedAt)).toBe('2026-11-20');
    expect(
      issueDateOf(
        { ...SAMPLE_RECORDS.gift, giftDate: null, createdDate: null },
        new Date('2026-01-02T00:00:00Z'),
      ),
    ).toBe('2026-01-02');
  });

  it('invoices successful and refunded gifts only', () => {
    expect(isInvoiceable(SAMPLE_RECORDS.gift, settings)).toBe(true);
    expect(isInvoiceable({ ...SAMPLE_RECORDS.gift, statusText: 'Failed' }, settings)).toBe(false);
    expect(isInvoiceable({ ...SAMPLE_RECORDS.gift, statusText: 'Pending' }, settings)).toBe(false);
    expect(isRefundedGift({ ...SAMPLE_RECORDS.gift, statusText: 'refunded' }, settings)).toBe(true);
  });

  it('credits the full invoice amount in its currency', () => {
    expect(creditNoteFor('900113', { id: 'inv_1', totalMinor: 12550, currency: 'USD' })).toEqual({
      invoiceId: 'inv_1',
      reference: 'raise-gift-900113-refund',
      amountMinor: 12550,
      currency: 'USD',
      reason: 'refunded in Raise',
    });
  });
});

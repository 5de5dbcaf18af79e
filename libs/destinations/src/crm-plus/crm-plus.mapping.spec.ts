import { NeedsSourceFixError, RecordRejectedError } from '@raise-sync/shared';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import {
  type CrmPlusMappingSettings,
  crmGiftType,
  donorToContact,
  giftToTransaction,
  isRefunded,
  refundToTransaction,
  userToContact,
} from './crm-plus.mapping';

const settings: CrmPlusMappingSettings = {
  transactionSource: 'raise',
  referenceSource: 'raise',
  volunteerReferenceSource: 'vomo',
  contactTags: [],
  volunteerTags: [],
  fieldMap: {},
};

describe('CRM+ mapping', () => {
  describe(donorToContact.name, () => {
    it('maps a donor to a flat contact transaction keyed by reference and email', () => {
      const raw = JSON.stringify({
        id: 48213,
        primaryAddress: {
          address1: '1 Main St',
          city: 'Austin',
          state: 'TX',
          postal: '78701',
          countryString: 'US',
        },
      });
      expect(
        donorToContact(
          { ...SAMPLE_RECORDS.donor, raw },
          { ...settings, contactTags: ['Raise', 'Donor'] },
        ),
      ).toEqual({
        referenceSource: 'raise',
        referenceId: '48213',
        contactType: 'Household',
        name: 'Ada Lovelace',
        firstName: 'Ada',
        lastName: 'Lovelace',
        email: 'ada@example.org',
        phone: '(555) 010-2000',
        address1: '1 Main St',
        city: 'Austin',
        state: 'TX',
        postal: '78701',
        country: 'US',
        tags: 'Raise;Donor',
      });
    });

    it('makes organisations Organization contacts named after the organisation', () => {
      const body = donorToContact(
        {
          ...SAMPLE_RECORDS.donor,
          isOrganization: true,
          name: null,
          organizationName: 'Acme Trust',
        },
        settings,
      );
      expect(body).toMatchObject({ contactType: 'Organization', name: 'Acme Trust' });
    });

    it('applies the customer field map but never lets it change the reference', () => {
      const body = donorToContact(SAMPLE_RECORDS.donor, {
        ...settings,
        fieldMap: { donor: { phone: null, 'customFields.Raise CRM Key': 'crmKey' } },
      });
      expect(body.phone).toBeUndefined();
      expect(body.customFields).toEqual({ 'Raise CRM Key': '10023' });
    });

    it('holds a donor without email for a fix in the source, naming the donor itself', () => {
      let thrown: unknown;
      try {
        donorToContact({ ...SAMPLE_RECORDS.donor, email: null }, settings);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(NeedsSourceFixError);
      expect(thrown).toMatchObject({
        reason: 'needs_source_fix',
        problem: 'contact_without_email',
        waitingFor: `donor:${SAMPLE_RECORDS.donor.id}`,
      });
    });
  });

  it('maps a VOMO user to a contact with the vomo reference source', () => {
    expect(
      userToContact(SAMPLE_RECORDS.user, { ...settings, volunteerTags: ['Volunteer'] }),
    ).toEqual({
      referenceSource: 'vomo',
      referenceId: '8205',
      contactType: 'Household',
      firstName: 'Grace',
      lastName: 'Hopper',
      email: 'grace@example.org',
      tags: 'Volunteer',
    });
  });

  describe(giftToTransaction.name, () => {
    it('maps a gift to an idempotent gift transaction', () => {
      expect(giftToTransaction(SAMPLE_RECORDS.gift, settings)).toEqual({
        transactionSource: 'raise',
        transactionId: '900113',
        giftType: 'Credit',
        amount: 125.5,
        currencyCode: 'USD',
        giftDate: '2026-11-20T09:12:00',
        contact: { referenceId: '48213', email: 'ada@example.org' },
        isPrivate: false,
        recurringGiftTransactionId: null,
      });
    });

    it('sends null for a field the source cleared, and leaves out one the source does not carry', () => {
      const withSegment = { ...SAMPLE_RECORDS.gift, raw: JSON.stringify({ segment: 'WEB' }) };
      const cleared = { ...SAMPLE_RECORDS.gift, raw: JSON.stringify({ segment: null }) };
      const sparse = { ...SAMPLE_RECORDS.gift, raw: JSON.stringify({}) };
      expect(giftToTransaction(withSegment, settings).segment).toBe('WEB');
      expect(giftToTransaction(cleared, settings)).toHaveProperty('segment', null);
      expect(giftToTransaction(sparse, settings)).not.toHaveProperty('segment');
    });

    it('names the donor a gift waits for when the donor has no email', () => {
      let thrown: unknown;
      try {
        giftToTransaction({ ...SAMPLE_RECORDS.gift, donorEmail: null }, settings);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(NeedsSourceFixError);
      expect(thrown).toMatchObject({
        reason: 'needs_source_fix',
        problem: 'donor_without_email',
        waitingFor: 'donor:48213',
      });
    });

    it('names the gift itself when it has neither a donor nor an email', () => {
      let thrown: unknown;
      try {
        giftToTransaction({ ...SAMPLE_RECORDS.gift, donorId: null, donorEmail: null }, settings);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ problem: 'gift_without_email', waitingFor: 'gift:900113' });
    });

    it('uses the configured transaction source', () => {
      expect(
        giftToTransaction(SAMPLE_RECORDS.gift, { ...settings, transactionSource: 'raise-acme' }),
      ).toMatchObject({
        transactionSource: 'raise-acme',
      });
    });

    it('holds a gift without donor email and rejects one with a non-positive amount', () => {
      expect(() =>
        giftToTransaction({ ...SAMPLE_RECORDS.gift, donorEmail: null }, settings),
      ).toThrow(NeedsSourceFixError);
      expect(() => giftToTransaction({ ...SAMPLE_RECORDS.gift, amount: '0.00' }, settings)).toThrow(
        RecordRejectedError,
      );
    });

    it('records a refund as a reversing transaction of its own', () => {
      const gift = { ...SAMPLE_RECORDS.gift, statusText: 'Refunded' };
      expect(isRefunded(gift)).toBe(true);
      const original = giftToTransaction(gift, settings);
      expect(refundToTransaction(gift, original, new Date('2026-11-22T00:00:00Z'))).toEqual({
        transactionSource: 'raise',
        transactionId: '900113-refund',
        contact: { referenceId: '48213', email: 'ada@example.org' },
        giftDate: '2026-11-22T00:00:00.000Z',
        giftType: 'ReversingTransaction',
        amount: -125.5,
        currencyCode: 'USD',
        notes: 'Refund of Raise gift 900113',
      });
    });
  });

  it.each([
    ['CreditCard', 'Credit'],
    ['PayPal', 'PayPal'],
    ['ACH', 'EFT'],
    ['BankAccount', 'EFT'],
    ['Check', 'Check'],
    [null, 'Other'],
  ])('maps payment type %s to gift type %s', (paymentType, giftType) => {
    expect(crmGiftType(paymentType)).toBe(giftType);
  });
});

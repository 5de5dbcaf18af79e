import {
  canonical,
  compareAccounting,
  compareCrm,
  compareMarketing,
  compareWarehouse,
  compareWebhook,
  diffFields,
  donorEmailOf,
  expectNoDifferences,
  expectedCrmGiftType,
  expectedInvoice,
  formatReports,
  minorUnits,
  sourceAmount,
  subscriberHashOf,
  type Difference,
  type Model,
  type SourceState,
} from './destination-compare';

const donor = (over: Record<string, unknown> = {}): Model => ({
  id: 10_001,
  name: 'Ada Byron',
  firstName: 'Ada',
  lastName: 'Byron',
  email: 'ada@example.org',
  phone: null,
  isOrganization: false,
  organizationName: null,
  isTestMode: false,
  isArchived: false,
  crmKey: null,
  crmSecondKey: null,
  primaryAddress: {
    address1: '1 Main St',
    city: 'Salem',
    state: 'OR',
    postal: '97301',
    countryString: 'United States',
  },
  donorEmailAddresses: [{ value: 'ada@example.org', isPrimary: true, isOptedIn: true }],
  createdDate: '2026-01-01T10:00:00.000Z',
  modifiedDate: '2026-01-02T10:00:00.000Z',
  ...over,
});

const gift = (over: Record<string, unknown> = {}): Model => ({
  id: 1_000_001,
  donorId: 10_001,
  recurringGiftId: null,
  amount: 25.5,
  currency: 'USD',
  date: '2026-01-03T09:12:04.250Z',
  status: 1,
  statusText: 'Success',
  isTestMode: false,
  isAnonymous: false,
  paymentType: 'Credit Card',
  transactionId: 'ch_1',
  campaignName: 'Spring 2026 #1',
  segment: 'EMAIL',
  projects: [{ projectId: 3, name: 'Shelter', amount: 25.5 }],
  createdDate: '2026-01-03T09:12:05.000Z',
  modifiedDate: '2026-01-03T09:12:05.000Z',
  ...over,
});

const state = (over: Partial<SourceState> = {}): SourceState => ({
  gifts: [gift()],
  donors: [donor()],
  deletedGiftIds: [],
  deletedDonorIds: [],
  ...over,
});

const kinds = (ds: readonly Difference[]) =>
  ds.map((d) => `${d.kind}:${d.recordId}${d.field ? `.${d.field}` : ''}`);

describe('value rules', () => {
  it('reads amounts, minor units, times and emails in one comparable form', () => {
    expect(sourceAmount(25.5)).toBe('25.50');
    expect(sourceAmount(1.005)).toBe('1.01');
    expect(canonical('decimal', '25.50')).toBe(canonical('decimal', 25.5));
    expect(minorUnits('125.50', 'usd')).toBe(12550);
    expect(minorUnits('1250', 'JPY')).toBe(1250);
    expect(minorUnits('1250.5', 'JPY')).toBeNull();
    expect(canonical('localtime', '2026-01-03T09:12:04.250Z')).toBe('2026-01-03 09:12:04.25');
    expect(canonical('localtime', '2026-01-03 09:12:04.25')).toBe('2026-01-03 09:12:04.25');
    expect(canonical('instant', new Date('2026-01-03T09:12:04.250Z'))).toBe(
      '2026-01-03T09:12:04.250Z',
    );
    expect(canonical('email', ' Ada@Example.org ')).toBe('ada@example.org');
    expect(expectedCrmGiftType('Credit Card')).toBe('Credit');
    expect(expectedCrmGiftType('ACH')).toBe('EFT');
    expect(expectedCrmGiftType('Apple Pay')).toBe('Other');
  });

  it("takes the donor's email from `email`, else the primary address", () => {
    expect(donorEmailOf(donor())).toBe('ada@example.org');
    expect(
      donorEmailOf(
        donor({ email: null, donorEmailAddresses: [{ value: 'p@example.org', isPrimary: true }] }),
      ),
    ).toBe('p@example.org');
    expect(donorEmailOf(donor({ email: '', donorEmailAddresses: [] }))).toBeNull();
    expect(donorEmailOf(undefined)).toBeNull();
  });

  it('names field differences with canonical expected and actual values', () => {
    expect(
      diffFields(
        'gift',
        '1',
        { amount: { value: '25.50', as: 'decimal' }, segment: { value: null, as: 'text' } },
        {
          amount: 25.5,
          segment: 'EMAIL',
        },
      ),
    ).toEqual([
      {
        kind: 'field',
        resource: 'gift',
        recordId: '1',
        field: 'segment',
        expected: null,
        actual: 'EMAIL',
      },
    ]);
  });
});

describe('warehouse', () => {
  const giftRow = (over: Record<string, unknown> = {}): Model => ({
    source_id: '1000001',
    donor_id: '10001',
    recurring_gift_id: null,
    campaign_name: 'Spring 2026 #1',
    amount: '25.50',
    currency: 'USD',
    gift_date: '2026-01-03 09:12:04.25',
    status_text: 'Success',
    is_test_mode: false,
    is_anonymous: false,
    payment_type: 'Credit Card',
    transaction_id: 'ch_1',
    donor_email: 'ada@example.org',
    created_date: new Date('2026-01-03T09:12:05.000Z'),
    modified_date: new Date('2026-01-03T09:12:05.000Z'),
    source_modified_at: new Date('2026-01-03T09:12:05.000Z'),
    deleted_at: null,
    segment: 'EMAIL',
    project_count: 1,
    first_project_id: '3',
    first_project_name: 'Shelter',
    ...over,
  });

  it('finds nothing when the row matches, and the donor email from the donor record otherwise', () => {
    expect(
      compareWarehouse(state({ donors: [] }), {
        gifts: [giftRow({ donor_email: null })],
        donors: [],
      }).differences,
    ).toEqual([]);
    const report = compareWarehouse(state({ donors: [donor()] }), {
      gifts: [giftRow({ donor_email: null })],
      donors: [],
    });
    expect(report.differences).toContainEqual({
      kind: 'field',
      resource: 'gift',
      recordId: '1000001',
      field: 'donor_email',
      expected: 'ada@example.org',
      actual: null,
    });
    expect(kinds(report.differences)).toContain('missing:10001');
  });

  it('reports extra rows, and deleted records still live', () => {
    const report = compareWarehouse(state({ gifts: [], donors: [], deletedGiftIds: [1_000_001] }), {
      gifts: [giftRow(), giftRow({ source_id: '1000999' })],
      donors: [],
    });
    expect(kinds(report.differences)).toEqual(['not_deleted:1000001.deleted_at', 'extra:1000999']);
    const tombstoned = compareWarehouse(
      state({ gifts: [], donors: [], deletedGiftIds: [1_000_001] }),
      {
        gifts: [giftRow({ deleted_at: new Date() })],
        donors: [],
      },
    );
    expect(tombstoned.differences).toEqual([]);
  });
});

describe('CRM+', () => {
  const contact = {
    id: 200_001,
    email: 'ADA@example.org',
    contactType: 'Household',
    name: 'Ada Byron',
    firstName: 'Ada',
    lastName: 'Byron',
    address1: '1 Main St',
    city: 'Salem',
    state: 'OR',
    postal: '97301',
    country: 'United States',
    references: [{ referenceSource: 'raise', referenceId: '10001' }],
  };
  const crmGift = (over: Record<string, unknown> = {}): Model => ({
    contactId: 200_001,
    transactionSource: 'raise',
    transactionId: '1000001',
    amount: 25.5,
    currencyCode: 'USD',
    giftDate: '2026-01-03T09:12:04.250Z',
    giftType: 'Credit',
    segment: 'EMAIL',
    recurringGiftTransactionId: null,
    isPrivate: false,
    cancelDate: null,
    ...over,
  });

  it('matches a gift, its contact, and expects a reversing transaction for a refund', () => {
    expect(compareCrm(state(), { gifts: [crmGift()], contacts: [contact] }).differences).toEqual(
      [],
    );
    const refunded = compareCrm(state({ gifts: [gift({ statusText: 'Refunded', amount: 40 })] }), {
      gifts: [crmGift()],
      contacts: [contact],
    });
    expect(kinds(refunded.differences)).toEqual(['field:1000001.amount', 'missing:1000001-refund']);
    const withRefund = compareCrm(state({ gifts: [gift({ statusText: 'Refunded' })] }), {
      gifts: [
        crmGift(),
        crmGift({
          transactionId: '1000001-refund',
          amount: -25.5,
          giftType: 'ReversingTransaction',
        }),
      ],
      contacts: [contact],
    });
    expect(withRefund.differences).toEqual([]);
  });

  it('expects no gift for test mode or a donor without email, and a cancelled gift for a delete', () => {
    const noEmail = state({ donors: [donor({ email: null, donorEmailAddresses: [] })] });
    expect(kinds(compareCrm(noEmail, { gifts: [crmGift()], contacts: [] }).differences)).toEqual([
      'extra:1000001',
    ]);
    expect(compareCrm(noEmail, { gifts: [], contacts: [] }).differences).toEqual([]);
    const deleted = state({ gifts: [], deletedGiftIds: [1_000_001] });
    expect(
      kinds(compareCrm(deleted, { gifts: [crmGift()], contacts: [contact] }).differences),
    ).toEqual(['not_deleted:1000001.cancelDate']);
    expect(
      compareCrm(deleted, {
        gifts: [crmGift({ cancelDate: '2026-01-05T00:00:00Z' })],
        contacts: [contact],
      }).differences,
    ).toEqual([]);
  });

  it('checks the contact a gift is attached to against the donor record', () => {
    const other = { ...contact, id: 200_002, email: 'someone@example.org', references: [] };
    const report = compareCrm(state(), {
      gifts: [crmGift({ contactId: 200_002 })],
      contacts: [contact, other],
    });
    expect(report.differences).toEqual([
      {
        kind: 'field',
        resource: 'gift',
        recordId: '1000001',
        field: 'contactEmail',
        expected: 'ada@example.org',
        actual: 'someone@example.org',
      },
    ]);
  });
});

describe('accounting', () => {
  const invoice = (over: Record<string, unknown> = {}): Model => ({
    reference: 'raise-gift-1000001',
    status: 'AUTHORISED',
    contact: { email: 'ada@example.org', name: 'Ada Byron' },
    currency: 'USD',
    issueDate: '2026-01-03',
    lines: [
      { description: 'Raise gift 1000001 (Spring 2026 #1)', amountMinor: 2550, account: null },
    ],
    totalMinor: 2550,
    creditNotes: [],
    ...over,
  });

  it('takes the contact from the donor record, with the documented name fallbacks', () => {
    expect(expectedInvoice(gift(), donor()).contactName?.value).toBe('Ada Byron');
    expect(expectedInvoice(gift(), donor({ name: '' })).contactName?.value).toBe('ada@example.org');
    expect(expectedInvoice(gift(), undefined).contactName?.value).toBe('Raise donor 10001');
    expect(expectedInvoice(gift(), donor(), { ledgerAccount: '4000' }).account?.value).toBe('4000');
    const report = compareAccounting(state(), [
      invoice({ contact: { email: null, name: 'Raise donor 10001' } }),
    ]);
    expect(kinds(report.differences)).toEqual([
      'field:1000001.contactEmail',
      'field:1000001.contactName',
    ]);
  });

  it('wants a credit note for a refund, no invoice for a pending gift, a void for a delete', () => {
    const refunded = state({ gifts: [gift({ statusText: 'Refunded' })] });
    expect(kinds(compareAccounting(refunded, [invoice()]).differences)).toEqual([
      'missing:1000001',
    ]);
    expect(
      compareAccounting(refunded, [
        invoice({ creditNotes: [{ reference: 'raise-gift-1000001-refund', amountMinor: 2550 }] }),
      ]).differences,
    ).toEqual([]);
    expect(
      kinds(
        compareAccounting(state({ gifts: [gift({ statusText: 'Pending' })] }), [invoice()])
          .differences,
      ),
    ).toEqual(['extra:1000001']);
    const deleted = state({ gifts: [], deletedGiftIds: [1_000_001] });
    expect(kinds(compareAccounting(deleted, [invoice()]).differences)).toEqual([
      'not_deleted:1000001.status',
    ]);
    expect(compareAccounting(deleted, [invoice({ status: 'VOIDED' })]).differences).toEqual([]);
  });

  it('compares the live revision of a re-issued invoice and reports two live ones', () => {
    const changed = state({ gifts: [gift({ amount: 30 })] });
    const voided = invoice({ status: 'VOIDED' });
    const reissued = invoice({
      id: 'inv_2',
      totalMinor: 3000,
      lines: [
        { description: 'Raise gift 1000001 (Spring 2026 #1)', amountMinor: 3000, account: null },
      ],
    });
    expect(compareAccounting(changed, [voided, reissued]).differences).toEqual([]);
    expect(kinds(compareAccounting(changed, [reissued, voided]).differences)).toEqual([]);
    expect(kinds(compareAccounting(changed, [invoice(), reissued]).differences)).toEqual([
      'extra:1000001.live',
    ]);
    // A refund settled the old revision: it stands next to the new one.
    const settled = invoice({
      creditNotes: [{ reference: 'raise-gift-1000001-refund', amountMinor: 2550 }],
    });
    expect(compareAccounting(changed, [settled, reissued]).differences).toEqual([]);
    const deleted = state({ gifts: [], deletedGiftIds: [1_000_001] });
    expect(kinds(compareAccounting(deleted, [voided, reissued]).differences)).toEqual([
      'not_deleted:1000001.status',
    ]);
  });

  it('tolerates only the kinds it is told to', () => {
    const changed = compareAccounting(state({ gifts: [gift({ amount: 30 })] }), [invoice()]);
    expect(kinds(changed.differences)).toEqual(['field:1000001.amountMinor']);
    expect(() => expectNoDifferences([changed], ['field'])).not.toThrow();
    expect(() => expectNoDifferences([changed])).toThrow(
      /accounting: 1 checked, 1 differences \(field 1\)/,
    );
  });
});

describe('partner webhook', () => {
  const body = (over: Record<string, unknown> = {}, record: Record<string, unknown> = {}) => ({
    resource: 'gift',
    operation: 'upsert',
    recordId: '1000001',
    sourceModifiedAt: '2026-01-03T09:12:05.000Z',
    record: {
      id: '1000001',
      donorId: '10001',
      recurringGiftId: null,
      campaignName: 'Spring 2026 #1',
      amount: '25.50',
      currency: 'USD',
      giftDate: '2026-01-03T09:12:04.250Z',
      statusText: 'Success',
      isTestMode: false,
      isAnonymous: false,
      paymentType: 'Credit Card',
      transactionId: 'ch_1',
      donorEmail: 'ada@example.org',
      createdDate: '2026-01-03T09:12:05.000Z',
      modifiedDate: '2026-01-03T09:12:05.000Z',
      ...record,
    },
    ...over,
  });

  it("compares each record's newest delivery, whatever order they arrived in", () => {
    const older = body({ sourceModifiedAt: '2026-01-02T00:00:00.000Z' }, { amount: '10.00' });
    const report = compareWebhook(
      state(),
      [
        { seq: 2, body: body() },
        { seq: 3, body: older },
      ],
      { resources: ['gift'] },
    );
    expect(report.differences).toEqual([]);
    const stale = compareWebhook(
      state({ gifts: [gift({ amount: 99 })] }),
      [{ seq: 1, body: body() }],
      { resources: ['gift'] },
    );
    expect(kinds(stale.differences)).toEqual(['field:1000001.amount']);
  });

  it('expects a delete as the last word on a deleted record', () => {
    const deleted = state({ gifts: [], deletedGiftIds: [1_000_001] });
    const removal = body({
      operation: 'delete',
      record: null,
      sourceModifiedAt: '2026-01-04T00:00:00.000Z',
    });
    expect(
      compareWebhook(
        deleted,
        [
          { seq: 1, body: body() },
          { seq: 2, body: removal },
        ],
        { resources: ['gift'] },
      ).differences,
    ).toEqual([]);
    expect(
      kinds(
        compareWebhook(deleted, [{ seq: 1, body: body() }], { resources: ['gift'] }).differences,
      ),
    ).toEqual(['not_deleted:1000001.operation']);
  });
});

describe('marketing and the summary', () => {
  it('expects a member keyed by the email hash, subscribed only with consent', () => {
    const member = {
      id: subscriberHashOf('ada@example.org'),
      email_address: 'ada@example.org',
      status: 'subscribed',
      merge_fields: { FNAME: 'Ada', LNAME: 'Byron' },
    };
    expect(compareMarketing(state(), [member]).differences).toEqual([]);
    const noConsent = state({
      donors: [
        donor({
          donorEmailAddresses: [{ value: 'ada@example.org', isPrimary: true, isOptedIn: false }],
        }),
      ],
    });
    expect(kinds(compareMarketing(noConsent, [member]).differences)).toEqual([
      'field:10001.status',
    ]);
  });

  it('prints counts per kind and field, then at most the first differences', () => {
    const differences: Difference[] = Array.from({ length: 25 }, (_, i) => ({
      kind: 'field',
      resource: 'gift',
      recordId: String(i),
      field: 'donorEmail',
      expected: `d${i}@example.org`,
      actual: null,
    }));
    const text = formatReports([{ destination: 'webhook', checked: 25, differences }], 20);
    expect(text).toContain('webhook: 25 checked, 25 differences (field 25)');
    expect(text).toContain('fields: gift.donorEmail 25');
    expect(text).toContain('gift 19 donorEmail: expected "d19@example.org", actual null');
    expect(text).not.toContain('gift 20 donorEmail');
    expect(text).toContain('… and 5 more');
  });
});

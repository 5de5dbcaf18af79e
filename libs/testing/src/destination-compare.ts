import { createHash } from 'node:crypto';

/**
 * Record-by-record, field-by-field comparison of what each destination holds against the source
 * (the simulated Raise org).
 *
 * The expectation for every destination field is worked out here from the source record, by the
 * rules the adapters document (libs/destinations/README.md), written out again on purpose: the
 * adapters' own mapping functions are not used, so a mapping bug shows up as a difference instead
 * of being compared with itself. For a gift, everything about its donor (email, name, opt-in)
 * comes from the source's donor record (`donorId`), never from the gift payload: Raise's webhook
 * payload of a gift does not carry the donor.
 *
 * The module only takes plain data (and small structural reader interfaces), so it depends on
 * neither the simulator nor the adapters; the pure parts are unit-tested in
 * destination-compare.spec.ts.
 */

export type Model = Readonly<Record<string, unknown>>;

export type DifferenceKind =
  /** The source has the record, the destination should have it and does not. */
  | 'missing'
  /** The destination holds a record the source does not know, or one it should not hold. */
  | 'extra'
  /** Deleted in the source, still live at the destination. */
  | 'not_deleted'
  /** Both have the record; one field differs. */
  | 'field';

export const DIFFERENCE_KINDS: readonly DifferenceKind[] = [
  'missing',
  'extra',
  'not_deleted',
  'field',
];

export interface Difference {
  kind: DifferenceKind;
  resource: string;
  recordId: string;
  field?: string;
  expected?: unknown;
  actual?: unknown;
}

export interface DestinationReport {
  /** A label for the destination (its kind, or kind/account). */
  destination: string;
  /** Source records looked at for this destination. */
  checked: number;
  differences: Difference[];
}

/** What the source holds: live records and the ids deleted, per resource. */
export interface SourceState {
  gifts: readonly Model[];
  donors: readonly Model[];
  deletedGiftIds: readonly (string | number)[];
  deletedDonorIds: readonly (string | number)[];
}

// ------------------------------------------------------------------ value canonical forms

export type ValueKind =
  | 'text'
  | 'email'
  | 'decimal'
  | 'instant'
  | 'bool'
  | 'int'
  /** A wall-clock date-time whose zone designator is ignored (the warehouse's gift_date). */
  | 'localtime'
  | 'day';

const isBlank = (value: unknown): boolean => value === null || value === undefined;

/** A number or numeric text as canonical decimal text: "25.50" and 25.5 are both "25.5". */
function canonicalDecimal(value: unknown): string | null {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : null;
  const match = text === null ? null : /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!match) {
    return null;
  }
  const [, sign = '', whole = '0', fraction = ''] = match;
  const integer = whole.replace(/^0+(?=\d)/, '');
  const decimals = fraction.replace(/0+$/, '');
  const body = decimals === '' ? integer : `${integer}.${decimals}`;
  return sign === '-' && body !== '0' ? `-${body}` : body;
}

/** The value in one comparable text form per kind (null for "no value"). */
export function canonical(kind: ValueKind, value: unknown): string | null {
  if (isBlank(value)) {
    return null;
  }
  switch (kind) {
    case 'text':
      return typeof value === 'string' || typeof value === 'number' ? String(value) : null;
    case 'email':
      return typeof value === 'string' && value.trim() !== '' ? value.trim().toLowerCase() : null;
    case 'decimal':
      return canonicalDecimal(value);
    case 'instant': {
      const at = value instanceof Date ? value : new Date(String(value));
      return Number.isNaN(at.getTime()) ? null : at.toISOString();
    }
    case 'bool':
      return typeof value === 'boolean' ? String(value) : null;
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) ? String(value) : null;
    case 'localtime': {
      const match =
        /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::(\d{2}))?(?:\.(\d+))?/.exec(String(value)) ??
        /^(\d{4}-\d{2}-\d{2})$/.exec(String(value));
      if (!match) {
        return null;
      }
      const [, date, minutes = '00:00', seconds = '00', fraction = ''] = match;
      const trimmed = fraction.slice(0, 6).replace(/0+$/, '');
      return `${date} ${minutes}:${seconds}${trimmed ? `.${trimmed}` : ''}`;
    }
    case 'day': {
      const text = value instanceof Date ? value.toISOString() : String(value);
      return /^\d{4}-\d{2}-\d{2}/.exec(text)?.[0] ?? null;
    }
  }
}

/** One expected field: the value and how to compare it. */
export interface ExpectedField {
  value: unknown;
  as: ValueKind;
}

export type ExpectedFields = Record<string, ExpectedField>;

const field = (value: unknown, as: ValueKind): ExpectedField => ({ value, as });

/** Field differences between the expectation and what the destination holds. */
export function diffFields(
  resource: string,
  recordId: string,
  expected: ExpectedFields,
  actual: Model,
): Difference[] {
  const differences: Difference[] = [];
  for (const [name, { value, as }] of Object.entries(expected)) {
    const want = canonical(as, value);
    const got = canonical(as, actual[name]);
    if (want !== got) {
      differences.push({
        kind: 'field',
        resource,
        recordId,
        field: name,
        expected: want,
        actual: got,
      });
    }
  }
  return differences;
}

// ------------------------------------------------------------------ source rules

const idOf = (model: Model): string => String(model.id);
const asModel = (value: unknown): Model | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Model) : null;
const textOrNull = (value: unknown): string | null =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null;
const nonEmpty = (value: unknown): string | null => {
  const text = textOrNull(value);
  return text === null || text === '' ? null : text;
};

function emailAddresses(donor: Model): Model[] {
  return Array.isArray(donor.donorEmailAddresses)
    ? donor.donorEmailAddresses.map(asModel).filter((a): a is Model => a !== null)
    : [];
}

/** The donor's email as Raise shows it: `email`, else the address marked primary; else null. */
export function donorEmailOf(donor: Model | undefined): string | null {
  if (!donor) {
    return null;
  }
  const direct = nonEmpty(donor.email);
  if (direct !== null) {
    return direct;
  }
  return nonEmpty(emailAddresses(donor).find((a) => a.isPrimary === true)?.value);
}

/** Marketing consent: the primary address's opt-in, else the one of the address equal to `email`. */
export function donorOptInOf(donor: Model): boolean | null {
  const addresses = emailAddresses(donor);
  const email = nonEmpty(donor.email)?.toLowerCase() ?? null;
  const chosen =
    addresses.find((a) => a.isPrimary === true) ??
    addresses.find((a) => email !== null && nonEmpty(a.value)?.toLowerCase() === email);
  return typeof chosen?.isOptedIn === 'boolean' ? chosen.isOptedIn : null;
}

/** Raise amounts become decimal text with two decimals, rounded half away from zero. */
export function sourceAmount(value: unknown): string | null {
  const canon = canonicalDecimal(value);
  if (canon === null) {
    return null;
  }
  const negative = canon.startsWith('-');
  const [whole = '0', fraction = ''] = canon.replace('-', '').split('.');
  let cents = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0').slice(0, 2));
  if ((fraction[2] ?? '0') >= '5') {
    cents += 1n;
  }
  const digits = cents.toString().padStart(3, '0');
  return `${negative && cents !== 0n ? '-' : ''}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

/** Currencies whose minor unit is not a hundredth (a few ISO 4217 codes; the rest have 2). */
const MINOR_EXPONENT: Readonly<Record<string, number>> = {
  JPY: 0,
  KRW: 0,
  CLP: 0,
  ISK: 0,
  VND: 0,
  BHD: 3,
  KWD: 3,
  JOD: 3,
  OMR: 3,
  TND: 3,
};

/** An amount in the currency's minor units (null when it cannot be held exactly). */
export function minorUnits(amount: unknown, currency: string): number | null {
  const canon = canonicalDecimal(amount);
  if (canon === null) {
    return null;
  }
  const exponent = MINOR_EXPONENT[currency.toUpperCase()] ?? 2;
  const [whole = '0', fraction = ''] = canon.replace('-', '').split('.');
  if (fraction.length > exponent) {
    return null;
  }
  const minor = Number(whole) * 10 ** exponent + Number(fraction.padEnd(exponent, '0') || '0');
  return canon.startsWith('-') ? -minor : minor;
}

const statusIs = (gift: Model, ...statuses: string[]): boolean =>
  statuses.includes((textOrNull(gift.statusText) ?? '').trim().toLowerCase());

/** Raise payment type → CRM+ gift type, as the CRM+ adapter documents it. */
export function expectedCrmGiftType(paymentType: unknown): string {
  const word = (textOrNull(paymentType) ?? '').toLowerCase().replace(/[^a-z]/g, '');
  if (word.includes('paypal')) return 'PayPal';
  if (word.includes('card') || word === 'credit') return 'Credit';
  if (['ach', 'eft', 'bank', 'bankaccount', 'directdebit', 'sepa'].includes(word)) return 'EFT';
  if (word === 'check' || word === 'cheque') return 'Check';
  if (word === 'cash') return 'Cash';
  if (word.includes('crypto')) return 'Cryptocoin';
  return 'Other';
}

/**
 * The gift as the pipeline's record carries it (what the warehouse columns and the partner
 * webhook's `record` are made of), with the donor's email from the donor record.
 */
export function expectedGiftRecord(gift: Model, donor: Model | undefined): ExpectedFields {
  return {
    id: field(idOf(gift), 'text'),
    donorId: field(gift.donorId, 'text'),
    recurringGiftId: field(gift.recurringGiftId, 'text'),
    campaignName: field(gift.campaignName, 'text'),
    amount: field(sourceAmount(gift.amount), 'decimal'),
    currency: field(gift.currency, 'text'),
    giftDate: field(gift.date, 'instant'),
    statusText: field(gift.statusText, 'text'),
    isTestMode: field(gift.isTestMode === true, 'bool'),
    isAnonymous: field(gift.isAnonymous === true, 'bool'),
    paymentType: field(gift.paymentType, 'text'),
    transactionId: field(gift.transactionId, 'text'),
    donorEmail: field(donorEmailOf(donor), 'text'),
    createdDate: field(gift.createdDate, 'instant'),
    modifiedDate: field(gift.modifiedDate, 'instant'),
  };
}

/** The donor as the pipeline's record carries it. */
export function expectedDonorRecord(donor: Model): ExpectedFields {
  return {
    id: field(idOf(donor), 'text'),
    name: field(donor.name, 'text'),
    firstName: field(donor.firstName, 'text'),
    lastName: field(donor.lastName, 'text'),
    email: field(donor.email, 'text'),
    emailOptIn: field(donorOptInOf(donor), 'bool'),
    phone: field(donor.phone, 'text'),
    isOrganization: field(donor.isOrganization === true, 'bool'),
    organizationName: field(donor.organizationName, 'text'),
    isTestMode: field(donor.isTestMode === true, 'bool'),
    isArchived: field(donor.isArchived === true, 'bool'),
    crmKey: field(donor.crmKey, 'text'),
    crmSecondKey: field(donor.crmSecondKey, 'text'),
    createdDate: field(donor.createdDate, 'instant'),
    modifiedDate: field(donor.modifiedDate, 'instant'),
  };
}

// ------------------------------------------------------------------ warehouse

/** A `warehouse.raise_gift` row, as the columns' own values (see warehouse.tables.ts). */
export function expectedWarehouseGift(gift: Model, donor: Model | undefined): ExpectedFields {
  const projects = Array.isArray(gift.projects) ? gift.projects : null;
  const first = projects ? asModel(projects[0]) : null;
  return {
    donor_id: field(gift.donorId, 'text'),
    recurring_gift_id: field(gift.recurringGiftId, 'text'),
    campaign_name: field(gift.campaignName, 'text'),
    amount: field(sourceAmount(gift.amount), 'decimal'),
    currency: field(gift.currency, 'text'),
    gift_date: field(gift.date, 'localtime'),
    status_text: field(gift.statusText, 'text'),
    is_test_mode: field(gift.isTestMode === true, 'bool'),
    is_anonymous: field(gift.isAnonymous === true, 'bool'),
    payment_type: field(gift.paymentType, 'text'),
    transaction_id: field(gift.transactionId, 'text'),
    donor_email: field(donorEmailOf(donor), 'text'),
    created_date: field(gift.createdDate, 'instant'),
    modified_date: field(gift.modifiedDate, 'instant'),
    source_modified_at: field(gift.modifiedDate, 'instant'),
    segment: field(gift.segment, 'text'),
    project_count: field(projects ? projects.length : null, 'int'),
    first_project_id: field(first?.projectId, 'text'),
    first_project_name: field(first?.name, 'text'),
    deleted_at: field(null, 'instant'),
  };
}

function primaryAddress(donor: Model): Model | null {
  const direct = asModel(donor.primaryAddress);
  if (direct) {
    return direct;
  }
  const all = Array.isArray(donor.donorAddresses) ? donor.donorAddresses : [];
  return all.map(asModel).find((a) => a?.isPrimary === true) ?? null;
}

/** A `warehouse.raise_donor` row. */
export function expectedWarehouseDonor(donor: Model): ExpectedFields {
  const address = primaryAddress(donor);
  return {
    name: field(donor.name, 'text'),
    first_name: field(donor.firstName, 'text'),
    last_name: field(donor.lastName, 'text'),
    email: field(donor.email, 'text'),
    email_opt_in: field(donorOptInOf(donor), 'bool'),
    phone: field(donor.phone, 'text'),
    is_organization: field(donor.isOrganization === true, 'bool'),
    organization_name: field(donor.organizationName, 'text'),
    is_test_mode: field(donor.isTestMode === true, 'bool'),
    is_archived: field(donor.isArchived === true, 'bool'),
    crm_key: field(donor.crmKey, 'text'),
    crm_second_key: field(donor.crmSecondKey, 'text'),
    created_date: field(donor.createdDate, 'instant'),
    modified_date: field(donor.modifiedDate, 'instant'),
    source_modified_at: field(donor.modifiedDate, 'instant'),
    address_city: field(address?.city, 'text'),
    address_state: field(address?.state, 'text'),
    address_postal: field(address?.postal, 'text'),
    address_country: field(address?.countryString, 'text'),
    deleted_at: field(null, 'instant'),
  };
}

// ------------------------------------------------------------------ shared walk

/** Index of the source: live gifts and donors by id, deleted ids, donor lookup. */
class SourceIndex {
  readonly gifts: Map<string, Model>;
  readonly donors: Map<string, Model>;
  readonly deletedGifts: Set<string>;
  readonly deletedDonors: Set<string>;

  constructor(source: SourceState) {
    this.gifts = new Map(source.gifts.map((g) => [idOf(g), g]));
    this.donors = new Map(source.donors.map((d) => [idOf(d), d]));
    this.deletedGifts = new Set(source.deletedGiftIds.map(String));
    this.deletedDonors = new Set(source.deletedDonorIds.map(String));
  }

  donorOf(gift: Model): Model | undefined {
    return isBlank(gift.donorId) ? undefined : this.donors.get(String(gift.donorId));
  }

  knows(resource: 'gift' | 'donor', id: string): boolean {
    return resource === 'gift'
      ? this.gifts.has(id) || this.deletedGifts.has(id)
      : this.donors.has(id) || this.deletedDonors.has(id);
  }
}

// ------------------------------------------------------------------ warehouse comparison

export interface WarehouseRows {
  /** `warehouse.raise_gift` rows of the customer, `source_id` plus the columns. */
  gifts: readonly Model[];
  donors: readonly Model[];
}

function compareRows(
  resource: 'gift' | 'donor',
  live: Map<string, Model>,
  deleted: Set<string>,
  rows: readonly Model[],
  expect: (model: Model) => ExpectedFields,
): Difference[] {
  const differences: Difference[] = [];
  const byId = new Map(rows.map((r) => [String(r.source_id), r]));
  for (const [id, model] of live) {
    const row = byId.get(id);
    if (!row) {
      differences.push({ kind: 'missing', resource, recordId: id });
    } else {
      differences.push(...diffFields(resource, id, expect(model), row));
    }
  }
  for (const [id, row] of byId) {
    if (live.has(id)) {
      continue;
    }
    if (!deleted.has(id)) {
      differences.push({ kind: 'extra', resource, recordId: id });
    } else if (isBlank(row.deleted_at)) {
      differences.push({ kind: 'not_deleted', resource, recordId: id, field: 'deleted_at' });
    }
  }
  return differences;
}

export function compareWarehouse(source: SourceState, rows: WarehouseRows): DestinationReport {
  const index = new SourceIndex(source);
  return {
    destination: 'warehouse',
    checked: index.gifts.size + index.donors.size,
    differences: [
      ...compareRows('gift', index.gifts, index.deletedGifts, rows.gifts, (g) =>
        expectedWarehouseGift(g, index.donorOf(g)),
      ),
      ...compareRows('donor', index.donors, index.deletedDonors, rows.donors, (d) =>
        expectedWarehouseDonor(d),
      ),
    ],
  };
}

// ------------------------------------------------------------------ CRM+

export interface CrmState {
  gifts: readonly Model[];
  contacts: readonly Model[];
}

export interface CrmRules {
  /** `config.transactionSource` / `config.referenceSource`. Default 'raise'. */
  transactionSource?: string;
  referenceSource?: string;
  /** `config.includeTestMode`. Default false. */
  includeTestMode?: boolean;
}

export const refundIdOf = (giftId: string): string => `${giftId}-refund`;

/**
 * Whether CRM+ should hold the gift: not test mode (unless included), a positive amount, and a
 * donor with an email (CRM+ cannot take a gift without its donor's email).
 */
export function crmShouldHoldGift(
  gift: Model,
  donor: Model | undefined,
  rules: CrmRules = {},
): boolean {
  const amount = Number(sourceAmount(gift.amount));
  return (
    (rules.includeTestMode === true || gift.isTestMode !== true) &&
    amount > 0 &&
    donorEmailOf(donor) !== null
  );
}

/** The CRM+ gift transaction's fields (the contact is compared by its email). */
export function expectedCrmGift(gift: Model, donor: Model | undefined): ExpectedFields {
  return {
    amount: field(sourceAmount(gift.amount), 'decimal'),
    currencyCode: field(textOrNull(gift.currency)?.toUpperCase(), 'text'),
    giftDate: field(gift.date, 'instant'),
    giftType: field(expectedCrmGiftType(gift.paymentType), 'text'),
    segment: field(gift.segment, 'text'),
    recurringGiftTransactionId: field(gift.recurringGiftId, 'text'),
    isPrivate: field(gift.isAnonymous === true, 'bool'),
    cancelDate: field(null, 'instant'),
    contactEmail: field(donorEmailOf(donor), 'email'),
  };
}

/** The reversing transaction that records a refund. */
export function expectedCrmRefund(gift: Model, donor: Model | undefined): ExpectedFields {
  const amount = sourceAmount(gift.amount);
  return {
    amount: field(amount === null ? null : `-${amount}`, 'decimal'),
    currencyCode: field(textOrNull(gift.currency)?.toUpperCase(), 'text'),
    giftType: field('ReversingTransaction', 'text'),
    contactEmail: field(donorEmailOf(donor), 'email'),
  };
}

/**
 * The contact a donor becomes. Only fields the donor has a value for are expected: an absent
 * source value leaves the contact's field as it was.
 */
export function expectedCrmContact(donor: Model): ExpectedFields {
  const address = asModel(donor.primaryAddress);
  const isOrg = donor.isOrganization === true;
  const fields: ExpectedFields = {
    email: field(donorEmailOf(donor), 'email'),
    contactType: field(isOrg ? 'Organization' : 'Household', 'text'),
  };
  const optional: Array<[string, unknown]> = [
    ['name', nonEmpty(donor.name) ?? (isOrg ? nonEmpty(donor.organizationName) : null)],
    ['firstName', donor.firstName],
    ['lastName', donor.lastName],
    ['phone', donor.phone],
    ['address1', address?.address1],
    ['city', address?.city],
    ['state', address?.state],
    ['postal', address?.postal],
    ['country', address?.countryString],
  ];
  for (const [name, value] of optional) {
    if (nonEmpty(value) !== null) {
      fields[name] = field(value, 'text');
    }
  }
  return fields;
}

export function compareCrm(
  source: SourceState,
  crm: CrmState,
  rules: CrmRules = {},
): DestinationReport {
  const index = new SourceIndex(source);
  const transactionSource = rules.transactionSource ?? 'raise';
  const referenceSource = rules.referenceSource ?? 'raise';
  const contactsById = new Map(crm.contacts.map((c) => [String(c.id), c]));
  const contactsByEmail = new Map(
    crm.contacts.map((c) => [canonical('email', c.email) ?? '', c] as const),
  );
  const gifts = new Map(
    crm.gifts
      .filter((g) => g.transactionSource === transactionSource)
      .map((g) => [String(g.transactionId), g]),
  );
  const withContact = (gift: Model): Model => ({
    ...gift,
    contactEmail: contactsById.get(String(gift.contactId))?.email ?? null,
  });
  const differences: Difference[] = [];

  for (const [id, gift] of index.gifts) {
    const donor = index.donorOf(gift);
    const held = gifts.get(id);
    const refund = gifts.get(refundIdOf(id));
    if (!crmShouldHoldGift(gift, donor, rules)) {
      if (held) differences.push({ kind: 'extra', resource: 'gift', recordId: id });
      if (refund) differences.push({ kind: 'extra', resource: 'gift', recordId: refundIdOf(id) });
      continue;
    }
    if (!held) {
      differences.push({ kind: 'missing', resource: 'gift', recordId: id });
    } else {
      differences.push(...diffFields('gift', id, expectedCrmGift(gift, donor), withContact(held)));
    }
    const refunded = statusIs(gift, 'refunded');
    if (refunded && !refund) {
      differences.push({ kind: 'missing', resource: 'gift', recordId: refundIdOf(id) });
    } else if (refunded && refund) {
      differences.push(
        ...diffFields('gift', refundIdOf(id), expectedCrmRefund(gift, donor), withContact(refund)),
      );
    } else if (refund) {
      differences.push({ kind: 'extra', resource: 'gift', recordId: refundIdOf(id) });
    }
  }
  for (const [transactionId, held] of gifts) {
    const giftId = transactionId.replace(/-refund$/, '');
    if (index.gifts.has(giftId)) {
      continue;
    }
    if (!index.deletedGifts.has(giftId)) {
      differences.push({ kind: 'extra', resource: 'gift', recordId: transactionId });
    } else if (transactionId === giftId && isBlank(held.cancelDate)) {
      differences.push({
        kind: 'not_deleted',
        resource: 'gift',
        recordId: giftId,
        field: 'cancelDate',
      });
    }
  }

  let contactsChecked = 0;
  for (const [id, donor] of index.donors) {
    const email = canonical('email', donorEmailOf(donor));
    if (email === null || (donor.isTestMode === true && rules.includeTestMode !== true)) {
      continue;
    }
    contactsChecked += 1;
    const contact = contactsByEmail.get(email);
    if (!contact) {
      differences.push({ kind: 'missing', resource: 'donor', recordId: id });
      continue;
    }
    differences.push(...diffFields('donor', id, expectedCrmContact(donor), contact));
    const references = Array.isArray(contact.references) ? contact.references.map(asModel) : [];
    if (
      !references.some(
        (r) => r?.referenceSource === referenceSource && String(r.referenceId) === id,
      )
    ) {
      differences.push({
        kind: 'field',
        resource: 'donor',
        recordId: id,
        field: 'references',
        expected: `${referenceSource}:${id}`,
        actual:
          references
            .map((r) => `${String(r?.referenceSource)}:${String(r?.referenceId)}`)
            .join(',') || null,
      });
    }
  }
  return {
    destination: 'crm-plus',
    checked: index.gifts.size + contactsChecked,
    differences,
  };
}

// ------------------------------------------------------------------ accounting

export interface AccountingRules {
  /** `config.invoiceStatuses` / `config.refundStatuses`. */
  invoiceStatuses?: readonly string[];
  refundStatuses?: readonly string[];
  /** `config.account`: the ledger account code on the invoice line. */
  ledgerAccount?: string;
}

export const invoiceReferenceOf = (giftId: string): string => `raise-gift-${giftId}`;
export const creditNoteReferenceOf = (giftId: string): string => `raise-gift-${giftId}-refund`;

const lower = (list: readonly string[]) => list.map((s) => s.trim().toLowerCase());

export function accountingShouldInvoice(gift: Model, rules: AccountingRules = {}): boolean {
  const statuses = [
    ...lower(rules.invoiceStatuses ?? ['Success', 'Refunded']),
    ...lower(rules.refundStatuses ?? ['Refunded']),
  ];
  const minor = minorUnits(sourceAmount(gift.amount), textOrNull(gift.currency) ?? '');
  return gift.isTestMode !== true && statusIs(gift, ...statuses) && minor !== null && minor > 0;
}

/** The invoice of an invoiceable gift: contact from the donor record, line from the gift. */
export function expectedInvoice(
  gift: Model,
  donor: Model | undefined,
  rules: AccountingRules = {},
): ExpectedFields {
  const email = donorEmailOf(donor);
  const name =
    nonEmpty(donor?.name) ??
    email ??
    (isBlank(gift.donorId) ? 'Raise donor' : `Raise donor ${String(gift.donorId)}`);
  const currency = (textOrNull(gift.currency) ?? '').toUpperCase();
  const campaign = nonEmpty(gift.campaignName);
  const date = nonEmpty(gift.date) ?? nonEmpty(gift.createdDate);
  return {
    status: field('AUTHORISED', 'text'),
    contactEmail: field(email, 'text'),
    contactName: field(name, 'text'),
    currency: field(currency, 'text'),
    issueDate: field(date, 'day'),
    amountMinor: field(minorUnits(sourceAmount(gift.amount), currency), 'int'),
    description: field(`Raise gift ${idOf(gift)}${campaign ? ` (${campaign})` : ''}`, 'text'),
    account: field(rules.ledgerAccount ?? null, 'text'),
  };
}

/** The invoice flattened into the fields expectedInvoice names. */
function invoiceView(invoice: Model): Model {
  const contact = asModel(invoice.contact);
  const line = Array.isArray(invoice.lines) ? asModel(invoice.lines[0]) : null;
  return {
    status: invoice.status,
    contactEmail: contact?.email ?? null,
    contactName: contact?.name ?? null,
    currency: invoice.currency,
    issueDate: invoice.issueDate,
    amountMinor: line?.amountMinor ?? null,
    description: line?.description ?? null,
    account: line?.account ?? null,
  };
}

/** What an invoice's credit notes take back, in minor units. */
function creditedOf(invoice: Model): number {
  const notes = Array.isArray(invoice.creditNotes) ? invoice.creditNotes.map(asModel) : [];
  return notes.reduce((sum, note) => sum + (Number(note?.amountMinor) || 0), 0);
}

export function compareAccounting(
  source: SourceState,
  invoices: readonly Model[],
  rules: AccountingRules = {},
): DestinationReport {
  const index = new SourceIndex(source);
  const differences: Difference[] = [];
  // A changed amount re-issues the invoice under the same reference (the old one voided, or kept
  // when a credit note already settled it): the newest live one is compared (the newest of all
  // if none is live), and an older live one that is not fully credited is a double booking.
  const revisions = new Map<string, Model[]>();
  for (const invoice of invoices) {
    const reference = String(invoice.reference);
    revisions.set(reference, [...(revisions.get(reference) ?? []), invoice]);
  }
  const byReference = new Map<string, Model>();
  for (const [reference, list] of revisions) {
    const live = list.filter((inv) => inv.status !== 'VOIDED');
    byReference.set(reference, live[live.length - 1] ?? list[list.length - 1]!);
    const open = live.slice(0, -1).filter((inv) => creditedOf(inv) < Number(inv.totalMinor));
    if (open.length > 0) {
      const giftId = /^raise-gift-(.+)$/.exec(reference)?.[1] ?? reference;
      differences.push({ kind: 'extra', resource: 'invoice', recordId: giftId, field: 'live' });
    }
  }
  const refundStatuses = lower(rules.refundStatuses ?? ['Refunded']);
  let checked = 0;
  for (const [id, gift] of index.gifts) {
    const invoice = byReference.get(invoiceReferenceOf(id));
    if (!accountingShouldInvoice(gift, rules)) {
      if (invoice) differences.push({ kind: 'extra', resource: 'gift', recordId: id });
      continue;
    }
    checked += 1;
    if (!invoice) {
      differences.push({ kind: 'missing', resource: 'gift', recordId: id });
      continue;
    }
    const fieldDiffs = diffFields(
      'gift',
      id,
      expectedInvoice(gift, index.donorOf(gift), rules),
      invoiceView(invoice),
    );
    differences.push(...fieldDiffs);
    const notes = Array.isArray(invoice.creditNotes) ? invoice.creditNotes.map(asModel) : [];
    const note = notes.find((n) => n?.reference === creditNoteReferenceOf(id));
    if (statusIs(gift, ...refundStatuses)) {
      if (!note) {
        differences.push({ kind: 'missing', resource: 'credit-note', recordId: id });
      } else if (note.amountMinor !== invoice.totalMinor) {
        differences.push({
          kind: 'field',
          resource: 'credit-note',
          recordId: id,
          field: 'amountMinor',
          expected: canonical('int', invoice.totalMinor),
          actual: canonical('int', note.amountMinor),
        });
      }
    } else if (note) {
      differences.push({ kind: 'extra', resource: 'credit-note', recordId: id });
    }
  }
  for (const [reference, invoice] of byReference) {
    const giftId = /^raise-gift-(.+)$/.exec(reference)?.[1] ?? reference;
    if (index.gifts.has(giftId)) {
      continue;
    }
    if (!index.deletedGifts.has(giftId)) {
      differences.push({ kind: 'extra', resource: 'gift', recordId: giftId });
    } else if (invoice.status !== 'VOIDED') {
      differences.push({
        kind: 'not_deleted',
        resource: 'gift',
        recordId: giftId,
        field: 'status',
      });
    }
  }
  return { destination: 'accounting', checked, differences };
}

// ------------------------------------------------------------------ partner webhook

export interface WebhookRules {
  /** Resources the endpoint receives and this comparison looks at. Default gift and donor. */
  resources?: ReadonlyArray<'gift' | 'donor'>;
}

/**
 * The partner's latest delivery of each record (by source-modified time; later deliveries win
 * ties) must be that record's current state, or a delete for a deleted record.
 */
export function compareWebhook(
  source: SourceState,
  deliveries: ReadonlyArray<{ seq?: number; body: unknown }>,
  rules: WebhookRules = {},
): DestinationReport {
  const index = new SourceIndex(source);
  const resources = rules.resources ?? ['gift', 'donor'];
  const latest = new Map<string, { at: number; seq: number; body: Model }>();
  for (const [position, delivery] of deliveries.entries()) {
    const body = asModel(delivery.body);
    if (!body || !resources.includes(body.resource as 'gift' | 'donor')) {
      continue;
    }
    const key = `${String(body.resource)}:${String(body.recordId)}`;
    const at = new Date(String(body.sourceModifiedAt)).getTime();
    const seq = delivery.seq ?? position;
    const current = latest.get(key);
    if (!current || at > current.at || (at === current.at && seq > current.seq)) {
      latest.set(key, { at, seq, body });
    }
  }
  const differences: Difference[] = [];
  let checked = 0;
  for (const resource of resources) {
    const live = resource === 'gift' ? index.gifts : index.donors;
    const deleted = resource === 'gift' ? index.deletedGifts : index.deletedDonors;
    for (const [id, model] of live) {
      checked += 1;
      const found = latest.get(`${resource}:${id}`);
      if (!found) {
        differences.push({ kind: 'missing', resource, recordId: id });
        continue;
      }
      if (found.body.operation !== 'upsert') {
        differences.push({
          kind: 'field',
          resource,
          recordId: id,
          field: 'operation',
          expected: 'upsert',
          actual: found.body.operation,
        });
        continue;
      }
      const expected: ExpectedFields = {
        ...(resource === 'gift'
          ? expectedGiftRecord(model, index.donorOf(model))
          : expectedDonorRecord(model)),
      };
      const record = asModel(found.body.record) ?? {};
      differences.push(
        ...diffFields(resource, id, expected, record),
        ...diffFields(
          resource,
          id,
          { sourceModifiedAt: field(model.modifiedDate, 'instant') },
          found.body,
        ),
      );
    }
    for (const [key, found] of latest) {
      const [kind, id = ''] = key.split(':');
      if (kind !== resource || live.has(id)) {
        continue;
      }
      if (!deleted.has(id)) {
        differences.push({ kind: 'extra', resource, recordId: id });
      } else if (found.body.operation !== 'delete') {
        differences.push({ kind: 'not_deleted', resource, recordId: id, field: 'operation' });
      }
    }
  }
  return { destination: 'webhook', checked, differences };
}

// ------------------------------------------------------------------ marketing

export interface MarketingRules {
  includeTestMode?: false;
}

export const subscriberHashOf = (email: string): string =>
  createHash('md5').update(email.trim().toLowerCase()).digest('hex');

/**
 * The member a donor becomes (first write: status from consent; nobody subscribed without it).
 * Name fields only where the donor has them.
 */
export function expectedMember(donor: Model): ExpectedFields {
  const optIn = donorOptInOf(donor);
  const fields: ExpectedFields = {
    email_address: field(donorEmailOf(donor), 'email'),
    status: field(optIn === true ? 'subscribed' : 'transactional', 'text'),
  };
  if (nonEmpty(donor.firstName) !== null) fields.FNAME = field(donor.firstName, 'text');
  if (nonEmpty(donor.lastName) !== null) fields.LNAME = field(donor.lastName, 'text');
  return fields;
}

export function compareMarketing(
  source: SourceState,
  members: readonly Model[],
): DestinationReport {
  const index = new SourceIndex(source);
  const byHash = new Map(members.map((m) => [String(m.id), m]));
  const differences: Difference[] = [];
  let checked = 0;
  for (const [id, donor] of index.donors) {
    const email = donorEmailOf(donor);
    if (email === null || donor.isTestMode === true) {
      continue;
    }
    checked += 1;
    const member = byHash.get(subscriberHashOf(email));
    if (!member) {
      differences.push({ kind: 'missing', resource: 'donor', recordId: id });
      continue;
    }
    const merge = asModel(member.merge_fields) ?? {};
    differences.push(...diffFields('donor', id, expectedMember(donor), { ...merge, ...member }));
  }
  return { destination: 'marketing', checked, differences };
}

// ------------------------------------------------------------------ reading the live system

type MaybePromise<T> = T | Promise<T>;

/** What the comparison reads from the simulated Raise (`sim.control` or `connectSimulator`). */
export interface SourceReader {
  records(org: string, resource: 'gift' | 'donor'): MaybePromise<readonly object[]>;
  deletedIds(org: string, resource: 'gift' | 'donor'): MaybePromise<readonly number[]>;
}

/** What the comparison reads from the destination simulators (`sim.destinations`). */
export interface DestinationReader {
  crmGifts(account: string): MaybePromise<readonly object[]>;
  crmContacts(account: string): MaybePromise<readonly object[]>;
  invoices(account: string): MaybePromise<readonly object[]>;
  hookDeliveries(account: string): MaybePromise<ReadonlyArray<{ seq?: number; body: unknown }>>;
  members(account: string): MaybePromise<readonly object[]>;
}

/** A PostgreSQL connection (a TypeORM DataSource or a pg Pool both fit). */
export interface SqlReader {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

export type DestinationTarget =
  | { kind: 'warehouse'; customerId: string }
  | ({ kind: 'crm-plus'; account: string } & CrmRules)
  | ({ kind: 'accounting'; account: string } & AccountingRules)
  | ({ kind: 'webhook'; account: string } & WebhookRules)
  | { kind: 'marketing'; account: string };

export async function readSourceState(reader: SourceReader, org: string): Promise<SourceState> {
  const [gifts, donors, deletedGiftIds, deletedDonorIds] = await Promise.all([
    reader.records(org, 'gift'),
    reader.records(org, 'donor'),
    reader.deletedIds(org, 'gift'),
    reader.deletedIds(org, 'donor'),
  ]);
  return {
    gifts: gifts as Model[],
    donors: donors as Model[],
    deletedGiftIds,
    deletedDonorIds,
  };
}

const asText = (column: string) => `${column}::text AS ${column}`;

/** The customer's warehouse gift and donor rows, every column in a form `canonical` reads. */
export async function readWarehouseRows(db: SqlReader, customerId: string): Promise<WarehouseRows> {
  const gifts = (await db.query(
    `SELECT source_id, donor_id, recurring_gift_id, campaign_name, ${asText('amount')}, currency,
            ${asText('gift_date')}, status_text, is_test_mode, is_anonymous, payment_type,
            transaction_id, donor_email, created_date, modified_date, source_modified_at,
            deleted_at, segment, project_count, first_project_id, first_project_name
       FROM warehouse.raise_gift WHERE customer_id = $1`,
    [customerId],
  )) as Model[];
  const donors = (await db.query(
    `SELECT source_id, name, first_name, last_name, email, email_opt_in, phone, is_organization,
            organization_name, is_test_mode, is_archived, crm_key, crm_second_key, created_date,
            modified_date, source_modified_at, deleted_at, address_city, address_state,
            address_postal, address_country
       FROM warehouse.raise_donor WHERE customer_id = $1`,
    [customerId],
  )) as Model[];
  return { gifts, donors };
}

/**
 * Reads the source and every target destination as they are now and compares them. One report
 * per target, in the order given.
 */
export async function compareDestinations(input: {
  source: SourceReader;
  org: string;
  destinations: DestinationReader;
  db: SqlReader;
  targets: readonly DestinationTarget[];
}): Promise<DestinationReport[]> {
  const source = await readSourceState(input.source, input.org);
  const reports: DestinationReport[] = [];
  for (const target of input.targets) {
    switch (target.kind) {
      case 'warehouse':
        reports.push(
          compareWarehouse(source, await readWarehouseRows(input.db, target.customerId)),
        );
        break;
      case 'crm-plus': {
        const [gifts, contacts] = await Promise.all([
          input.destinations.crmGifts(target.account),
          input.destinations.crmContacts(target.account),
        ]);
        reports.push(
          compareCrm(source, { gifts: gifts as Model[], contacts: contacts as Model[] }, target),
        );
        break;
      }
      case 'accounting':
        reports.push(
          compareAccounting(
            source,
            (await input.destinations.invoices(target.account)) as Model[],
            target,
          ),
        );
        break;
      case 'webhook':
        reports.push(
          compareWebhook(source, await input.destinations.hookDeliveries(target.account), target),
        );
        break;
      case 'marketing':
        reports.push(
          compareMarketing(source, (await input.destinations.members(target.account)) as Model[]),
        );
        break;
    }
  }
  return reports;
}

// ------------------------------------------------------------------ output

const show = (value: unknown): string => (value === undefined ? '' : JSON.stringify(value));

export function describeDifference(d: Difference): string {
  const where = `${d.resource} ${d.recordId}`;
  switch (d.kind) {
    case 'missing':
      return `missing      ${where}`;
    case 'extra':
      return `extra        ${where}`;
    case 'not_deleted':
      return `not deleted  ${where}${d.field ? ` (${d.field})` : ''}`;
    case 'field':
      return `field        ${where} ${d.field ?? ''}: expected ${show(d.expected)}, actual ${show(d.actual)}`;
  }
}

export function countByKind(differences: readonly Difference[]): Record<DifferenceKind, number> {
  const counts = Object.fromEntries(DIFFERENCE_KINDS.map((k) => [k, 0])) as Record<
    DifferenceKind,
    number
  >;
  for (const d of differences) {
    counts[d.kind] += 1;
  }
  return counts;
}

/** Counts by field of the `field` differences ("donorEmail 12, amount 3"). */
export function countByField(differences: readonly Difference[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const d of differences) {
    if (d.kind === 'field' && d.field) {
      counts[`${d.resource}.${d.field}`] = (counts[`${d.resource}.${d.field}`] ?? 0) + 1;
    }
  }
  return counts;
}

/** A readable summary: per destination the counts per kind and per field, then the first few. */
export function formatReports(reports: readonly DestinationReport[], limit = 20): string {
  const lines: string[] = [];
  for (const report of reports) {
    const counts = countByKind(report.differences);
    const kinds = DIFFERENCE_KINDS.filter((k) => counts[k] > 0)
      .map((k) => `${k} ${counts[k]}`)
      .join(', ');
    lines.push(
      `${report.destination}: ${report.checked} checked, ${report.differences.length} differences${kinds ? ` (${kinds})` : ''}`,
    );
    const fields = Object.entries(countByField(report.differences))
      .map(([name, n]) => `${name} ${n}`)
      .join(', ');
    if (fields) {
      lines.push(`  fields: ${fields}`);
    }
    for (const d of report.differences.slice(0, limit)) {
      lines.push(`  ${describeDifference(d)}`);
    }
    if (report.differences.length > limit) {
      lines.push(`  … and ${report.differences.length - limit} more`);
    }
  }
  return lines.join('\n');
}

/**
 * Throws (with formatReports' summary) when a report holds a difference of a kind not in
 * `tolerated`. Returns the summary otherwise, for the test log.
 */
export function expectNoDifferences(
  reports: readonly DestinationReport[],
  tolerated: readonly DifferenceKind[] = [],
): string {
  const summary = formatReports(reports);
  const failing = reports.some((r) => r.differences.some((d) => !tolerated.includes(d.kind)));
  if (failing) {
    throw new Error(`destinations differ from the source:\n${summary}`);
  }
  return summary;
}

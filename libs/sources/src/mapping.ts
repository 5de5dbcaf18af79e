import type {
  RaiseCampaign,
  RaiseDonor,
  RaiseGift,
  RaiseRecurringGift,
  RecordByResource,
  Resource,
  VomoUser,
} from '@raise-sync/shared/events';
import {
  RAISE_MODIFIED_FIELD,
  type RaiseModelByResource,
  type RaiseResource,
  type RaiseWebhookPayload,
} from './raise-wire';
import { MalformedSourceRecordError } from './source-errors';
import type { VomoUserResource } from './vomo-wire';

/** A source model turned into what a SourceEvent carries, plus the keys the pipeline needs. */
export interface MappedSourceRecord<R extends Resource> {
  /** The record's ID in the source system. */
  recordId: string;
  sourceModifiedAt: Date;
  record: RecordByResource[R];
}

type Fields = Readonly<Record<string, unknown>>;

/** A record before its `raw` (the source model as JSON) is attached. */
type Unraw<T extends { raw: string }> = Omit<T, 'raw'>;

export interface MapOptions {
  /**
   * 'deferred': `raw` is serialized on first read, not when mapping (a reader that compares
   * versions and publishes only a few of the records it maps saves the serialization of the
   * rest). Default 'now'.
   */
  raw?: 'now' | 'deferred';
}

/** Attaches `raw`, serialized now or on first read (then kept); enumerable either way. */
function withRaw<T extends { raw: string }>(
  record: Unraw<T>,
  fields: Fields,
  options?: MapOptions,
): T {
  if (options?.raw !== 'deferred') {
    return Object.assign(record, { raw: JSON.stringify(fields) }) as T;
  }
  let raw: string | undefined;
  return Object.defineProperty(record, 'raw', {
    enumerable: true,
    configurable: true,
    get: () => (raw ??= JSON.stringify(fields)),
  }) as T;
}

const ISO_TIME =
  /^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2})(?::(\d{2}))?(?:\.(\d+))?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Parses a source timestamp (ISO 8601). A time without a zone designator (.NET's unspecified
 * kind, as Raise may send) is read as UTC, whatever the process time zone; fractions beyond
 * milliseconds are truncated. Anything else (including non-ISO formats Date.parse would guess
 * at) gives null.
 */
export function parseSourceTime(value: unknown): Date | null {
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? null : value;
  }
  if (typeof value !== 'string') {
    return null;
  }
  const match = ISO_TIME.exec(value.trim());
  if (!match) {
    return null;
  }
  const [, date, hoursMinutes = '00:00', seconds = '00', fraction = '', zone = 'Z'] = match;
  const millis = fraction.padEnd(3, '0').slice(0, 3);
  let offset = zone.toUpperCase();
  if (offset !== 'Z') {
    const digits = offset.slice(1).replace(':', '');
    offset = `${offset[0]}${digits.slice(0, 2)}:${digits.slice(2, 4) || '00'}`;
  }
  const ms = Date.parse(`${date}T${hoursMinutes}:${seconds}.${millis}${offset}`);
  return Number.isNaN(ms) ? null : new Date(ms);
}

/** Orders source IDs: numerically when both are integers (Raise, VOMO), else as strings. */
export function compareSourceIds(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = a.replace(/^0+(?=\d)/, '');
    const y = b.replace(/^0+(?=\d)/, '');
    if (x.length !== y.length) {
      return x.length < y.length ? -1 : 1;
    }
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

const RECORD_ID_TEXT = /^[1-9][0-9]{0,15}$/;

/**
 * THE record-ID rule, for every path that turns source data into an event or an arrival
 * (webhook upserts and deletes, polling, backfills, reconciliation, CRM+ webhooks pointing back
 * at Raise): Raise and VOMO IDs are positive integers (VOMO documents `id` as an integer and
 * sends it as a string, "8205"), so an ID is a JSON number that is a safe integer above 0, or
 * its decimal text without sign, spaces or leading zeros, up to Number.MAX_SAFE_INTEGER.
 * Numbers beyond 2^53 are refused because JSON.parse has already rounded them to another ID;
 * "", "a:b" (`:` separates the parts of a Kafka key), -5 and 1.5 are refused too. Returns the
 * canonical decimal text (the event's `recordId` and the last part of its key); throws
 * MalformedSourceRecordError naming `field` otherwise.
 */
export function parseRecordId(value: unknown, field = 'id'): string {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) {
    return String(value);
  }
  if (
    typeof value === 'string' &&
    RECORD_ID_TEXT.test(value) &&
    Number(value) <= Number.MAX_SAFE_INTEGER
  ) {
    return value;
  }
  throw new MalformedSourceRecordError(
    `${field} is ${value === undefined || value === null ? 'missing' : 'not a record ID (a positive integer up to 2^53 - 1)'}`,
    field,
  );
}

function optionalId(value: unknown, field: string): string | null {
  return value === null || value === undefined ? null : parseRecordId(value, field);
}

function requiredTime(value: unknown, field: string): Date {
  const at = parseSourceTime(value);
  if (!at) {
    throw new MalformedSourceRecordError(
      `${field} is ${value === undefined || value === null ? 'missing' : 'not an ISO 8601 time'}`,
      field,
    );
  }
  return at;
}

function text(value: unknown): string | null {
  if (typeof value === 'string') {
    return value;
  }
  return typeof value === 'number' || typeof value === 'bigint' ? String(value) : null;
}

function requiredText(value: unknown, field: string): string {
  const result = text(value);
  if (result === null) {
    throw new MalformedSourceRecordError(`${field} is missing`, field);
  }
  return result;
}

const flag = (value: unknown): boolean => value === true;

/** Decimal text of a finite number without exponent: 1e-7 → "0.0000001", 1.5e21 → "1500…0". */
function plainDecimal(value: number): string {
  const sign = value < 0 ? '-' : '';
  const shortest = String(Math.abs(value));
  const match = /^(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(shortest);
  if (!match) {
    return sign + shortest;
  }
  const [, whole = '', fraction = '', exponent = '0'] = match;
  const digits = whole + fraction;
  const point = whole.length + Number(exponent);
  if (point <= 0) {
    return `${sign}0.${'0'.repeat(-point)}${digits}`;
  }
  if (point >= digits.length) {
    return sign + digits + '0'.repeat(point - digits.length);
  }
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * An amount as a decimal string with two decimals, rounded half away from zero on the decimal
 * text of the number (its shortest round-trip form), so float artifacts vanish:
 * 125.5 → "125.50", 0.1 + 0.2 → "0.30", 1.005 → "1.01". Numeric strings are accepted too.
 */
export function toDecimalAmount(value: unknown, field = 'amount'): string {
  let decimal: string;
  if (typeof value === 'number' && Number.isFinite(value)) {
    decimal = plainDecimal(value);
  } else if (typeof value === 'string' && /^[+-]?\d+(\.\d+)?$/.test(value.trim())) {
    decimal = value.trim();
  } else {
    throw new MalformedSourceRecordError(`${field} is missing or not a number`, field);
  }
  let negative = decimal.startsWith('-');
  const [whole = '0', fraction = ''] = decimal.replace(/^[+-]/, '').split('.');
  let cents = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0').slice(0, 2));
  if ((fraction[2] ?? '0') >= '5') {
    cents += 1n;
  }
  if (cents === 0n) {
    negative = false;
  }
  const digits = cents.toString().padStart(3, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

const asFields = (value: unknown): Fields | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Fields) : null;

/** Opt-in of the donor's primary email address (else the one equal to `email`), else null. */
function emailOptInOf(donor: Fields): boolean | null {
  const addresses = Array.isArray(donor.donorEmailAddresses)
    ? donor.donorEmailAddresses.map(asFields).filter((a): a is Fields => a !== null)
    : [];
  const email = typeof donor.email === 'string' ? donor.email.toLowerCase() : null;
  const chosen =
    addresses.find((a) => a.isPrimary === true) ??
    addresses.find((a) => email !== null && text(a.value)?.toLowerCase() === email);
  return typeof chosen?.isOptedIn === 'boolean' ? chosen.isOptedIn : null;
}

/** A Raise donor model's email: `email`, else the primary `donorEmailAddresses` entry; else null. */
export function primaryEmailOf(donor: Fields): string | null {
  if (typeof donor.email === 'string' && donor.email !== '') {
    return donor.email;
  }
  const addresses = Array.isArray(donor.donorEmailAddresses) ? donor.donorEmailAddresses : [];
  const primary = addresses.map(asFields).find((a) => a?.isPrimary === true);
  return primary ? text(primary.value) : null;
}

function mapDonor(m: Fields, modifiedDate: Date): Unraw<RaiseDonor> {
  return {
    id: parseRecordId(m.id, 'id'),
    name: text(m.name),
    firstName: text(m.firstName),
    lastName: text(m.lastName),
    email: text(m.email),
    emailOptIn: emailOptInOf(m),
    phone: text(m.phone),
    isOrganization: flag(m.isOrganization),
    organizationName: text(m.organizationName),
    isTestMode: flag(m.isTestMode),
    isArchived: flag(m.isArchived),
    crmKey: text(m.crmKey),
    crmSecondKey: text(m.crmSecondKey),
    createdDate: parseSourceTime(m.createdDate),
    modifiedDate,
  };
}

function mapGift(m: Fields, modifiedDate: Date): Unraw<RaiseGift> {
  const donor = asFields(m.donor);
  return {
    id: parseRecordId(m.id, 'id'),
    donorId: optionalId(m.donorId ?? donor?.id, 'donorId'),
    recurringGiftId: optionalId(m.recurringGiftId, 'recurringGiftId'),
    campaignName: text(m.campaignName),
    amount: toDecimalAmount(m.amount, 'amount'),
    currency: requiredText(m.currency, 'currency'),
    giftDate: text(m.date),
    statusText: text(m.statusText),
    isTestMode: flag(m.isTestMode),
    isAnonymous: flag(m.isAnonymous),
    paymentType: text(m.paymentType),
    transactionId: text(m.transactionId),
    donorEmail: donor ? primaryEmailOf(donor) : null,
    createdDate: parseSourceTime(m.createdDate),
    modifiedDate,
  };
}

function mapRecurringGift(m: Fields, modifiedDate: Date): Unraw<RaiseRecurringGift> {
  return {
    id: parseRecordId(m.id, 'id'),
    donorId: optionalId(m.donorId ?? asFields(m.donor)?.id, 'donorId'),
    amount: toDecimalAmount(m.amount, 'amount'),
    currency: requiredText(m.currencyCode, 'currencyCode'),
    frequencyText: text(m.formattedFrequency),
    statusText: text(m.statusText),
    startDate: text(m.startDate),
    nextChargeDate: text(m.nextChargeDate),
    crmKey: text(m.crmKey),
    isTestMode: flag(m.isTestMode),
    createdDate: parseSourceTime(m.createdDate),
    modifiedDate,
  };
}

function mapCampaign(m: Fields, modifiedDateTime: Date): Unraw<RaiseCampaign> {
  return {
    id: parseRecordId(m.id, 'id'),
    name: requiredText(m.name, 'name'),
    description: text(m.description),
    canSync: flag(m.canSync),
    crmKey: text(m.crmKey),
    startDate: text(m.startDate),
    endDate: text(m.endDate),
    createdDateTime: parseSourceTime(m.createdDateTime),
    modifiedDateTime,
  };
}

/** The source-modified time of a Raise model (`modifiedDate`, or `modifiedDateTime` for campaigns). */
export function raiseModifiedAt(resource: RaiseResource, model: Fields): Date {
  const field = RAISE_MODIFIED_FIELD[resource];
  return requiredTime(model[field], field);
}

/**
 * A Raise model (from a query, a GET or a webhook's `data`) as the Avro record of its resource.
 * Throws MalformedSourceRecordError naming the field when the id, the modified time or a field
 * the record cannot do without (amount, currency, campaign name) is missing.
 */
export function raiseToRecord<R extends RaiseResource>(
  resource: R,
  model: RaiseModelByResource[R] | Fields,
  options?: MapOptions,
): MappedSourceRecord<R> {
  const fields = asFields(model);
  if (!fields) {
    throw new MalformedSourceRecordError(`${resource} is not an object`, resource);
  }
  const recordId = parseRecordId(fields.id, 'id');
  const sourceModifiedAt = raiseModifiedAt(resource, fields);
  const mapped: MappedSourceRecord<RaiseResource> = {
    recordId,
    sourceModifiedAt,
    record: mapRaise(resource, fields, sourceModifiedAt, options),
  };
  return mapped as MappedSourceRecord<R>;
}

function mapRaise(
  resource: RaiseResource,
  fields: Fields,
  modifiedAt: Date,
  options?: MapOptions,
): RecordByResource[RaiseResource] {
  switch (resource) {
    case 'donor':
      return withRaw<RaiseDonor>(mapDonor(fields, modifiedAt), fields, options);
    case 'gift':
      return withRaw<RaiseGift>(mapGift(fields, modifiedAt), fields, options);
    case 'recurring_gift':
      return withRaw<RaiseRecurringGift>(mapRecurringGift(fields, modifiedAt), fields, options);
    case 'campaign':
      return withRaw<RaiseCampaign>(mapCampaign(fields, modifiedAt), fields, options);
  }
}

/** A VOMO UserResource as the VomoUser record; `updated_at` is the source-modified time. */
export function vomoToRecord(
  user: VomoUserResource | Fields,
  options?: MapOptions,
): MappedSourceRecord<'user'> {
  const fields = asFields(user);
  if (!fields) {
    throw new MalformedSourceRecordError('user is not an object', 'user');
  }
  const recordId = parseRecordId(fields.id, 'id');
  const updatedAt = requiredTime(fields.updated_at, 'updated_at');
  const record = withRaw<VomoUser>(
    {
      id: recordId,
      firstName: text(fields.first_name),
      lastName: text(fields.last_name),
      email: text(fields.email),
      phone: text(fields.phone),
      userStatus: text(fields.user_status),
      membershipStatus: text(fields.membership_status),
      membershipRole: text(fields.membership_role),
      createdAt: parseSourceTime(fields.created_at),
      updatedAt,
    },
    fields,
    options,
  );
  return { recordId, sourceModifiedAt: updatedAt, record };
}

/** The deleted record's ID from a delete webhook: `data.id`, else the delivery's `contextId`. */
export function raiseDeletedRecordId(
  payload: Pick<RaiseWebhookPayload, 'contextId' | 'data'>,
): string {
  const id = payload.data?.id;
  return id === undefined || id === null
    ? parseRecordId(payload.contextId, 'contextId')
    : parseRecordId(id, 'data.id');
}

/** The deletion time from a delete webhook: `data.modifiedDate` (`data.modifiedDateTime` for campaigns). */
export function raiseDeletedRecordTime(
  resource: RaiseResource,
  payload: Pick<RaiseWebhookPayload, 'data'>,
): Date {
  const field = RAISE_MODIFIED_FIELD[resource];
  const data = payload.data ?? {};
  const value = data[field] ?? data.modifiedDate ?? data.modifiedDateTime;
  return requiredTime(value, `data.${field}`);
}

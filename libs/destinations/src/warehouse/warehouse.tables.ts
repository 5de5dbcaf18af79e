import type {
  RaiseCampaign,
  RaiseDonor,
  RaiseGift,
  RaiseRecurringGift,
  RecordByResource,
  Resource,
  VomoUser,
} from '@raise-sync/shared/events';

/**
 * The warehouse layout, resource by resource: one flat wide table per resource in schema
 * `warehouse`, one typed column per Avro record field plus a few fields flattened out of the
 * source model (`raw`). The DDL lives in the migration
 * `libs/shared/src/state/migrations/1763800003000-create-warehouse.ts`; the integration test
 * writes every column listed here, so the two cannot drift apart unnoticed.
 *
 * Every table also has the bookkeeping columns: customer_id uuid, source_id text (the record's
 * ID in Raise/VOMO), source_modified_at timestamptz, event_id text, deleted_at timestamptz (soft
 * delete), synced_at timestamptz, raw jsonb; PRIMARY KEY (customer_id, source_id).
 */
export type WarehouseColumnType =
  'text' | 'boolean' | 'numeric' | 'integer' | 'timestamptz' | 'timestamp' | 'date';

export interface WarehouseColumn<R> {
  name: string;
  type: WarehouseColumnType;
  /** The record field (or raw path) the column comes from, for the README and reviews. */
  from: string;
  /** The value as it goes to PostgreSQL (already valid for the column type, or null). */
  value(record: R, raw: Record<string, unknown> | null): string | number | boolean | null;
}

export interface WarehouseTable<R> {
  resource: Resource;
  /** Unqualified name in schema `warehouse`. */
  name: string;
  columns: ReadonlyArray<WarehouseColumn<R>>;
}

// ---- value conversion: every value is made valid for its column here, so one odd record can
// never fail a multi-row statement.

/** NUL (PostgreSQL text cannot hold it) and UTF-16 surrogates without their other half. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what has to go
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text PostgreSQL can store: NUL removed, lone surrogates replaced by U+FFFD. */
export function cleanText(value: string): string {
  return value.replace(UNSTORABLE, (match) => (match === '\u0000' ? '' : '\uFFFD'));
}

export function textValue(value: unknown): string | null {
  if (typeof value === 'string') {
    return cleanText(value);
  }
  if (typeof value === 'number' && Number.isFinite(value)) {
    return String(value);
  }
  return null;
}

export function numericValue(value: unknown): string | null {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  return typeof text === 'string' && /^[+-]?\d{1,30}(\.\d{1,20})?$/.test(text.trim())
    ? text.trim()
    : null;
}

export function integerValue(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= 2_147_483_647
    ? value
    : null;
}

export function instantValue(value: Date | null): string | null {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : null;
}

const LOCAL_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function validDate(year: number, month: number, day: number): boolean {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  return year >= 1 && day >= 1 && day <= days;
}

/**
 * A wall-clock time as Raise writes gift dates (the donor's local time, no zone):
 * '2026-11-20T09:12:00' → '2026-11-20 09:12:00'. A zone suffix is ignored. Anything that is not
 * a valid date/time gives null (the text stays in `raw`).
 */
export function localTimestampValue(value: string | null): string | null {
  const match = value === null ? null : LOCAL_TIME.exec(value);
  if (!match) {
    return null;
  }
  const [, y = '', mo = '', d = '', h = '00', mi = '00', s = '00', fraction] = match;
  if (
    !validDate(Number(y), Number(mo), Number(d)) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  ) {
    return null;
  }
  return `${y}-${mo}-${d} ${h}:${mi}:${s}${fraction ? `.${fraction}` : ''}`;
}

/** The calendar date at the start of a date or date-time string ('2026-02-01T00:00:00' → '2026-02-01'). */
export function dateValue(value: string | null): string | null {
  const match = value === null ? null : /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (!match || !validDate(Number(match[1]), Number(match[2]), Number(match[3]))) {
    return null;
  }
  return match[0];
}

const asObject = (value: unknown): Record<string, unknown> | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;

/** Escapes or characters in JSON text that may decode to something jsonb refuses. */
const SUSPECT_JSON = /\\u0000|\\u[dD][89a-fA-F]|[\uD800-\uDFFF]/;

function cleanJson(value: unknown): unknown {
  if (typeof value === 'string') {
    return cleanText(value);
  }
  if (Array.isArray(value)) {
    return value.map(cleanJson);
  }
  const object = asObject(value);
  if (object) {
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [cleanText(k), cleanJson(v)]));
  }
  return value;
}

/**
 * The record's `raw` (the source model) as a JSON value for the jsonb column: parsed, with what
 * jsonb refuses (NUL, lone surrogates) cleaned out. Text that is not JSON is kept as
 * `{"unparsed": "<text>"}` rather than lost; an absent raw gives null.
 */
export function rawJsonValue(raw: unknown): unknown {
  if (typeof raw !== 'string' || raw === '') {
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { unparsed: cleanText(raw) };
  }
  return SUSPECT_JSON.test(raw) ? cleanJson(value) : value;
}

/** The source model from `raw` as an object (for flattened columns); null otherwise. */
export function parseRawObject(raw: unknown): Record<string, unknown> | null {
  return asObject(rawJsonValue(raw));
}

// ---- flattened nested fields

function firstProject(raw: Record<string, unknown> | null): Record<string, unknown> | null {
  const projects = raw?.projects;
  return Array.isArray(projects) ? asObject(projects[0]) : null;
}

/** The donor's primary address: `primaryAddress`, else the `donorAddresses` entry marked primary. */
export function primaryAddressOf(
  raw: Record<string, unknown> | null,
): Record<string, unknown> | null {
  const primary = asObject(raw?.primaryAddress);
  if (primary) {
    return primary;
  }
  const addresses = Array.isArray(raw?.donorAddresses) ? raw.donorAddresses : [];
  return addresses.map(asObject).find((a) => a?.isPrimary === true) ?? null;
}

type Col<R> = WarehouseColumn<R>;
const text = <R>(name: string, field: keyof R & string): Col<R> => ({
  name,
  type: 'text',
  from: field,
  value: (r) => textValue(r[field]),
});
const bool = <R>(name: string, field: keyof R & string): Col<R> => ({
  name,
  type: 'boolean',
  from: field,
  value: (r) => {
    const value = r[field];
    return typeof value === 'boolean' ? value : null;
  },
});
const instant = <R>(name: string, field: keyof R & string): Col<R> => ({
  name,
  type: 'timestamptz',
  from: field,
  value: (r) => instantValue((r[field] as Date | null) ?? null),
});
const day = <R>(name: string, field: keyof R & string): Col<R> => ({
  name,
  type: 'date',
  from: field,
  value: (r) => dateValue((r[field] as string | null) ?? null),
});
const decimal = <R>(name: string, field: keyof R & string): Col<R> => ({
  name,
  type: 'numeric',
  from: field,
  value: (r) => numericValue(r[field]),
});

export const GIFT_TABLE: WarehouseTable<RaiseGift> = {
  resource: 'gift',
  name: 'raise_gift',
  columns: [
    text('donor_id', 'donorId'),
    text('recurring_gift_id', 'recurringGiftId'),
    text('campaign_name', 'campaignName'),
    decimal('amount', 'amount'),
    text('currency', 'currency'),
    {
      name: 'gift_date',
      type: 'timestamp',
      from: 'giftDate (local time)',
      value: (r) => localTimestampValue(r.giftDate),
    },
    text('status_text', 'statusText'),
    bool('is_test_mode', 'isTestMode'),
    bool('is_anonymous', 'isAnonymous'),
    text('payment_type', 'paymentType'),
    text('transaction_id', 'transactionId'),
    text('donor_email', 'donorEmail'),
    instant('created_date', 'createdDate'),
    instant('modified_date', 'modifiedDate'),
    {
      name: 'segment',
      type: 'text',
      from: 'raw.segment',
      value: (_r, raw) => textValue(raw?.segment),
    },
    {
      name: 'project_count',
      type: 'integer',
      from: 'raw.projects (length)',
      value: (_r, raw) => (Array.isArray(raw?.projects) ? raw.projects.length : null),
    },
    {
      name: 'first_project_id',
      type: 'text',
      from: 'raw.projects[0].projectId',
      value: (_r, raw) => textValue(firstProject(raw)?.projectId),
    },
    {
      name: 'first_project_name',
      type: 'text',
      from: 'raw.projects[0].name',
      value: (_r, raw) => textValue(firstProject(raw)?.name),
    },
  ],
};

const address = (name: string, field: string): Col<RaiseDonor> => ({
  name,
  type: 'text',
  from: `raw.primaryAddress.${field}`,
  value: (_r, raw) => textValue(primaryAddressOf(raw)?.[field]),
});

export const DONOR_TABLE: WarehouseTable<RaiseDonor> = {
  resource: 'donor',
  name: 'raise_donor',
  columns: [
    text('name', 'name'),
    text('first_name', 'firstName'),
    text('last_name', 'lastName'),
    text('email', 'email'),
    bool('email_opt_in', 'emailOptIn'),
    text('phone', 'phone'),
    bool('is_organization', 'isOrganization'),
    text('organization_name', 'organizationName'),
    bool('is_test_mode', 'isTestMode'),
    bool('is_archived', 'isArchived'),
    text('crm_key', 'crmKey'),
    text('crm_second_key', 'crmSecondKey'),
    instant('created_date', 'createdDate'),
    instant('modified_date', 'modifiedDate'),
    address('address_city', 'city'),
    address('address_state', 'state'),
    address('address_postal', 'postal'),
    address('address_country', 'countryString'),
  ],
};

export const RECURRING_GIFT_TABLE: WarehouseTable<RaiseRecurringGift> = {
  resource: 'recurring_gift',
  name: 'raise_recurring_gift',
  columns: [
    text('donor_id', 'donorId'),
    decimal('amount', 'amount'),
    text('currency', 'currency'),
    text('frequency_text', 'frequencyText'),
    text('status_text', 'statusText'),
    day('start_date', 'startDate'),
    day('next_charge_date', 'nextChargeDate'),
    text('crm_key', 'crmKey'),
    bool('is_test_mode', 'isTestMode'),
    instant('created_date', 'createdDate'),
    instant('modified_date', 'modifiedDate'),
  ],
};

export const CAMPAIGN_TABLE: WarehouseTable<RaiseCampaign> = {
  resource: 'campaign',
  name: 'raise_campaign',
  columns: [
    text('name', 'name'),
    text('description', 'description'),
    bool('can_sync', 'canSync'),
    text('crm_key', 'crmKey'),
    day('start_date', 'startDate'),
    day('end_date', 'endDate'),
    instant('created_date_time', 'createdDateTime'),
    instant('modified_date_time', 'modifiedDateTime'),
  ],
};

export const USER_TABLE: WarehouseTable<VomoUser> = {
  resource: 'user',
  name: 'vomo_user',
  columns: [
    text('first_name', 'firstName'),
    text('last_name', 'lastName'),
    text('email', 'email'),
    text('phone', 'phone'),
    text('user_status', 'userStatus'),
    text('membership_status', 'membershipStatus'),
    text('membership_role', 'membershipRole'),
    instant('created_at', 'createdAt'),
    instant('updated_at', 'updatedAt'),
  ],
};

export const WAREHOUSE_SCHEMA = 'warehouse';

export const WAREHOUSE_TABLES: { [R in Resource]: WarehouseTable<RecordByResource[R]> } = {
  donor: DONOR_TABLE,
  gift: GIFT_TABLE,
  recurring_gift: RECURRING_GIFT_TABLE,
  campaign: CAMPAIGN_TABLE,
  user: USER_TABLE,
};

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Operation, Resource } from '@raise-sync/shared/events';

/**
 * The Raise API as we speak it on the wire (../shared/reference/source-apis.md section 1-2).
 * Where the public docs leave a gap (operators, event-type labels, signature scheme) the choice
 * made here is ours, shared by the client, the webhook receiver and the simulator, and kept in
 * one place so it can be changed when confirmed against a real tenant.
 */

/** `{ items, total }`: the paging envelope of every Raise list/query endpoint. */
export interface RaisePage<T> {
  items: T[];
  total: number;
}

export interface RaiseAddress {
  address1?: string | null;
  address2?: string | null;
  city?: string | null;
  state?: string | null;
  postal?: string | null;
  countryString?: string | null;
}

export interface RaiseContactMethod {
  id: number;
  donorId: number;
  typeDisplay?: string | null;
  value: string;
  isPrimary: boolean;
  isOptedIn: boolean;
  isEmail: boolean;
  isPhone: boolean;
}

export interface RaiseCrmUrlInfo {
  url: string;
  name?: string;
}

export interface RaiseDonorModel {
  id: number;
  name: string | null;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  phone: string | null;
  isOrganization: boolean;
  organizationName: string | null;
  isTestMode: boolean;
  isArchived: boolean;
  crmKey: string | null;
  crmSecondKey: string | null;
  crmKeyUrls?: Record<string, RaiseCrmUrlInfo> | null;
  primaryAddress?: RaiseAddress | null;
  donorEmailAddresses?: RaiseContactMethod[];
  createdDate: string;
  modifiedDate: string;
  [extra: string]: unknown;
}

export interface RaiseGiftModel {
  id: number;
  donorId: number | null;
  recurringGiftId: number | null;
  amount: number;
  currency: string;
  date: string | null;
  status: number;
  statusText: string | null;
  isTestMode: boolean;
  isAnonymous: boolean;
  canRefund?: boolean;
  paymentType: string | null;
  transactionId: string | null;
  campaignName: string | null;
  segment?: string | null;
  projects?: Array<{ projectId: number; name: string; amount: number }>;
  donor?: RaiseDonorModel | null;
  createdDate: string;
  modifiedDate: string;
  [extra: string]: unknown;
}

export interface RaiseRecurringGiftModel {
  id: number;
  donorId?: number | null;
  amount: number;
  currencyCode: string;
  frequency: number;
  formattedFrequency: string | null;
  status: number;
  statusText?: string | null;
  startDate: string | null;
  nextChargeDate: string | null;
  crmKey: string | null;
  crmKeyUrls?: Record<string, RaiseCrmUrlInfo> | null;
  isTestMode?: boolean;
  donor?: RaiseDonorModel | null;
  createdDate: string;
  modifiedDate: string;
  [extra: string]: unknown;
}

export interface RaiseCampaignModel {
  id: number;
  name: string;
  description: string | null;
  startDate: string | null;
  endDate: string | null;
  canSync: boolean;
  crmKey: string | null;
  crmKeyUrls?: Record<string, RaiseCrmUrlInfo> | null;
  createdDateTime: string;
  modifiedDateTime: string;
  [extra: string]: unknown;
}

export interface RaiseModelByResource {
  donor: RaiseDonorModel;
  gift: RaiseGiftModel;
  recurring_gift: RaiseRecurringGiftModel;
  campaign: RaiseCampaignModel;
}
export type RaiseResource = keyof RaiseModelByResource;
export const RAISE_RESOURCES: RaiseResource[] = ['donor', 'gift', 'recurring_gift', 'campaign'];

/** URL segment of each resource: `/api/<segment>/query`, `/api/<segment>/{id}`. */
export const RAISE_PATH_SEGMENT: Record<RaiseResource, string> = {
  donor: 'Donor',
  gift: 'Gift',
  recurring_gift: 'RecurringGift',
  campaign: 'Campaign',
};

/** Field holding the source-modified time of each resource (Campaign names it differently). */
export const RAISE_MODIFIED_FIELD: Record<RaiseResource, 'modifiedDate' | 'modifiedDateTime'> = {
  donor: 'modifiedDate',
  gift: 'modifiedDate',
  recurring_gift: 'modifiedDate',
  campaign: 'modifiedDateTime',
};

/**
 * Condition operators. Raise's operator enum is undocumented ([NOT FOUND] in the reference), so
 * these names are configuration-level choices; the simulator accepts exactly these.
 */
export const RAISE_OPERATORS = {
  equals: 'Equals',
  greaterThan: 'GreaterThan',
  greaterThanOrEqual: 'GreaterThanOrEqual',
  lessThan: 'LessThan',
  lessThanOrEqual: 'LessThanOrEqual',
  between: 'Between',
  in: 'In',
} as const;
export type RaiseOperator = (typeof RAISE_OPERATORS)[keyof typeof RAISE_OPERATORS];

/**
 * Query parameter names (lower-case, compared case-insensitively). `modifieddate` filters on the
 * resource's modified field whatever it is called (modifiedDate / modifiedDateTime).
 */
export const RAISE_PARAMETERS = {
  id: 'id',
  modified: 'modifieddate',
  created: 'createddate',
  date: 'date',
  isTestMode: 'istestmode',
} as const;

export interface RaiseCondition {
  parameter: string;
  operator: RaiseOperator;
  value?: string;
  secondaryValue?: string;
  values?: string[];
}

/** Conditions inside a group are ANDed; groups are ORed (unless a group says `conjunct: 'And'`). */
export interface RaiseGroup {
  conditions: RaiseCondition[];
  conjunct?: 'And' | 'Or';
}

export interface RaiseQueryBody {
  skip?: number;
  take?: number;
  /** `id`, `modifieddate`, `createdate`, `amount`, `date` (case-insensitive). */
  sortBy?: string;
  descending?: boolean;
  includeDetails?: boolean;
  groups?: RaiseGroup[];
}

/** Largest `take` Raise serves per page (the simulator clamps to it). */
export const RAISE_MAX_TAKE = 1000;

/** Webhook subscription body (`POST /api/Webhook`). */
export interface RaiseWebhookRequest {
  name: string;
  notificationUrl: string;
  eventTypesList: number[];
  format: 1 | 2;
  status: 1 | 2;
  securityToken: string;
}

export interface RaiseWebhookModel extends Omit<RaiseWebhookRequest, 'securityToken'> {
  id: number;
}

/**
 * One entry of Raise's webhook delivery log (`GET /api/Webhook/log/list`,
 * `GET /api/Webhook/{id}/log/list`; WebhookLogListModel in source-apis.md 2.1 and 2.4). Every
 * delivery attempt is one entry; the retries of one event share `eventType` and `contextId`.
 * `createdDate` is when the attempt was made. Fields Raise adds beyond these are ignored.
 */
export interface RaiseWebhookLogEntryModel {
  id: number | string;
  webhookId?: number | null;
  eventType: number;
  eventTypeDisplay?: string | null;
  /** The record the event is about. */
  contextId: number | string;
  success: boolean;
  /** null when no HTTP answer came back (connection refused, timeout). */
  httpStatusCode?: number | null;
  serverResponse?: string | null;
  createdDate: string;
  [extra: string]: unknown;
}

/**
 * Event-type integers (the docs' working hypothesis: 10/11/12 gift created/updated/deleted,
 * 20s recurring gift, 30s donor, 40s campaign). 50s (pages/forms) are not carried.
 */
export const RAISE_EVENT_TYPES: Record<
  number,
  { resource: RaiseResource; operation: Operation; label: string }
> = {
  10: { resource: 'gift', operation: 'upsert', label: 'Gift Created' },
  11: { resource: 'gift', operation: 'upsert', label: 'Gift Updated' },
  12: { resource: 'gift', operation: 'delete', label: 'Gift Deleted' },
  20: { resource: 'recurring_gift', operation: 'upsert', label: 'Recurring Gift Created' },
  21: { resource: 'recurring_gift', operation: 'upsert', label: 'Recurring Gift Updated' },
  22: { resource: 'recurring_gift', operation: 'delete', label: 'Recurring Gift Deleted' },
  30: { resource: 'donor', operation: 'upsert', label: 'Donor Created' },
  31: { resource: 'donor', operation: 'upsert', label: 'Donor Updated' },
  32: { resource: 'donor', operation: 'delete', label: 'Donor Deleted' },
  40: { resource: 'campaign', operation: 'upsert', label: 'Campaign Created' },
  41: { resource: 'campaign', operation: 'upsert', label: 'Campaign Updated' },
  42: { resource: 'campaign', operation: 'delete', label: 'Campaign Deleted' },
};

/** The event-type integers for a resource: [created, updated, deleted]. */
export function raiseEventTypesFor(resource: RaiseResource): [number, number, number] {
  const base = { gift: 10, recurring_gift: 20, donor: 30, campaign: 40 }[resource];
  return [base, base + 1, base + 2];
}

/**
 * One webhook delivery body. `data` is the full model for creates/updates; for deletes it holds
 * at least `id` and the deletion time in the modified field.
 */
export interface RaiseWebhookPayload {
  eventType: number;
  eventTypeDisplay: string;
  /** The record's ID. */
  contextId: number;
  data: Record<string, unknown> | null;
}

/**
 * Signature scheme (the docs leave it open; this mirrors CRM+'s documented Base64 HMAC-SHA256
 * and adds a timestamp so stale deliveries can be refused):
 *   X-Raise-Timestamp:   Unix seconds when the delivery attempt was signed
 *   X-Raise-Signature:   base64(HMAC-SHA256(securityToken, `${timestamp}.${rawBody}`))
 *   X-Raise-Delivery-Id: unique per delivery; a retry of the same delivery reuses it
 */
export const RAISE_WEBHOOK_HEADERS = {
  signature: 'x-raise-signature',
  timestamp: 'x-raise-timestamp',
  deliveryId: 'x-raise-delivery-id',
} as const;

export function signRaiseWebhook(
  secret: string,
  timestamp: number,
  rawBody: Buffer | string,
): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('base64');
}

/** The canonical base64 text of a 32-byte digest: 43 alphabet characters and one `=`. */
const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/**
 * The digest bytes of a base64 HMAC-SHA256 signature, decoded strictly: only the canonical base64
 * text of exactly 32 bytes (standard alphabet, exact length, canonical padding and padding bits,
 * no whitespace, no base64url) decodes; anything else gives null. Node's base64 decoder is
 * lenient (it skips unknown characters and stops at the first `=`), so one digest has many
 * spellings that decode to the same bytes; accepting only one spelling keeps a signature from
 * being resent under another text.
 */
export function decodeSignatureDigest(signature: string): Buffer | null {
  if (!BASE64_SHA256.test(signature)) {
    return null;
  }
  const digest = Buffer.from(signature, 'base64');
  return digest.length === 32 && digest.toString('base64') === signature ? digest : null;
}

/** True when `value` has the shape of a signature (checked before a body is read). */
export const isSignatureShaped = (value: string): boolean => BASE64_SHA256.test(value);

/**
 * The signed Unix-seconds timestamp of `X-Raise-Timestamp`, or null unless it is plain decimal
 * digits (no sign, spaces, fraction, exponent or hex that Number() would also read as the same
 * number).
 */
export function parseRaiseTimestamp(text: string): number | null {
  return /^[1-9][0-9]{0,11}$/.test(text) ? Number(text) : null;
}

/**
 * Constant-time check of a delivery's signature. The header must be the canonical base64 of the
 * HMAC (see decodeSignatureDigest); returns the verified digest bytes, or null when it does not
 * match. The digest identifies what was signed (timestamp and body), whatever text carried it,
 * so it is the key of the replay check.
 */
export function verifyRaiseSignatureDigest(
  secret: string,
  timestamp: number,
  rawBody: Buffer,
  signature: string,
): Buffer | null {
  const given = decodeSignatureDigest(signature);
  if (!given) {
    return null;
  }
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
  return timingSafeEqual(given, expected) ? expected : null;
}

/** Constant-time check of a delivery's signature (strict base64; see verifyRaiseSignatureDigest). */
export function verifyRaiseSignature(
  secret: string,
  timestamp: number,
  rawBody: Buffer,
  signature: string,
): boolean {
  return verifyRaiseSignatureDigest(secret, timestamp, rawBody, signature) !== null;
}

/** Narrowing helper for code that receives `Resource` but handles only Raise ones. */
export const isRaiseResource = (resource: Resource): resource is RaiseResource =>
  (RAISE_RESOURCES as string[]).includes(resource);

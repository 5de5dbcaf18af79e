import { bearerToken, HttpError, parseBody, type Route, type RouteResult } from '../http/util';
import { AccountBase, EMAIL, isObject, isoNow, text } from './account';
import {
  retryHeaders,
  type DestinationApi,
  type DestinationRequest,
  type DestinationStyle,
  type FieldError,
} from './gate';
import { CRM_WEBHOOK_TOGGLES, CrmWebhookOutbox, type CrmWebhookToggle } from './crm-plus-webhooks';
import type { CrmContact, CrmGift } from './types';

/** Requests per hour per organization, as documented (`crm/rate-limits`). */
export const CRM_DEFAULT_HOURLY_LIMIT = 5000;
const HOUR_MS = 3_600_000;
const CONTACT_ID_BASE = 200_000;
const GIFT_ID_BASE = 5_000_000;
const CURRENCY = /^[A-Za-z]{3}$/;

const referenceKey = (source: string, id: string) => `${source}\u0000${id}`;

/** One simulated CRM+ organization: contacts keyed by email, gifts by transaction pair. */
export class CrmPlusAccount extends AccountBase {
  readonly kind = 'crm-plus' as const;
  private contacts = new Map<number, CrmContact>();
  private byEmail = new Map<string, CrmContact>();
  private byReference = new Map<string, CrmContact>();
  private gifts = new Map<string, CrmGift>();
  private windowStart = Number.NEGATIVE_INFINITY;
  private used = 0;
  /** Webhook subscriptions, the drop switch and the delivery outbox. */
  readonly webhooks: CrmWebhookOutbox;

  constructor(
    id: string,
    token: string,
    readonly hourlyLimit: number,
    /** The rate-limit window (an hour in CRM+; shorter in tests). */
    readonly windowMs: number = HOUR_MS,
  ) {
    super(id, token);
    this.webhooks = new CrmWebhookOutbox(id);
  }

  reset(): void {
    this.webhooks.reset();
    this.contacts = new Map();
    this.byEmail = new Map();
    this.byReference = new Map();
    this.gifts = new Map();
    this.windowStart = Number.NEGATIVE_INFINITY;
    this.used = 0;
  }

  /**
   * Counts one request in the fixed hourly window that started with the first request after the
   * previous window ended. Returns the rate-limit headers and whether the request may proceed.
   */
  takeHourly(now: number): {
    allowed: boolean;
    headers: Record<string, string>;
    retryAfter: number;
  } {
    if (now >= this.windowStart + this.windowMs) {
      this.windowStart = now;
      this.used = 0;
    }
    const allowed = this.used < this.hourlyLimit;
    if (allowed) {
      this.used++;
    }
    const resetMs = this.windowStart + this.windowMs;
    return {
      allowed,
      retryAfter: Math.max(1, Math.ceil((resetMs - now) / 1000)),
      headers: {
        'x-ratelimit-limit': String(this.hourlyLimit),
        'x-ratelimit-remaining': String(this.hourlyLimit - this.used),
        'x-ratelimit-reset': String(Math.ceil(resetMs / 1000)),
      },
    };
  }

  contactByEmail(email: string): CrmContact | undefined {
    return this.byEmail.get(email.toLowerCase());
  }

  contactById(id: number): CrmContact | undefined {
    return this.contacts.get(id);
  }

  contactByReference(source: string, id: string): CrmContact | undefined {
    return this.byReference.get(referenceKey(source, id));
  }

  gift(source: string, id: string): CrmGift | undefined {
    return this.gifts.get(referenceKey(source, id));
  }

  /** The contact with this email, created when there is none. */
  ensureContact(email: string): { contact: CrmContact; created: boolean } {
    const existing = this.contactByEmail(email);
    if (existing) {
      return { contact: existing, created: false };
    }
    const at = isoNow();
    const contact: CrmContact = {
      id: CONTACT_ID_BASE + this.contacts.size + 1,
      email,
      contactType: null,
      name: null,
      firstName: null,
      lastName: null,
      phone: null,
      address1: null,
      city: null,
      state: null,
      postal: null,
      country: null,
      tags: [],
      emailLists: [],
      customFields: {},
      referenceSource: null,
      referenceId: null,
      references: [],
      createdAt: at,
      updatedAt: at,
    };
    this.contacts.set(contact.id, contact);
    this.byEmail.set(email.toLowerCase(), contact);
    return { contact, created: true };
  }

  /** Attaches a reference pair to `contact`, moving it off any other contact that held it. */
  attachReference(contact: CrmContact, source: string, id: string): void {
    const key = referenceKey(source, id);
    const previous = this.byReference.get(key);
    if (previous && previous !== contact) {
      previous.references = previous.references.filter(
        (r) => r.referenceSource !== source || r.referenceId !== id,
      );
      const latest = previous.references[previous.references.length - 1];
      previous.referenceSource = latest?.referenceSource ?? null;
      previous.referenceId = latest?.referenceId ?? null;
    }
    if (previous !== contact) {
      contact.references.push({ referenceSource: source, referenceId: id });
      this.byReference.set(key, contact);
    }
    contact.referenceSource = source;
    contact.referenceId = id;
  }

  /**
   * Stores a gift under its transaction pair: the same pair always updates the same gift. Optional
   * fields left out (undefined) keep their value on an update.
   */
  upsertGift(
    fields: Pick<
      CrmGift,
      'contactId' | 'transactionSource' | 'transactionId' | 'amount' | 'currencyCode' | 'giftDate'
    > &
      Partial<Omit<CrmGift, 'id' | 'writes' | 'createdAt' | 'updatedAt'>>,
  ): { gift: CrmGift; created: boolean } {
    const key = referenceKey(fields.transactionSource, fields.transactionId);
    const existing = this.gifts.get(key);
    const at = isoNow();
    const given = Object.fromEntries(
      Object.entries(fields).filter(([, value]) => value !== undefined),
    ) as typeof fields;
    if (existing) {
      Object.assign(existing, given, { updatedAt: at, writes: existing.writes + 1 });
      return { gift: existing, created: false };
    }
    const gift: CrmGift = {
      id: GIFT_ID_BASE + this.gifts.size + 1,
      contactId: given.contactId,
      transactionSource: given.transactionSource,
      transactionId: given.transactionId,
      amount: given.amount,
      currencyCode: given.currencyCode,
      giftDate: given.giftDate,
      giftType: given.giftType ?? null,
      frequency: given.frequency ?? null,
      recurringGiftTransactionId: given.recurringGiftTransactionId ?? null,
      segment: given.segment ?? null,
      notes: given.notes ?? null,
      isPrivate: given.isPrivate ?? false,
      cancelDate: given.cancelDate ?? null,
      writes: 1,
      createdAt: at,
      updatedAt: at,
    };
    this.gifts.set(key, gift);
    return { gift, created: true };
  }

  /** Tells the webhook subscribers a gift was created or updated. */
  announceGift(gift: CrmGift, created: boolean): void {
    this.webhooks.emit(created ? 'GiftCreate' : 'GiftUpdate', giftPayload(gift), [
      gift.transactionId,
      String(gift.id),
    ]);
  }

  /** Tells the webhook subscribers a contact was created or updated. */
  announceContact(contact: CrmContact, created: boolean): void {
    this.webhooks.emit(created ? 'ContactCreate' : 'ContactUpdate', { ...contact }, [
      contact.referenceId,
      String(contact.id),
      contact.email,
    ]);
  }

  contactList(): CrmContact[] {
    return structuredClone([...this.contacts.values()]);
  }

  giftList(): CrmGift[] {
    return structuredClone([...this.gifts.values()]);
  }
}

/**
 * A gift as a webhook carries it: our stored fields plus the names seen in observed payloads
 * (`giftDateFormatted` as M/D/YYYY, `segmentCode`, `giftDesignations`, `customFields`).
 */
function giftPayload(gift: CrmGift): { id: number } & Record<string, unknown> {
  const date = new Date(gift.giftDate);
  const formatted = Number.isNaN(date.getTime())
    ? null
    : `${date.getUTCMonth() + 1}/${date.getUTCDate()}/${date.getUTCFullYear()}`;
  const { writes: _writes, ...fields } = gift;
  return {
    ...structuredClone(fields),
    giftDateFormatted: formatted,
    segmentCode: gift.segment,
    giftDesignations: [],
    customFields: {},
  };
}

const CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  422: 'VALIDATION_FAILED',
  429: 'RATE_LIMITED',
  500: 'INTERNAL_ERROR',
  503: 'SERVICE_UNAVAILABLE',
};

const DENIED = 'Authorization has been denied for this request.';

/** `{"error":{"code","message","details"}}`, except 401, which is still plain text. */
export const crmPlusStyle: DestinationStyle = {
  error(status, message, details, headers = {}) {
    const all = { ...retryHeaders(status), ...headers };
    if (status === 401) {
      return new HttpError(401, DENIED, all, 'text/plain; charset=utf-8');
    }
    const code = CODES[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST');
    return new HttpError(
      status,
      { error: { code, message, ...(details ? { details } : {}) } },
      all,
    );
  },
};

type Request = DestinationRequest<CrmPlusAccount>;

function body(context: Request): Record<string, unknown> {
  const parsed = parseBody(context.raw, context.request.headers['content-type'], (message) =>
    crmPlusStyle.error(400, message),
  );
  if (!isObject(parsed)) {
    throw crmPlusStyle.error(400, 'The request body must be a JSON object.');
  }
  return parsed;
}

/** Collects field errors, then answers 422 VALIDATION_FAILED with all of them. */
class Validation {
  readonly errors: FieldError[] = [];

  add(field: string, code: string, message: string): undefined {
    this.errors.push({ field, code, message });
    return undefined;
  }

  /** A required string (numbers are accepted and turned into strings, as ids often are). */
  required(value: unknown, field: string): string | undefined {
    if (typeof value === 'number' && Number.isFinite(value)) {
      return String(value);
    }
    return text(value) ?? this.add(field, 'REQUIRED', `${field} is required.`);
  }

  email(value: unknown, field: string): string | undefined {
    const email = this.required(value, field);
    if (email !== undefined && !EMAIL.test(email)) {
      return this.add(field, 'INVALID_FORMAT', `${field} must be a valid email address.`);
    }
    return email;
  }

  optionalText(value: unknown, field: string): string | null | undefined {
    if (value === undefined || value === null || value === '') {
      return undefined;
    }
    if (typeof value === 'string') {
      return value;
    }
    if (typeof value === 'number' || typeof value === 'boolean') {
      return String(value);
    }
    return this.add(field, 'INVALID_TYPE', `${field} must be a string.`);
  }

  /** A date; an optional one left out is undefined, an explicit null or '' is null. */
  date(value: unknown, field: string, required: boolean): string | null | undefined {
    if (value === undefined || value === null || value === '') {
      if (required) {
        return this.add(field, 'REQUIRED', `${field} is required.`);
      }
      return value === undefined ? undefined : null;
    }
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
      return this.add(field, 'INVALID_FORMAT', `${field} must be a date (ISO 8601).`);
    }
    return value;
  }

  check(): void {
    if (this.errors.length > 0) {
      throw crmPlusStyle.error(
        422,
        this.errors.length === 1
          ? this.errors[0]!.message
          : `${this.errors.length} fields are invalid.`,
        this.errors,
      );
    }
  }
}

const CONTACT_FIELDS = [
  'contactType',
  'name',
  'firstName',
  'lastName',
  'phone',
  'address1',
  'city',
  'state',
  'postal',
  'country',
] as const;

const splitTags = (tags: string): string[] =>
  tags
    .split(';')
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');

function addAll(target: string[], items: string[]): void {
  for (const item of items) {
    if (!target.includes(item)) {
      target.push(item);
    }
  }
}

/** `POST /api/Contact/Transaction`: upsert by email, then attach the reference pair. */
function contactTransaction(context: Request): RouteResult {
  const input = body(context);
  context.rejectIfFaulted([
    ['referenceId', input.referenceId],
    ['email', input.email],
  ]);
  const check = new Validation();
  const referenceSource = check.required(input.referenceSource, 'referenceSource');
  const referenceId = check.required(input.referenceId, 'referenceId');
  const email = check.email(input.email, 'email');
  const fields: Partial<Record<(typeof CONTACT_FIELDS)[number], string>> = {};
  for (const field of CONTACT_FIELDS) {
    const value = check.optionalText(input[field], field);
    if (value) {
      fields[field] = value;
    }
  }
  const tags = check.optionalText(input.tags, 'tags');
  const emailLists = input.emailLists;
  if (
    emailLists !== undefined &&
    emailLists !== null &&
    !(Array.isArray(emailLists) && emailLists.every((list) => typeof list === 'string'))
  ) {
    check.add('emailLists', 'INVALID_TYPE', 'emailLists must be an array of strings.');
  }
  const customFields = input.customFields;
  if (customFields !== undefined && customFields !== null && !isObject(customFields)) {
    check.add('customFields', 'INVALID_TYPE', 'customFields must be an object.');
  }
  check.check();

  const { contact, created } = context.account.ensureContact(email!);
  Object.assign(contact, fields);
  contact.email = email!;
  if (!contact.name && (contact.firstName || contact.lastName)) {
    contact.name = [contact.firstName, contact.lastName].filter(Boolean).join(' ');
  }
  if (tags) {
    addAll(contact.tags, splitTags(tags));
  }
  if (Array.isArray(emailLists)) {
    addAll(contact.emailLists, emailLists as string[]);
  }
  if (isObject(customFields)) {
    Object.assign(contact.customFields, customFields);
  }
  context.account.attachReference(contact, referenceSource!, referenceId!);
  contact.updatedAt = isoNow();
  context.account.announceContact(contact, created);
  return { status: 200, body: { contactId: contact.id, created } };
}

/** `POST /api/v2/Gift/Transaction`: idempotent on (transactionSource, transactionId). */
function giftTransaction(context: Request): RouteResult {
  const input = body(context);
  const contactInput = isObject(input.contact) ? input.contact : undefined;
  context.rejectIfFaulted([
    ['transactionId', input.transactionId],
    ['contact.referenceId', contactInput?.referenceId],
    ['contact.email', contactInput?.email],
  ]);
  const check = new Validation();
  const transactionSource = check.required(input.transactionSource, 'transactionSource');
  const transactionId = check.required(input.transactionId, 'transactionId');
  let email: string | undefined;
  if (!contactInput) {
    check.add('contact', 'REQUIRED', 'contact is required.');
  } else {
    email = check.email(contactInput.email, 'contact.email');
  }
  /** Left out: undefined (an update keeps the value); null or '': null; else the text. */
  const optional = (field: string): string | null | undefined =>
    input[field] === undefined ? undefined : (check.optionalText(input[field], field) ?? null);
  const giftType = optional('giftType');
  const earlier =
    transactionSource && transactionId
      ? context.account.gift(transactionSource, transactionId)
      : undefined;
  const amount = input.amount;
  if (typeof amount !== 'number' || !Number.isFinite(amount)) {
    check.add('amount', 'REQUIRED', 'amount is required and must be a number.');
  } else if (
    amount <= 0 &&
    (giftType === undefined ? earlier?.giftType : giftType) !== 'ReversingTransaction'
  ) {
    check.add('amount', 'MUST_BE_POSITIVE', 'amount must be greater than 0.');
  }
  const currencyCode = check.required(input.currencyCode, 'currencyCode');
  if (currencyCode !== undefined && !CURRENCY.test(currencyCode)) {
    check.add('currencyCode', 'INVALID_FORMAT', 'currencyCode must be an ISO 4217 code.');
  }
  const giftDate = check.date(input.giftDate, 'giftDate', true);
  const cancelDate = check.date(input.cancelDate, 'cancelDate', false);
  const frequency = optional('frequency');
  const recurringGiftTransactionId = optional('recurringGiftTransactionId');
  const segment = optional('segment');
  const notes = optional('notes');
  if (
    input.isPrivate !== undefined &&
    input.isPrivate !== null &&
    typeof input.isPrivate !== 'boolean'
  ) {
    check.add('isPrivate', 'INVALID_TYPE', 'isPrivate must be a boolean.');
  }
  check.check();

  const account = context.account;
  const { contact, created: newContact } = account.ensureContact(email!);
  if (newContact) {
    contact.firstName = text(contactInput!.firstname) ?? null;
    contact.lastName = text(contactInput!.lastname) ?? null;
    contact.name = [contact.firstName, contact.lastName].filter(Boolean).join(' ') || null;
    const rawReference = contactInput!.referenceId;
    const referenceId =
      typeof rawReference === 'number' ? String(rawReference) : text(rawReference);
    if (referenceId && !account.contactByReference(transactionSource!, referenceId)) {
      account.attachReference(contact, transactionSource!, referenceId);
    }
  }
  const { gift, created } = account.upsertGift({
    contactId: contact.id,
    transactionSource: transactionSource!,
    transactionId: transactionId!,
    amount: amount as number,
    currencyCode: currencyCode!.toUpperCase(),
    giftDate: giftDate!,
    giftType,
    frequency,
    recurringGiftTransactionId,
    segment,
    notes,
    isPrivate: typeof input.isPrivate === 'boolean' ? input.isPrivate : undefined,
    cancelDate,
  });
  if (newContact) {
    account.announceContact(contact, true);
  }
  account.announceGift(gift, created);
  return { status: 200, body: { giftId: gift.id, contactId: contact.id, created } };
}

/** `GET /api/Contact/Find?email=` or `?referenceSource=&referenceId=`. */
function findContact(context: Request): RouteResult {
  const query = context.url.searchParams;
  const email = text(query.get('email'));
  const referenceSource = text(query.get('referenceSource'));
  const referenceId = text(query.get('referenceId'));
  context.rejectIfFaulted([
    ['email', email],
    ['referenceId', referenceId],
  ]);
  let contact: CrmContact | undefined;
  if (email) {
    contact = context.account.contactByEmail(email);
  } else if (referenceSource && referenceId) {
    contact = context.account.contactByReference(referenceSource, referenceId);
  } else {
    throw crmPlusStyle.error(400, 'Give email, or referenceSource and referenceId.');
  }
  if (!contact) {
    throw crmPlusStyle.error(404, 'Contact not found.');
  }
  const found = structuredClone(contact);
  if (!email) {
    found.referenceSource = referenceSource!;
    found.referenceId = referenceId!;
  }
  return { status: 200, body: found };
}

/** `GET /api/Contact/{id}`: the contact (our flat shape) or 404. */
function getContact(context: Request, [id]: string[]): RouteResult {
  const contact = context.account.contactById(Number(id));
  context.rejectIfFaulted([
    ['email', contact?.email],
    ['referenceId', contact?.referenceId],
  ]);
  if (!contact) {
    throw crmPlusStyle.error(404, `Contact ${id} not found.`);
  }
  return { status: 200, body: structuredClone(contact) };
}

/** `GET /api/v2/Gift/Transaction?transactionSource=&transactionId=` (our addition). */
function findGift(context: Request): RouteResult {
  const query = context.url.searchParams;
  const transactionSource = text(query.get('transactionSource'));
  const transactionId = text(query.get('transactionId'));
  context.rejectIfFaulted([['transactionId', transactionId]]);
  if (!transactionSource || !transactionId) {
    throw crmPlusStyle.error(400, 'transactionSource and transactionId are required.');
  }
  const gift = context.account.gift(transactionSource, transactionId);
  if (!gift) {
    throw crmPlusStyle.error(404, 'Gift not found.');
  }
  return { status: 200, body: structuredClone(gift) };
}

/** `POST /api/Webhook`: {payloadUrl, secret?, one boolean per event} → the subscription. */
function createWebhook(context: Request): RouteResult {
  const input = body(context);
  const check = new Validation();
  const payloadUrl = check.required(input.payloadUrl, 'payloadUrl');
  if (payloadUrl !== undefined && !/^https?:\/\/\S+$/i.test(payloadUrl)) {
    check.add('payloadUrl', 'INVALID_FORMAT', 'payloadUrl must be an http(s) URL.');
  }
  const secret = check.optionalText(input.secret, 'secret');
  const toggles: Partial<Record<CrmWebhookToggle, boolean>> = {};
  for (const toggle of CRM_WEBHOOK_TOGGLES) {
    const value = input[toggle];
    if (value === undefined || value === null) {
      continue;
    }
    if (typeof value !== 'boolean') {
      check.add(toggle, 'INVALID_TYPE', `${toggle} must be a boolean.`);
    } else {
      toggles[toggle] = value;
    }
  }
  check.check();
  const created = context.account.webhooks.subscribe({
    payloadUrl: payloadUrl!,
    secret: secret ?? null,
    toggles,
  });
  return { status: 200, body: created };
}

function listWebhooks(context: Request): RouteResult {
  return { status: 200, body: context.account.webhooks.list() };
}

function deleteWebhook(context: Request, [id]: string[]): RouteResult {
  if (!context.account.webhooks.unsubscribe(Number(id))) {
    throw crmPlusStyle.error(404, `Webhook ${id} not found.`);
  }
  return { status: 204 };
}

function currentOrganization(context: Request): RouteResult {
  return {
    status: 200,
    body: { id: context.account.id, name: context.account.id, organizationTimeZone: 'UTC' },
  };
}

/** Routes are case-insensitive, as on the real (ASP.NET) API. */
const routes: Array<Route<Request>> = [
  {
    method: 'POST',
    pattern: /^\/api\/Contact\/Transaction\/?$/i,
    template: 'POST /api/Contact/Transaction',
    handler: contactTransaction,
  },
  {
    method: 'GET',
    pattern: /^\/api\/Contact\/Find\/?$/i,
    template: 'GET /api/Contact/Find',
    handler: findContact,
  },
  {
    method: 'GET',
    pattern: /^\/api\/Contact\/(\d+)\/?$/i,
    template: 'GET /api/Contact/{id}',
    handler: getContact,
  },
  {
    method: 'POST',
    pattern: /^\/api\/v2\/Gift\/Transaction\/?$/i,
    template: 'POST /api/v2/Gift/Transaction',
    handler: giftTransaction,
  },
  {
    method: 'GET',
    pattern: /^\/api\/v2\/Gift\/Transaction\/?$/i,
    template: 'GET /api/v2/Gift/Transaction',
    handler: findGift,
  },
  {
    method: 'POST',
    pattern: /^\/api\/Webhook\/?$/i,
    template: 'POST /api/Webhook',
    handler: createWebhook,
  },
  {
    method: 'GET',
    pattern: /^\/api\/Webhook\/?$/i,
    template: 'GET /api/Webhook',
    handler: listWebhooks,
  },
  {
    method: 'DELETE',
    pattern: /^\/api\/Webhook\/(\d+)\/?$/i,
    template: 'DELETE /api/Webhook/{id}',
    handler: deleteWebhook,
  },
  {
    method: 'GET',
    pattern: /^\/api\/Organization\/Current\/?$/i,
    template: 'GET /api/Organization/Current',
    handler: currentOrganization,
  },
];

export const crmPlusApi: DestinationApi<CrmPlusAccount> = {
  kind: 'crm-plus',
  routes,
  style: crmPlusStyle,
  resolve(host, request) {
    const account = host.accountWithToken(bearerToken(request));
    return account instanceof CrmPlusAccount ? account : undefined;
  },
  unknownAccount: () => crmPlusStyle.error(401, DENIED),
  admit(account) {
    const { allowed, headers, retryAfter } = account.takeHourly(Date.now());
    if (!allowed) {
      throw crmPlusStyle.error(
        429,
        `API rate limit of ${account.hourlyLimit} requests per hour exceeded. Retry in ${retryAfter} seconds.`,
        undefined,
        { ...headers, 'retry-after': String(retryAfter) },
      );
    }
    return headers;
  },
};

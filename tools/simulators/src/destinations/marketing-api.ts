import { createHash, randomUUID } from 'node:crypto';
import {
  bearerToken,
  HttpError,
  parseBody,
  PROBLEM_JSON,
  type Route,
  type RouteResult,
} from '../http/util';
import { AccountBase, EMAIL, isObject, isoNow, text } from './account';
import {
  retryHeaders,
  type DestinationApi,
  type DestinationRequest,
  type DestinationStyle,
  type FieldError,
} from './gate';
import { MARKETING_STATUSES, type MarketingMember, type MarketingStatus } from './types';

/** md5 of the lower-cased email, hex: the member id in the list API. */
export function subscriberHash(email: string): string {
  return createHash('md5').update(email.toLowerCase()).digest('hex');
}

/** One simulated marketing account with a single list of members keyed by subscriber hash. */
export class MarketingAccount extends AccountBase {
  readonly kind = 'marketing' as const;
  private members = new Map<string, MarketingMember>();

  constructor(
    id: string,
    token: string,
    readonly listId: string,
  ) {
    super(id, token);
  }

  reset(): void {
    this.members = new Map();
  }

  member(hash: string): MarketingMember | undefined {
    return this.members.get(hash);
  }

  put(member: MarketingMember): void {
    this.members.set(member.id, member);
  }

  memberList(): MarketingMember[] {
    return structuredClone([...this.members.values()]);
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'API Key Invalid',
  403: 'Forbidden',
  404: 'Resource Not Found',
  405: 'Method Not Allowed',
  409: 'Member Exists',
  422: 'Invalid Resource',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Mailchimp's problem documents: `{ type, title, status, detail, instance, errors? }`. */
export const marketingStyle: DestinationStyle = {
  error(status, message, details, headers = {}) {
    const body: Record<string, unknown> = {
      type: 'https://mailchimp.com/developer/marketing/docs/errors/',
      title: TITLES[status] ?? (status >= 500 ? 'Internal Server Error' : 'Bad Request'),
      status,
      detail: message,
      instance: randomUUID(),
    };
    if (details) {
      body.errors = details.map(({ field, message: text }) => ({ field, message: text }));
    }
    return new HttpError(status, body, { ...retryHeaders(status), ...headers }, PROBLEM_JSON);
  },
};

type Request = DestinationRequest<MarketingAccount>;

const notFound = () => marketingStyle.error(404, 'The requested resource could not be found.');

/** The list must be the account's; the hash is compared in lower case. */
function target(context: Request, [listId, hash]: string[]): string {
  if (decodeURIComponent(listId!) !== context.account.listId) {
    throw notFound();
  }
  return decodeURIComponent(hash!).toLowerCase();
}

const isStatus = (value: unknown): value is MarketingStatus =>
  (MARKETING_STATUSES as readonly unknown[]).includes(value);

/** `PUT /lists/{listId}/members/{hash}`: add or update; an archived member comes back. */
function upsertMember(context: Request, params: string[]): RouteResult {
  const hash = target(context, params);
  const input = parseBody(context.raw, context.request.headers['content-type'], () => {
    const error = marketingStyle.error(400, 'We encountered an unspecified JSON parsing error.');
    (error.body as Record<string, unknown>).title = 'JSON Parse Error';
    return error;
  });
  const body = isObject(input) ? input : {};
  const existing = context.account.member(hash);
  context.rejectIfFaulted([
    ['email_address', body.email_address],
    ['subscriberHash', hash],
    ['email_address', existing?.email_address],
  ]);
  const errors: FieldError[] = [];
  const invalid = (field: string, message: string) =>
    errors.push({ field, code: 'INVALID', message });
  const email = text(body.email_address);
  if (email === undefined) {
    invalid('email_address', 'This value should not be blank.');
  } else if (!EMAIL.test(email)) {
    invalid('email_address', `${email} looks fake or invalid, please enter a real email address.`);
  }
  if (!isStatus(body.status_if_new)) {
    invalid('status_if_new', `status_if_new must be one of ${MARKETING_STATUSES.join(', ')}.`);
  }
  if (body.status !== undefined && body.status !== null && !isStatus(body.status)) {
    invalid('status', `status must be one of ${MARKETING_STATUSES.join(', ')}.`);
  }
  const mergeFields = body.merge_fields;
  if (mergeFields !== undefined && mergeFields !== null && !isObject(mergeFields)) {
    invalid('merge_fields', 'merge_fields must be an object.');
  }
  const tags = body.tags;
  if (
    tags !== undefined &&
    tags !== null &&
    !(Array.isArray(tags) && tags.every((tag) => typeof tag === 'string'))
  ) {
    invalid('tags', 'tags must be an array of strings.');
  }
  if (errors.length > 0) {
    throw marketingStyle.error(
      422,
      errors.length === 1 ? errors[0]!.message : 'The resource submitted could not be validated.',
      errors,
    );
  }
  if (subscriberHash(email!) !== hash) {
    throw marketingStyle.error(
      400,
      `The subscriber hash in the path does not match md5(lower-case(${email})).`,
    );
  }
  const fresh = !existing || existing.status === 'archived';
  const status: MarketingStatus = isStatus(body.status)
    ? body.status
    : fresh
      ? (body.status_if_new as MarketingStatus)
      : (existing.status as MarketingStatus);
  const member: MarketingMember = {
    id: hash,
    list_id: context.account.listId,
    email_address: email!,
    status,
    merge_fields: { ...existing?.merge_fields, ...(isObject(mergeFields) ? mergeFields : {}) },
    tags: Array.isArray(tags) ? [...(tags as string[])] : (existing?.tags ?? []),
    last_changed: isoNow(),
  };
  context.account.put(member);
  return { status: 200, body: structuredClone(member) };
}

function getMember(context: Request, params: string[]): RouteResult {
  const hash = target(context, params);
  const member = context.account.member(hash);
  context.rejectIfFaulted([
    ['subscriberHash', hash],
    ['email_address', member?.email_address],
  ]);
  if (!member) {
    throw notFound();
  }
  return { status: 200, body: structuredClone(member) };
}

/** `POST .../actions/archive`: the list API's delete. Archiving twice is harmless. */
function archiveMember(context: Request, params: string[]): RouteResult {
  const hash = target(context, params);
  const member = context.account.member(hash);
  context.rejectIfFaulted([
    ['subscriberHash', hash],
    ['email_address', member?.email_address],
  ]);
  if (!member) {
    throw notFound();
  }
  if (member.status !== 'archived') {
    member.status = 'archived';
    member.last_changed = isoNow();
  }
  return { status: 204 };
}

const MEMBER = String.raw`^\/lists\/([^/]+)\/members\/([^/]+)`;

const routes: Array<Route<Request>> = [
  {
    method: 'PUT',
    pattern: new RegExp(`${MEMBER}\\/?$`),
    template: 'PUT /lists/{listId}/members/{hash}',
    handler: upsertMember,
  },
  {
    method: 'GET',
    pattern: new RegExp(`${MEMBER}\\/?$`),
    template: 'GET /lists/{listId}/members/{hash}',
    handler: getMember,
  },
  {
    method: 'POST',
    pattern: new RegExp(`${MEMBER}\\/actions\\/archive\\/?$`),
    template: 'POST /lists/{listId}/members/{hash}/actions/archive',
    handler: archiveMember,
  },
  {
    method: 'GET',
    pattern: /^\/ping\/?$/,
    template: 'GET /ping',
    handler: () => ({ status: 200, body: { health_status: "Everything's Chimpy!" } }),
  },
];

export const marketingApi: DestinationApi<MarketingAccount> = {
  kind: 'marketing',
  routes,
  style: marketingStyle,
  resolve(host, request) {
    const account = host.accountWithToken(bearerToken(request));
    return account instanceof MarketingAccount ? account : undefined;
  },
  unknownAccount: () =>
    marketingStyle.error(
      401,
      'Your API key may be invalid, or you’ve attempted to access the wrong datacenter.',
    ),
};

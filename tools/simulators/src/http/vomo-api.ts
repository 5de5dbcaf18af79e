import { VOMO_PAGE_SIZE, type VomoPage, type VomoUserResource } from '@raise-sync/sources';
import type { Org } from '../core';
import { parseInstant } from '../raise/query';
import { scan, type KeyRange, type SlotPredicate } from '../store/scan';
import type { ApiRequest, ApiStyle } from './gate';
import { HttpError, parseBody, type Route, type RouteResult } from './util';

const message = (status: number, text: string, headers: Record<string, string> = {}) =>
  new HttpError(status, { message: text }, headers);

/** Laravel's way of failing: `{ message }`, and `{ message, errors }` for 422. */
export const vomoStyle: ApiStyle = {
  api: 'vomo',
  unauthorized: () => message(401, 'Unauthenticated.'),
  rateLimited: (seconds, bucket) =>
    message(429, 'Too Many Attempts.', {
      'retry-after': String(seconds),
      'x-ratelimit-limit': String(Math.round(bucket.config.requestsPerSecond * 60)),
      'x-ratelimit-remaining': '0',
    }),
  serverError: (status) =>
    status === 503
      ? message(503, 'Service Unavailable', { 'retry-after': '1' })
      : message(500, 'Server Error'),
  notFound: (path) => message(404, `The route ${path.replace(/^\//, '')} could not be found.`),
  fromSimulatorError: (error) => message(error.status, error.message),
};

function validationError(errors: Record<string, string[]>): HttpError {
  const messages = Object.values(errors).flat();
  const extra = messages.length - 1;
  const text =
    extra > 0
      ? `${messages[0]} (and ${extra} more error${extra > 1 ? 's' : ''})`
      : (messages[0] ?? 'The given data was invalid.');
  return new HttpError(422, { message: text, errors });
}

const label = (field: string) => field.replace(/_/g, ' ');

/**
 * `GET /users`: filters ANDed, ordered by updated_at then id, fixed page size, Laravel envelope
 * with absolute links that carry the filters.
 */
function listUsers(context: ApiRequest): RouteResult {
  const { org, url, request } = context;
  const table = org.dataset.tables.user;
  const params = url.searchParams;
  const errors: Record<string, string[]> = {};
  const instant = (name: string): number | undefined => {
    const raw = params.get(name);
    if (raw === null || raw === '') {
      return undefined;
    }
    const ms = parseInstant(raw);
    if (Number.isNaN(ms)) {
      errors[name] = [`The ${label(name)} field must be a valid date.`];
      return undefined;
    }
    return ms;
  };
  const createdBefore = instant('created_before');
  const createdAfter = instant('created_after');
  const updatedBefore = instant('updated_before');
  const updatedAfter = instant('updated_after');
  if (Object.keys(errors).length > 0) {
    throw validationError(errors);
  }
  const nameLike = (params.get('name_like') ?? '').toLowerCase();
  const emailLike = (params.get('email_like') ?? '').toLowerCase();
  const pageRaw = Number.parseInt(params.get('page') ?? '1', 10);
  const page = Number.isFinite(pageRaw) && pageRaw >= 1 ? pageRaw : 1;

  // updated_* bound the walk over the updated_at order (keys are whole milliseconds).
  const range: KeyRange = {
    lo: updatedAfter === undefined ? Number.NEGATIVE_INFINITY : Math.floor(updatedAfter) + 1,
    hi: updatedBefore === undefined ? Number.POSITIVE_INFINITY : Math.ceil(updatedBefore) - 1,
  };
  const tests: SlotPredicate[] = [];
  const created = table.created;
  if (createdAfter !== undefined) {
    tests.push((slot) => created[slot]! > createdAfter);
  }
  if (createdBefore !== undefined) {
    tests.push((slot) => created[slot]! < createdBefore);
  }
  if (nameLike || emailLike) {
    tests.push((slot) => {
      const user = org.dataset.materialize('user', slot);
      if (nameLike) {
        const names = `${user.full_name ?? ''}\n${user.first_name ?? ''}\n${user.last_name ?? ''}`;
        if (!names.toLowerCase().includes(nameLike)) {
          return false;
        }
      }
      return !emailLike || (user.email ?? '').toLowerCase().includes(emailLike);
    });
  }
  const predicate: SlotPredicate | null =
    tests.length === 0 ? null : (slot) => tests.every((test) => test(slot));
  const skip = (page - 1) * VOMO_PAGE_SIZE;
  const result = scan({
    table,
    sort: 'modified',
    descending: false,
    range,
    predicate,
    skip,
    take: VOMO_PAGE_SIZE,
  });
  const data = result.slots.map((slot) => org.dataset.materialize('user', slot));
  const lastPage = Math.max(1, Math.ceil(result.total / VOMO_PAGE_SIZE));

  const host = request.headers.host ?? 'localhost';
  const path = `http://${host}${url.pathname.replace(/\/+$/, '')}`;
  const kept = new URLSearchParams();
  for (const [name, value] of params) {
    if (name !== 'page') {
      kept.append(name, value);
    }
  }
  const link = (target: number) => {
    const query = new URLSearchParams(kept);
    query.set('page', String(target));
    return `${path}?${query.toString()}`;
  };
  const first = data[0];
  const last = data[data.length - 1];
  context.core.stats.page(org.id, 'user', {
    endpoint: 'users',
    skip,
    take: VOMO_PAGE_SIZE,
    count: data.length,
    total: result.total,
    firstId: first ? Number(first.id) : null,
    lastId: last ? Number(last.id) : null,
    sortBy: 'updated_at',
    descending: false,
  });
  const body: VomoPage<VomoUserResource> = {
    data,
    links: {
      first: link(1),
      last: link(lastPage),
      prev: page > 1 ? link(Math.min(page - 1, lastPage)) : null,
      next: page < lastPage ? link(page + 1) : null,
    },
    meta: {
      current_page: page,
      from: data.length > 0 ? skip + 1 : null,
      to: data.length > 0 ? skip + data.length : null,
      path,
      per_page: VOMO_PAGE_SIZE,
      total: result.total,
      last_page: lastPage,
    },
  };
  return { status: 200, body };
}

function detail(org: Org, slot: number) {
  return { ...org.dataset.materialize('user', slot), participations: [], profile_field_values: [] };
}

function getUser(context: ApiRequest, [id]: string[]): RouteResult {
  const slot = context.org.dataset.tables.user.slotOf(Number(id));
  if (slot < 0) {
    throw message(404, 'User not found.');
  }
  return { status: 200, body: { data: detail(context.org, slot) } };
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** `POST /users`: upsert by email (case-insensitive); 201 created, 200 updated, 422 invalid. */
function upsertUser(context: ApiRequest): RouteResult {
  const { core, org } = context;
  const body = parseBody(context.raw, context.request.headers['content-type'], () =>
    validationError({ body: ['The request body is not valid JSON.'] }),
  );
  const input: Record<string, unknown> =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : {};
  const errors: Record<string, string[]> = {};
  const text = (name: string): string | undefined => {
    const value = input[name];
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };
  for (const field of ['first_name', 'last_name', 'email', 'birthday', 'gender']) {
    if (text(field) === undefined) {
      errors[field] = [`The ${label(field)} field is required.`];
    }
  }
  const email = text('email');
  if (email !== undefined && !EMAIL.test(email)) {
    errors.email = ['The email field must be a valid email address.'];
  }
  const birthday = text('birthday');
  if (
    birthday !== undefined &&
    (!/^\d{4}-\d{2}-\d{2}$/.test(birthday) || Number.isNaN(Date.parse(`${birthday}T00:00:00Z`)))
  ) {
    errors.birthday = ['The birthday field must match the format Y-m-d.'];
  }
  const gender = text('gender');
  if (gender !== undefined && !['M', 'F', 'N'].includes(gender)) {
    errors.gender = ['The selected gender is invalid.'];
  }
  const password = text('password');
  if (
    password !== undefined &&
    (password.length < 10 || !/[A-Za-z]/.test(password) || !/\d/.test(password))
  ) {
    errors.password = [
      'The password field must be at least 10 characters and contain letters and numbers.',
    ];
  }
  const role = text('role');
  if (role !== undefined && !['VOLUNTEER', 'ORGANIZER', 'ADMIN'].includes(role)) {
    errors.role = ['The selected role is invalid.'];
  }
  if (Object.keys(errors).length > 0) {
    throw validationError(errors);
  }
  const patch: Record<string, unknown> = {
    first_name: text('first_name'),
    last_name: text('last_name'),
    email,
    birthday,
    gender,
  };
  const phone = text('phone');
  if (phone !== undefined) {
    patch.phone = phone;
  }
  if (role !== undefined) {
    patch.membership_role = role;
  }
  const existing = core.findUserByEmail(org, email!);
  if (existing >= 0) {
    core.updateUser(org.id, org.dataset.tables.user.idOf(existing), patch);
    return {
      status: 200,
      body: { code: '200', message: 'User updated.', data: detail(org, existing) },
    };
  }
  const user = core.createUser(org.id, {
    ...patch,
    user_status: 'UNVERIFIED',
    membership_status: 'ACCEPTED',
    membership_role: role ?? 'VOLUNTEER',
  });
  const slot = org.dataset.tables.user.slotOf(Number(user.id));
  return { status: 201, body: { code: '201', message: 'User created.', data: detail(org, slot) } };
}

export function vomoRoutes(): Array<Route<ApiRequest>> {
  return [
    { method: 'GET', pattern: /^\/users\/?$/, template: 'GET /users', handler: listUsers },
    {
      method: 'GET',
      pattern: /^\/users\/(\d+)\/?$/,
      template: 'GET /users/{id}',
      handler: getUser,
    },
    { method: 'POST', pattern: /^\/users\/?$/, template: 'POST /users', handler: upsertUser },
  ];
}

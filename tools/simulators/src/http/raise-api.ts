import {
  RAISE_EVENT_TYPES,
  RAISE_MAX_TAKE,
  RAISE_PATH_SEGMENT,
  RAISE_RESOURCES,
  type RaiseResource,
  type RaiseWebhookModel,
} from '@raise-sync/sources';
import type { Org } from '../core';
import type { SimResource } from '../data/dataset';
import { QueryError, parseQuery, sortKey } from '../raise/query';
import type { WebhookSubscription } from '../raise/webhooks';
import { scan, scanByKey, OPEN_RANGE, type ScanResult } from '../store/scan';
import type { ApiRequest, ApiStyle } from './gate';
import { parseBody, problem, type Route, type RouteResult } from './util';

export const raiseStyle: ApiStyle = {
  api: 'raise',
  unauthorized: () =>
    problem(401, 'A valid bearer token is required.', undefined, {
      'www-authenticate': 'Bearer',
    }),
  rateLimited: (seconds) =>
    problem(429, `Rate limit exceeded. Retry in ${seconds} second(s).`, undefined, {
      'retry-after': String(seconds),
    }),
  serverError: (status) =>
    status === 503
      ? problem(503, 'The service is temporarily unavailable.', undefined, { 'retry-after': '1' })
      : problem(500, 'An unexpected error occurred.'),
  notFound: (path) => problem(404, `No endpoint matches ${path}.`),
  fromSimulatorError: (error) => problem(error.status, error.message),
};

function json(context: ApiRequest): unknown {
  return parseBody(context.raw, context.request.headers['content-type'], (message) =>
    problem(400, message, { $: [message] }),
  );
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Models for a page of slots; `includeDetails` embeds the donor on gifts and recurring gifts. */
function present(
  org: Org,
  resource: RaiseResource,
  slots: number[],
  includeDetails: boolean,
): unknown[] {
  const dataset = org.dataset;
  return slots.map((slot) => {
    const model = dataset.materialize(resource, slot);
    if (includeDetails && (resource === 'gift' || resource === 'recurring_gift')) {
      const donorId = (model as { donorId?: number | null }).donorId;
      const donorSlot =
        donorId === null || donorId === undefined ? -1 : dataset.tables.donor.slotOf(donorId);
      (model as Record<string, unknown>).donor =
        donorSlot < 0 ? null : dataset.materialize('donor', donorSlot);
    }
    return model;
  });
}

function recordPage(
  context: ApiRequest,
  resource: SimResource,
  endpoint: 'query' | 'list',
  request: { skip: number; take: number; sortBy: string; descending: boolean },
  result: ScanResult,
): void {
  const table = context.org.dataset.tables[resource];
  const first = result.slots[0];
  const last = result.slots[result.slots.length - 1];
  context.core.stats.page(context.org.id, resource, {
    endpoint,
    skip: request.skip,
    take: request.take,
    count: result.slots.length,
    total: result.total,
    firstId: first === undefined ? null : table.idOf(first),
    lastId: last === undefined ? null : table.idOf(last),
    sortBy: request.sortBy,
    descending: request.descending,
  });
}

function query(resource: RaiseResource) {
  return (context: ApiRequest): RouteResult => {
    const table = context.org.dataset.tables[resource];
    let parsed;
    try {
      parsed = parseQuery(resource, table, json(context));
    } catch (error) {
      if (error instanceof QueryError) {
        throw problem(400, error.message, { [error.field]: [error.message] });
      }
      throw error;
    }
    const result = scan(parsed.request);
    recordPage(context, resource, 'query', { ...parsed.request, sortBy: parsed.sortBy }, result);
    return {
      status: 200,
      body: {
        items: present(context.org, resource, result.slots, parsed.includeDetails),
        total: result.total,
      },
    };
  };
}

/** Reads a PascalCase query parameter as a non-negative integer. */
function intParam(url: URL, name: string, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw problem(400, `${name} must be a non-negative integer.`, {
      [name]: [`The value '${raw}' is not valid.`],
    });
  }
  return value;
}

const boolParam = (url: URL, name: string): boolean =>
  (url.searchParams.get(name) ?? '').toLowerCase() === 'true';

/**
 * `GET /api/<Resource>/list`: PascalCase parameters only (lower-case names are ignored, as the
 * docs say). `Filter` is a case-insensitive free-text match over the record's JSON.
 */
function list(resource: RaiseResource) {
  return (context: ApiRequest): RouteResult => {
    const { url, org } = context;
    const table = org.dataset.tables[resource];
    const skip = intParam(url, 'Skip', 0);
    const take = Math.min(RAISE_MAX_TAKE, intParam(url, 'Take', 100));
    const sortBy = url.searchParams.get('SortBy') || 'id';
    const descending = boolParam(url, 'Descending');
    const includeDetails = boolParam(url, 'IncludeDetails');
    const filter = (url.searchParams.get('Filter') ?? '').trim().toLowerCase();
    const predicate =
      filter === ''
        ? null
        : (slot: number) =>
            JSON.stringify(org.dataset.materialize(resource, slot)).toLowerCase().includes(filter);
    const indexed = sortKey(resource, sortBy);
    let result: ScanResult;
    if (indexed) {
      result = scan({ table, sort: indexed, descending, range: OPEN_RANGE, predicate, skip, take });
    } else if (resource === 'gift' && /^(donorname|status)$/i.test(sortBy)) {
      const byStatus = sortBy.toLowerCase() === 'status';
      result = scanByKey(
        table,
        (slot) => {
          const gift = org.dataset.materialize('gift', slot);
          if (byStatus) {
            return gift.status;
          }
          const donorSlot =
            gift.donorId === null ? -1 : org.dataset.tables.donor.slotOf(gift.donorId);
          return donorSlot < 0 ? null : org.dataset.materialize('donor', donorSlot).name;
        },
        predicate,
        descending,
        skip,
        take,
      );
    } else {
      throw problem(400, `Unknown SortBy '${sortBy}'.`, { SortBy: [`Unknown value '${sortBy}'.`] });
    }
    recordPage(context, resource, 'list', { skip, take, sortBy, descending }, result);
    return {
      status: 200,
      body: { items: present(org, resource, result.slots, includeDetails), total: result.total },
    };
  };
}

function getOne(resource: RaiseResource) {
  return (context: ApiRequest, [id]: string[]): RouteResult => {
    const slot = context.org.dataset.tables[resource].slotOf(Number(id));
    if (slot < 0) {
      throw problem(404, `${RAISE_PATH_SEGMENT[resource]} ${id} was not found.`);
    }
    const includeDetails = boolParam(context.url, 'IncludeDetails');
    return { status: 200, body: present(context.org, resource, [slot], includeDetails)[0] };
  };
}

const DONOR_TEXT_LIMITS: Record<string, number> = {
  title: 75,
  firstName: 75,
  middleName: 75,
  lastName: 75,
  suffix: 75,
  email: 150,
  phone: 50,
  notes: 4000,
  organizationName: 150,
};

/** `PATCH /api/Donor/{id}`: only non-null fields change; `crmKeys` feeds crmKey/crmSecondKey. */
function patchDonor(context: ApiRequest, [id]: string[]): RouteResult {
  const { core, org } = context;
  const slot = org.dataset.tables.donor.slotOf(Number(id));
  if (slot < 0) {
    throw problem(404, `Donor ${id} was not found.`);
  }
  const body = json(context);
  if (!isObject(body)) {
    throw problem(400, 'The request body must be a JSON object.', { $: ['Expected an object.'] });
  }
  const errors: Record<string, string[]> = {};
  const patch: Record<string, unknown> = {};
  for (const [field, limit] of Object.entries(DONOR_TEXT_LIMITS)) {
    const value = body[field];
    if (value === undefined || value === null) {
      continue;
    }
    if (typeof value !== 'string') {
      errors[field] = [`${field} must be a string.`];
    } else if (value.length > limit) {
      errors[field] = [`${field} must be at most ${limit} characters.`];
    } else {
      patch[field] = value;
    }
  }
  if (body.isOrganization !== undefined && body.isOrganization !== null) {
    if (typeof body.isOrganization !== 'boolean') {
      errors.isOrganization = ['isOrganization must be a boolean.'];
    } else {
      patch.isOrganization = body.isOrganization;
    }
  }
  if (body.crmKeys !== undefined && body.crmKeys !== null) {
    if (!isObject(body.crmKeys)) {
      errors.crmKeys = ['crmKeys must be an object.'];
    } else {
      const entries = Object.entries(body.crmKeys).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== '',
      );
      const second = entries.find(([name]) => /second/i.test(name));
      const primary = entries.find(([name]) => !/second/i.test(name));
      if (primary) {
        patch.crmKey = primary[1];
        patch.crmKeyUrls = {
          [primary[0]]: {
            url: `https://app.virtuoussoftware.com/Generosity/Contact/View/${primary[1]}`,
            name: primary[0],
          },
        };
      }
      if (second) {
        patch.crmSecondKey = second[1];
      }
    }
  }
  if (Object.keys(errors).length > 0) {
    throw problem(400, 'One or more fields are invalid.', errors);
  }
  core.applyPatch(org, 'donor', slot, patch);
  return { status: 200, body: core.touch(org, 'donor', slot) };
}

/** `PUT /api/Campaign/{id}/toggle-sync`: flips canSync (our guess at an undocumented route). */
function toggleSync(context: ApiRequest, [id]: string[]): RouteResult {
  const { core, org } = context;
  const slot = org.dataset.tables.campaign.slotOf(Number(id));
  if (slot < 0) {
    throw problem(404, `Campaign ${id} was not found.`);
  }
  const current = org.dataset.materialize('campaign', slot);
  core.applyPatch(org, 'campaign', slot, { canSync: !current.canSync });
  return { status: 200, body: core.touch(org, 'campaign', slot) };
}

// ------------------------------------------------------------------ webhooks

const EVENT_TYPES = new Set([10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 52]);

function webhookModel(subscription: WebhookSubscription): RaiseWebhookModel {
  const { id, name, notificationUrl, eventTypesList, format, status } = subscription;
  return { id, name, notificationUrl, eventTypesList: [...eventTypesList], format, status };
}

/** Validates a subscription body; `existing` makes every field optional (PUT). */
function webhookFields(
  body: unknown,
  existing?: WebhookSubscription,
): Omit<WebhookSubscription, 'id' | 'createdDate' | 'modifiedDate'> {
  if (!isObject(body)) {
    throw problem(400, 'The request body must be a JSON object.', { $: ['Expected an object.'] });
  }
  const errors: Record<string, string[]> = {};
  const name = body.name ?? existing?.name ?? '';
  if (typeof name !== 'string') {
    errors.name = ['name must be a string.'];
  }
  const notificationUrl = body.notificationUrl ?? existing?.notificationUrl;
  let urlOk = false;
  if (typeof notificationUrl === 'string') {
    try {
      urlOk = /^https?:$/.test(new URL(notificationUrl).protocol);
    } catch {
      urlOk = false;
    }
  }
  if (!urlOk) {
    errors.notificationUrl = ['notificationUrl must be an absolute http(s) URL.'];
  }
  const eventTypesList = body.eventTypesList ?? existing?.eventTypesList ?? [];
  if (
    !Array.isArray(eventTypesList) ||
    !eventTypesList.every((type) => typeof type === 'number' && EVENT_TYPES.has(type))
  ) {
    errors.eventTypesList = [`eventTypesList must hold values of ${[...EVENT_TYPES].join(', ')}.`];
  }
  const format = body.format ?? existing?.format ?? 1;
  if (format !== 1 && format !== 2) {
    errors.format = ['format must be 1 or 2.'];
  }
  const status = body.status ?? existing?.status ?? 1;
  if (status !== 1 && status !== 2) {
    errors.status = ['status must be 1 (active) or 2 (inactive).'];
  }
  const securityToken = body.securityToken ?? existing?.securityToken ?? '';
  if (typeof securityToken !== 'string') {
    errors.securityToken = ['securityToken must be a string.'];
  }
  if (Object.keys(errors).length > 0) {
    throw problem(400, 'One or more fields are invalid.', errors);
  }
  return {
    name: name as string,
    notificationUrl: notificationUrl as string,
    eventTypesList: [...new Set(eventTypesList as number[])],
    format: format as 1 | 2,
    status: status as 1 | 2,
    securityToken: securityToken as string,
  };
}

function subscription(context: ApiRequest, id: string | undefined): WebhookSubscription {
  const found = context.org.subscriptions.get(Number(id));
  if (!found) {
    throw problem(404, `Webhook ${id} was not found.`);
  }
  return found;
}

function pageOf<T>(context: ApiRequest, items: T[]): { items: T[]; total: number } {
  const skip = intParam(context.url, 'Skip', 0);
  const take = Math.min(RAISE_MAX_TAKE, intParam(context.url, 'Take', 100));
  return { items: items.slice(skip, skip + take), total: items.length };
}

function webhookLog(context: ApiRequest, webhookId?: number) {
  return context.core.webhooks
    .deliveries(context.org.id)
    .filter((entry) => webhookId === undefined || entry.webhookId === webhookId)
    .reverse()
    .map((entry) => ({
      id: entry.logId,
      webhookId: entry.webhookId,
      deliveryId: entry.deliveryId,
      contextId: entry.contextId,
      eventType: entry.eventType,
      eventTypeDisplay: RAISE_EVENT_TYPES[entry.eventType]?.label ?? String(entry.eventType),
      attempt: entry.attempt,
      success: entry.success,
      httpStatusCode: entry.status,
      serverResponse: entry.error ?? entry.response,
      createdDate: entry.at,
    }));
}

const webhookRoutes: Array<Route<ApiRequest>> = [
  {
    method: 'POST',
    pattern: /^\/api\/webhook\/?$/i,
    template: 'POST /api/Webhook',
    handler: (context) => {
      const org = context.org;
      const now = new Date().toISOString();
      const created: WebhookSubscription = {
        id: org.nextWebhookId++,
        ...webhookFields(json(context)),
        createdDate: now,
        modifiedDate: now,
      };
      org.subscriptions.set(created.id, created);
      return { status: 200, body: webhookModel(created) };
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/webhook\/list\/?$/i,
    template: 'GET /api/Webhook/list',
    handler: (context) => ({
      status: 200,
      body: pageOf(context, [...context.org.subscriptions.values()].map(webhookModel)),
    }),
  },
  {
    method: 'GET',
    pattern: /^\/api\/webhook\/log\/list\/?$/i,
    template: 'GET /api/Webhook/log/list',
    handler: (context) => ({ status: 200, body: pageOf(context, webhookLog(context)) }),
  },
  {
    method: 'GET',
    pattern: /^\/api\/webhook\/(\d+)\/log\/list\/?$/i,
    template: 'GET /api/Webhook/{id}/log/list',
    handler: (context, [id]) => ({
      status: 200,
      body: pageOf(context, webhookLog(context, subscription(context, id).id)),
    }),
  },
  {
    method: 'GET',
    pattern: /^\/api\/webhook\/(\d+)\/log\/(\d+)\/?$/i,
    template: 'GET /api/Webhook/{id}/log/{logId}',
    handler: (context, [id, logId]) => {
      const entry = webhookLog(context, subscription(context, id).id).find(
        (candidate) => candidate.id === Number(logId),
      );
      if (!entry) {
        throw problem(404, `Log entry ${logId} was not found.`);
      }
      return { status: 200, body: entry };
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/webhook\/(\d+)\/?$/i,
    template: 'GET /api/Webhook/{id}',
    handler: (context, [id]) => ({ status: 200, body: webhookModel(subscription(context, id)) }),
  },
  {
    method: 'PUT',
    pattern: /^\/api\/webhook\/(\d+)\/?$/i,
    template: 'PUT /api/Webhook/{id}',
    handler: (context, [id]) => {
      const existing = subscription(context, id);
      const updated: WebhookSubscription = {
        ...existing,
        ...webhookFields(json(context), existing),
        modifiedDate: new Date().toISOString(),
      };
      context.org.subscriptions.set(existing.id, updated);
      return { status: 200, body: webhookModel(updated) };
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/api\/webhook\/(\d+)\/?$/i,
    template: 'DELETE /api/Webhook/{id}',
    handler: (context, [id]) => {
      context.org.subscriptions.delete(subscription(context, id).id);
      return { status: 204 };
    },
  },
];

/** Every Raise route, matched case-insensitively like ASP.NET routing. */
export function raiseRoutes(): Array<Route<ApiRequest>> {
  const routes: Array<Route<ApiRequest>> = [];
  for (const resource of RAISE_RESOURCES) {
    const segment = RAISE_PATH_SEGMENT[resource];
    routes.push(
      {
        method: 'POST',
        pattern: new RegExp(`^/api/${segment}/query/?$`, 'i'),
        template: `POST /api/${segment}/query`,
        handler: query(resource),
      },
      {
        method: 'GET',
        pattern: new RegExp(`^/api/${segment}/list/?$`, 'i'),
        template: `GET /api/${segment}/list`,
        handler: list(resource),
      },
      {
        method: 'GET',
        pattern: new RegExp(`^/api/${segment}/(\\d+)/?$`, 'i'),
        template: `GET /api/${segment}/{id}`,
        handler: getOne(resource),
      },
    );
  }
  routes.push(
    {
      method: 'PATCH',
      pattern: /^\/api\/donor\/(\d+)\/?$/i,
      template: 'PATCH /api/Donor/{id}',
      handler: patchDonor,
    },
    {
      method: 'PUT',
      pattern: /^\/api\/campaign\/(\d+)\/toggle-sync\/?$/i,
      template: 'PUT /api/Campaign/{id}/toggle-sync',
      handler: toggleSync,
    },
    ...webhookRoutes,
  );
  return routes;
}

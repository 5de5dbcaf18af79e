import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RaiseResource } from '@raise-sync/sources';
import type { SimulatorCore } from '../core';
import type { SimResource } from '../data/dataset';
import type { CreateDestinationAccountOptions, DestinationControl } from '../destinations/types';
import { SimulatorError } from '../errors';
import type { CreateOrgOptions, EmitWebhooksOptions, SimulatorControl } from '../types';
import {
  HttpError,
  matchRoute,
  parseBody,
  readBody,
  send,
  type Route,
  type RouteResult,
} from './util';

interface ControlRequest {
  control: SimulatorControl;
  destinations: DestinationControl;
  core: SimulatorCore;
  url: URL;
  body: unknown;
}

const fail = (status: number, text: string) => new HttpError(status, { error: text });

const object = (body: unknown): Record<string, unknown> =>
  typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};

const ok = (body: unknown, status = 200): RouteResult => ({ status, body });

/** `user` goes to createUser/updateUser; the Raise resources to createRecord/updateRecord. */
const isUser = (resource: string): resource is 'user' => resource === 'user';

/** The routes under `/_sim`, mirroring SimulatorControl one to one. */
const routes: Array<Route<ControlRequest>> = [
  { method: 'GET', pattern: /^\/health$/, template: 'health', handler: () => ok({ ok: true }) },
  {
    method: 'GET',
    pattern: /^\/orgs$/,
    template: 'listOrgs',
    handler: ({ control }) => ok(control.listOrgs()),
  },
  {
    method: 'POST',
    pattern: /^\/orgs$/,
    template: 'createOrg',
    handler: ({ control, body }) => ok(control.createOrg(body as CreateOrgOptions), 201),
  },
  {
    method: 'GET',
    pattern: /^\/orgs\/([^/]+)$/,
    template: 'org',
    handler: ({ core }, [org]) => ok(core.summary(core.org(org!))),
  },
  {
    method: 'DELETE',
    pattern: /^\/orgs\/([^/]+)$/,
    template: 'removeOrg',
    handler: ({ control }, [org]) => {
      control.removeOrg(org!);
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    pattern: /^\/orgs\/([^/]+)\/records\/([a-z_]+)$/,
    template: 'records',
    handler: ({ control, url }, [org, resource]) =>
      ok(
        url.searchParams.get('keys') === 'true'
          ? control.recordKeys(org!, resource as SimResource)
          : control.records(org!, resource as SimResource),
      ),
  },
  {
    method: 'POST',
    pattern: /^\/orgs\/([^/]+)\/records\/([a-z_]+)$/,
    template: 'createRecord',
    handler: ({ control, body }, [org, resource]) =>
      ok(
        isUser(resource!)
          ? control.createUser(org!, object(body))
          : control.createRecord(org!, resource as RaiseResource, object(body)),
        201,
      ),
  },
  {
    method: 'PATCH',
    pattern: /^\/orgs\/([^/]+)\/records\/([a-z_]+)\/(\d+)$/,
    template: 'updateRecord',
    handler: ({ control, body }, [org, resource, id]) =>
      ok(
        isUser(resource!)
          ? control.updateUser(org!, Number(id), object(body))
          : control.updateRecord(org!, resource as RaiseResource, Number(id), object(body)),
      ),
  },
  {
    method: 'DELETE',
    pattern: /^\/orgs\/([^/]+)\/records\/([a-z_]+)\/(\d+)$/,
    template: 'deleteRecord',
    handler: ({ control }, [org, resource, id]) =>
      ok(control.deleteRecord(org!, resource as RaiseResource, Number(id))),
  },
  {
    method: 'POST',
    pattern: /^\/orgs\/([^/]+)\/records\/([a-z_]+)\/(\d+)\/late-modify$/,
    template: 'lateModify',
    handler: ({ control, body }, [org, resource, id]) =>
      ok(control.lateModify(org!, resource as SimResource, Number(id), String(object(body).at))),
  },
  {
    method: 'GET',
    pattern: /^\/orgs\/([^/]+)\/deleted\/([a-z_]+)$/,
    template: 'deletedIds',
    handler: ({ control }, [org, resource]) =>
      ok(control.deletedIds(org!, resource as SimResource)),
  },
  {
    method: 'POST',
    pattern: /^\/orgs\/([^/]+)\/emit-webhooks$/,
    template: 'emitWebhooks',
    handler: ({ control, body }, [org]) =>
      ok(control.emitWebhooks(org!, object(body) as unknown as EmitWebhooksOptions)),
  },
  {
    method: 'GET',
    pattern: /^\/orgs\/([^/]+)\/stats$/,
    template: 'stats',
    handler: ({ control }, [org]) => ok(control.stats(org!)),
  },
  {
    method: 'DELETE',
    pattern: /^\/stats$/,
    template: 'resetStats',
    handler: ({ control }) => {
      control.resetStats();
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    pattern: /^\/orgs\/([^/]+)\/webhooks\/deliveries$/,
    template: 'webhookDeliveries',
    handler: ({ control }, [org]) => ok(control.webhookDeliveries(org!)),
  },
  {
    method: 'GET',
    pattern: /^\/orgs\/([^/]+)\/webhooks\/dropped$/,
    template: 'droppedWebhooks',
    handler: ({ control }, [org]) => ok(control.droppedWebhooks(org!)),
  },
  {
    method: 'GET',
    pattern: /^\/orgs\/([^/]+)\/webhooks\/subscriptions$/,
    template: 'webhookSubscriptions',
    handler: ({ control }, [org]) => ok(control.webhookSubscriptions(org!)),
  },
  {
    method: 'POST',
    pattern: /^\/webhooks\/flush$/,
    template: 'flushWebhooks',
    handler: async ({ control }) => {
      await control.flushWebhooks();
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    pattern: /^\/faults$/,
    template: 'getFaults',
    handler: ({ control }) => ok(control.getFaults()),
  },
  {
    method: 'PUT',
    pattern: /^\/faults\/([^/]+)$/,
    template: 'setFaults',
    handler: ({ control, body }, [scope]) => {
      control.setFaults(scope!, object(body));
      return ok(control.getFaults());
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/faults$/,
    template: 'resetFaults',
    handler: ({ control }) => {
      control.resetFaults();
      return { status: 204 };
    },
  },
  {
    method: 'PUT',
    pattern: /^\/webhook-retry$/,
    template: 'setWebhookRetry',
    handler: ({ control, core, body }) => {
      control.setWebhookRetry(object(body));
      return ok(core.webhooks.currentOptions());
    },
  },
];

/** Inspections of one destination account: `GET /destinations/accounts/:id/<name>`. */
const DESTINATION_INSPECTIONS = {
  contacts: 'crmContacts',
  gifts: 'crmGifts',
  invoices: 'invoices',
  'credit-notes': 'creditNotes',
  'accounting-log': 'accountingLog',
  members: 'members',
  'hook-deliveries': 'hookDeliveries',
  'hook-duplicates': 'hookDuplicates',
  stats: 'destinationStats',
  'crm-webhooks': 'crmWebhooks',
  'crm-webhook-attempts': 'crmWebhookAttempts',
  'crm-webhooks-dropped': 'crmDroppedWebhooks',
} as const satisfies Record<string, keyof DestinationControl>;

const inspection = (
  name: string,
): (typeof DESTINATION_INSPECTIONS)[keyof typeof DESTINATION_INSPECTIONS] => {
  if (!Object.prototype.hasOwnProperty.call(DESTINATION_INSPECTIONS, name)) {
    throw fail(
      404,
      `no destination inspection '${name}' (known: ${Object.keys(DESTINATION_INSPECTIONS).join(', ')})`,
    );
  }
  return DESTINATION_INSPECTIONS[name as keyof typeof DESTINATION_INSPECTIONS];
};

/** The routes under `/_sim/destinations`, mirroring DestinationControl one to one. */
const destinationRoutes: Array<Route<ControlRequest>> = [
  {
    method: 'GET',
    pattern: /^\/destinations\/accounts$/,
    template: 'listAccounts',
    handler: ({ destinations }) => ok(destinations.listAccounts()),
  },
  {
    method: 'POST',
    pattern: /^\/destinations\/accounts$/,
    template: 'createAccount',
    handler: ({ destinations, body }) =>
      ok(
        destinations.createAccount(object(body) as unknown as CreateDestinationAccountOptions),
        201,
      ),
  },
  {
    method: 'DELETE',
    pattern: /^\/destinations\/accounts\/([^/]+)$/,
    template: 'removeAccount',
    handler: ({ destinations }, [id]) => {
      destinations.removeAccount(id!);
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    pattern: /^\/destinations\/accounts\/([^/]+)\/reset$/,
    template: 'resetAccount',
    handler: ({ destinations }, [id]) => {
      destinations.reset(id!);
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    pattern: /^\/destinations\/accounts\/([^/]+)\/([a-z-]+)$/,
    template: 'inspectAccount',
    handler: ({ destinations }, [id, name]) => ok(destinations[inspection(name!)](id!)),
  },
  {
    method: 'PUT',
    pattern: /^\/destinations\/accounts\/([^/]+)\/crm-webhook-drops$/,
    template: 'setCrmWebhookDrops',
    handler: ({ destinations, body }, [id]) => {
      destinations.setCrmWebhookDrops(id!, object(body));
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    pattern: /^\/destinations\/crm-webhooks\/flush$/,
    template: 'flushCrmWebhooks',
    handler: async ({ destinations }) => {
      await destinations.flushCrmWebhooks();
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    pattern: /^\/destinations\/faults$/,
    template: 'getDestinationFaults',
    handler: ({ destinations }) => ok(destinations.getDestinationFaults()),
  },
  {
    method: 'PUT',
    pattern: /^\/destinations\/faults\/([^/]+)$/,
    template: 'setDestinationFaults',
    handler: ({ destinations, body }, [id]) => {
      destinations.setDestinationFaults(id!, object(body));
      return ok(destinations.getDestinationFaults());
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/destinations\/faults\/([^/]+)$/,
    template: 'clearDestinationFaults',
    handler: ({ destinations }, [id]) => {
      destinations.clearDestinationFaults(id!);
      return { status: 204 };
    },
  },
];

const allRoutes = [...routes, ...destinationRoutes];

/** Serves `/_sim/...` (path given without the prefix). Errors are `{ error }` with a status. */
export async function serveControl(
  core: SimulatorCore,
  control: SimulatorControl,
  destinations: DestinationControl,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  path: string,
): Promise<void> {
  const decoded = path
    .split('/')
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    })
    .join('/');
  try {
    const matched = matchRoute(allRoutes, (request.method ?? 'GET').toUpperCase(), decoded);
    if (!matched) {
      throw fail(404, `no control route ${request.method} /_sim${path}`);
    }
    const raw = await readBody(request);
    const body = parseBody(raw, request.headers['content-type'], (text) => fail(400, text));
    const result = await matched.route.handler(
      { control, destinations, core, url, body },
      matched.params,
    );
    send(response, result.status, result.body, result.headers);
  } catch (error) {
    const failure =
      error instanceof HttpError
        ? error
        : error instanceof SimulatorError
          ? fail(error.status, error.message)
          : fail(500, error instanceof Error ? error.message : String(error));
    send(response, failure.status, failure.body, failure.headers);
  }
}

import type { DestinationControl } from './destinations/types';
import { SimulatorError } from './errors';
import type { SimulatorControl } from './types';

/** The same operations as `T`, each returning a promise. */
type Remote<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/** DestinationControl over HTTP (`/_sim/destinations/...`). */
export type RemoteDestinationControl = Remote<DestinationControl>;

/** SimulatorControl over HTTP, plus the destination operations under `destinations`. */
export type RemoteSimulatorControl = Remote<SimulatorControl> & {
  destinations: RemoteDestinationControl;
};

/**
 * Drives a simulator running in another process (or started with `main.js`) through its
 * `/_sim` control routes. `url` is the simulator's base URL, e.g. http://127.0.0.1:4010.
 */
export function connectSimulator(url: string): RemoteSimulatorControl {
  const base = `${url.replace(/\/+$/, '')}/_sim`;
  const enc = encodeURIComponent;

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed: unknown = text === '' ? undefined : JSON.parse(text);
    if (!response.ok) {
      const message =
        typeof parsed === 'object' && parsed !== null && 'error' in parsed
          ? String(parsed.error)
          : `HTTP ${response.status}`;
      throw new SimulatorError(response.status, message);
    }
    return parsed as T;
  }

  const org = (id: string) => `/orgs/${enc(id)}`;
  const account = (id: string) => `/destinations/accounts/${enc(id)}`;
  const destinations: RemoteDestinationControl = {
    createAccount: (options) => call('POST', '/destinations/accounts', options),
    listAccounts: () => call('GET', '/destinations/accounts'),
    removeAccount: (id) => call('DELETE', account(id)),
    reset: (id) => call('POST', `${account(id)}/reset`),
    setDestinationFaults: (id, faults) =>
      call<unknown>('PUT', `/destinations/faults/${enc(id)}`, faults).then(() => undefined),
    clearDestinationFaults: (id) => call('DELETE', `/destinations/faults/${enc(id)}`),
    getDestinationFaults: () => call('GET', '/destinations/faults'),
    crmContacts: (id) => call('GET', `${account(id)}/contacts`),
    crmGifts: (id) => call('GET', `${account(id)}/gifts`),
    invoices: (id) => call('GET', `${account(id)}/invoices`),
    creditNotes: (id) => call('GET', `${account(id)}/credit-notes`),
    accountingLog: (id) => call('GET', `${account(id)}/accounting-log`),
    members: (id) => call('GET', `${account(id)}/members`),
    hookDeliveries: (id) => call('GET', `${account(id)}/hook-deliveries`),
    hookDuplicates: (id) => call('GET', `${account(id)}/hook-duplicates`),
    destinationStats: (id) => call('GET', `${account(id)}/stats`),
    crmWebhooks: (id) => call('GET', `${account(id)}/crm-webhooks`),
    crmWebhookAttempts: (id) => call('GET', `${account(id)}/crm-webhook-attempts`),
    crmDroppedWebhooks: (id) => call('GET', `${account(id)}/crm-webhooks-dropped`),
    setCrmWebhookDrops: (id, drops) => call('PUT', `${account(id)}/crm-webhook-drops`, drops),
    flushCrmWebhooks: () => call('POST', '/destinations/crm-webhooks/flush'),
  };
  return {
    destinations,
    createOrg: (options) => call('POST', '/orgs', options),
    removeOrg: (id) => call('DELETE', org(id)),
    listOrgs: () => call('GET', '/orgs'),
    createRecord: (id, resource, partial) =>
      call('POST', `${org(id)}/records/${resource}`, partial ?? {}),
    updateRecord: (id, resource, recordId, patch) =>
      call('PATCH', `${org(id)}/records/${resource}/${recordId}`, patch ?? {}),
    deleteRecord: (id, resource, recordId) =>
      call('DELETE', `${org(id)}/records/${resource}/${recordId}`),
    lateModify: (id, resource, recordId, at) =>
      call('POST', `${org(id)}/records/${resource}/${recordId}/late-modify`, { at }),
    createUser: (id, partial) => call('POST', `${org(id)}/records/user`, partial ?? {}),
    updateUser: (id, userId, patch) =>
      call('PATCH', `${org(id)}/records/user/${userId}`, patch ?? {}),
    emitWebhooks: (id, options) => call('POST', `${org(id)}/emit-webhooks`, options),
    setFaults: (scope, faults) =>
      call<unknown>('PUT', `/faults/${enc(scope)}`, faults).then(() => undefined),
    resetFaults: () => call('DELETE', '/faults'),
    getFaults: () => call('GET', '/faults'),
    setWebhookRetry: (options) =>
      call<unknown>('PUT', '/webhook-retry', options).then(() => undefined),
    droppedWebhooks: (id) => call('GET', `${org(id)}/webhooks/dropped`),
    webhookDeliveries: (id) => call('GET', `${org(id)}/webhooks/deliveries`),
    webhookSubscriptions: (id) => call('GET', `${org(id)}/webhooks/subscriptions`),
    flushWebhooks: () => call('POST', '/webhooks/flush'),
    stats: (id) => call('GET', `${org(id)}/stats`),
    resetStats: () => call('DELETE', '/stats'),
    records: (id, resource) => call('GET', `${org(id)}/records/${resource}`),
    recordKeys: (id, resource) => call('GET', `${org(id)}/records/${resource}?keys=true`),
    deletedIds: (id, resource) => call('GET', `${org(id)}/deleted/${resource}`),
  };
}

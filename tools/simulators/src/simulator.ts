import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimulatorCore } from './core';
import { accountingApi } from './destinations/accounting-api';
import { crmPlusApi } from './destinations/crm-plus-api';
import { serveDestination, type DestinationApi } from './destinations/gate';
import { hooksApi } from './destinations/hooks-api';
import { marketingApi } from './destinations/marketing-api';
import {
  DESTINATION_PREFIXES,
  DestinationRegistry,
  type DestinationAccount,
} from './destinations/registry';
import { serveControl } from './http/control-api';
import { serveApi } from './http/gate';
import { raiseRoutes, raiseStyle } from './http/raise-api';
import { send } from './http/util';
import { vomoRoutes, vomoStyle } from './http/vomo-api';
import type { Simulator, SimulatorOptions } from './types';

const RAISE_PREFIX = '/raise';
const VOMO_PREFIX = '/vomo/v1';
const CONTROL_PREFIX = '/_sim';

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') {
    return '127.0.0.1';
  }
  return host.includes(':') ? `[${host}]` : host;
}

const underPrefix = (path: string, prefix: string) =>
  path === prefix || path.startsWith(`${prefix}/`);

/**
 * Starts one HTTP server carrying the Raise API (`/raise/api/...`), the VOMO users API
 * (`/vomo/v1/users`), the destination APIs (`/crm`, `/accounting`, `/marketing`, `/hooks`) and
 * the control API (`/_sim/...`).
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const host = options.host ?? '127.0.0.1';
  const core = new SimulatorCore(options.seed ?? 1, options.webhooks);
  const control = core.control();
  const raise = raiseRoutes();
  const vomo = vomoRoutes();
  const registry = new DestinationRegistry();
  const destinations = registry.control();
  const destinationApis: Array<[string, DestinationApi<DestinationAccount>]> = [
    [DESTINATION_PREFIXES['crm-plus'], crmPlusApi as DestinationApi<DestinationAccount>],
    [DESTINATION_PREFIXES.accounting, accountingApi as DestinationApi<DestinationAccount>],
    [DESTINATION_PREFIXES.marketing, marketingApi as DestinationApi<DestinationAccount>],
    [DESTINATION_PREFIXES.webhook, hooksApi as DestinationApi<DestinationAccount>],
  ];

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://simulator');
    const path = url.pathname;
    let work: Promise<void>;
    const destination = destinationApis.find(([prefix]) => underPrefix(path, prefix));
    if (destination) {
      const [prefix, api] = destination;
      work = serveDestination(registry, api, request, response, url, path.slice(prefix.length));
    } else if (underPrefix(path, RAISE_PREFIX)) {
      work = serveApi(
        core,
        request,
        response,
        url,
        path.slice(RAISE_PREFIX.length),
        raise,
        raiseStyle,
        (token) => core.byRaiseToken.get(token),
      );
    } else if (underPrefix(path, VOMO_PREFIX)) {
      work = serveApi(
        core,
        request,
        response,
        url,
        path.slice(VOMO_PREFIX.length),
        vomo,
        vomoStyle,
        (token) => core.byVomoToken.get(token),
      );
    } else if (underPrefix(path, CONTROL_PREFIX)) {
      work = serveControl(
        core,
        control,
        destinations,
        request,
        response,
        url,
        path.slice(CONTROL_PREFIX.length),
      );
    } else {
      const prefixes = [RAISE_PREFIX, VOMO_PREFIX, ...destinationApis.map(([p]) => p)];
      send(response, 404, {
        error: `unknown path ${path}; APIs live under ${prefixes.join(', ')} and ${CONTROL_PREFIX}`,
      });
      return;
    }
    work.catch((error: unknown) => {
      send(response, 500, { error: error instanceof Error ? error.message : String(error) });
    });
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${urlHost(host)}:${port}`;
  registry.baseUrl = url;

  let stopping: Promise<void> | undefined;
  return {
    url,
    raiseUrl: `${url}${RAISE_PREFIX}`,
    vomoUrl: `${url}${VOMO_PREFIX}`,
    crmUrl: `${url}${DESTINATION_PREFIXES['crm-plus']}`,
    accountingUrl: `${url}${DESTINATION_PREFIXES.accounting}`,
    marketingUrl: `${url}${DESTINATION_PREFIXES.marketing}`,
    hooksUrl: `${url}${DESTINATION_PREFIXES.webhook}`,
    port,
    control,
    destinations,
    stop: () => {
      stopping ??= new Promise<void>((resolve) => {
        core.webhooks.stop();
        registry.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}

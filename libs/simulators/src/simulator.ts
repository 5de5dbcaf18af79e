import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimulatorCore } from './core';
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

/**
 * Starts one HTTP server carrying the Raise API (`/raise/api/...`), the VOMO users API
 * (`/vomo/v1/users`) and the control API (`/_sim/...`).
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const host = options.host ?? '127.0.0.1';
  const core = new SimulatorCore(options.seed ?? 1, options.webhooks);
  const control = core.control();
  const raise = raiseRoutes();
  const vomo = vomoRoutes();

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://simulator');
    const path = url.pathname;
    let work: Promise<void>;
    if (path === RAISE_PREFIX || path.startsWith(`${RAISE_PREFIX}/`)) {
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
    } else if (path === VOMO_PREFIX || path.startsWith(`${VOMO_PREFIX}/`)) {
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
    } else if (path === CONTROL_PREFIX || path.startsWith(`${CONTROL_PREFIX}/`)) {
      work = serveControl(core, control, request, response, url, path.slice(CONTROL_PREFIX.length));
    } else {
      send(response, 404, {
        error: `unknown path ${path}; APIs live under ${RAISE_PREFIX}, ${VOMO_PREFIX} and ${CONTROL_PREFIX}`,
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

  let stopping: Promise<void> | undefined;
  return {
    url,
    raiseUrl: `${url}${RAISE_PREFIX}`,
    vomoUrl: `${url}${VOMO_PREFIX}`,
    port,
    control,
    stop: () => {
      stopping ??= new Promise<void>((resolve) => {
        core.webhooks.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}

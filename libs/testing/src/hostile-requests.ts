import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';

/** One route of a service's OpenAPI document (`/admin/docs/openapi.json`). */
export interface DocumentedRoute {
  method: string;
  /** OpenAPI template, e.g. `/admin/customers/{id}/backfills`. */
  template: string;
  pathParams: string[];
  queryParams: string[];
}

interface OpenApiDocument {
  paths: Record<
    string,
    Record<string, { parameters?: Array<{ name: string; in: string }> } | undefined>
  >;
}

/** The routes a running service documents, optionally only those under `prefix`. */
export async function documentedRoutes(baseUrl: string, prefix = '/'): Promise<DocumentedRoute[]> {
  const response = await fetch(`${baseUrl}/admin/docs/openapi.json`);
  if (!response.ok) {
    throw new Error(`${baseUrl}/admin/docs/openapi.json answered ${response.status}`);
  }
  const document = (await response.json()) as OpenApiDocument;
  const routes: DocumentedRoute[] = [];
  for (const [template, operations] of Object.entries(document.paths)) {
    if (!template.startsWith(prefix)) {
      continue;
    }
    for (const [method, operation] of Object.entries(operations)) {
      const parameters = operation?.parameters ?? [];
      routes.push({
        method: method.toUpperCase(),
        template,
        pathParams: [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? ''),
        queryParams: parameters.filter((p) => p.in === 'query').map((p) => p.name),
      });
    }
  }
  return routes;
}

/** Path values a hostile client sends, already URL-encoded as they go on the wire. */
export const HOSTILE_PATH_VALUES: readonly string[] = [
  '%00',
  'abc%00def',
  'not-a-uuid',
  '00000000-0000-4000-8000-00000000000g',
  `${randomUUID()}%00`,
  '-1',
  '1.5',
  '99999999999999999999',
  '%27%20OR%201%3D1--',
  '%E0%A4%A',
  '..%2F..%2Fetc%2Fpasswd',
  'x'.repeat(4000),
];

/** Query values a hostile client sends (URL-encoded) to the parameters a route declares. */
export const HOSTILE_QUERY_VALUES: readonly string[] = [
  'abc',
  '-1',
  '0',
  '1.5',
  '1e309',
  '99999999999999999999',
  'NaN',
  '0x10',
  '%00',
  'open%00',
  '',
  '%E0%A4%A',
  'x'.repeat(4000),
];

/**
 * Query names every GET route is also probed with, declared or not (a handler may read the whole
 * query object), with a few of the values.
 */
export const COMMON_QUERY_NAMES: readonly string[] = [
  'limit',
  'offset',
  'customerId',
  'destinationId',
  'status',
  'reason',
  'resource',
  'kind',
  'state',
];
const COMMON_QUERY_VALUES: readonly string[] = ['abc', '-1', '%00'];

export interface HostileProbe {
  method: string;
  route: string;
  /** The path or query parameter under attack, e.g. `path:id` or `query:limit`. */
  target: string;
  /** What was sent (URL-encoded, cut to 60 characters). */
  value: string;
  /** `malformed` values must answer 400 on ID parameters; `unknown` is a well-formed, unknown ID. */
  kind: 'malformed' | 'unknown' | 'hostile';
  status: number;
  body: string;
}

export interface HostileOptions {
  baseUrl: string;
  token: string;
  routes: DocumentedRoute[];
  /** A valid value for each path parameter (by name), used while another parameter is attacked. */
  known: Record<string, string>;
  /** Path parameters that are UUIDs: their malformed values must get 400, unknown UUIDs 404. */
  uuidParams: readonly string[];
  /** Request bodies by `METHOD template` (default `{}` for POST, PUT and PATCH). */
  bodies?: Record<string, unknown>;
  /** Valid query values by `METHOD template` (a required one), sent with every probe. */
  queries?: Record<string, Record<string, string>>;
  /** Only GET routes get query attacks unless this is true (attacks on writes may change state). */
  queryOnWrites?: boolean;
}

/**
 * Fires hostile path and query values at every route with a valid token and returns every
 * answer, for the caller to assert that none is a 5xx. One parameter is attacked at a time, the
 * others keep their known values, so an answer says which parameter it was about.
 */
export async function fireHostileRequests(options: HostileOptions): Promise<HostileProbe[]> {
  const jobs: Array<Omit<HostileProbe, 'status' | 'body'> & { path: string; body?: unknown }> = [];
  for (const route of options.routes) {
    const key = `${route.method} ${route.template}`;
    const body =
      route.method === 'GET' || route.method === 'DELETE'
        ? undefined
        : (options.bodies?.[key] ?? {});
    const baseQuery = options.queries?.[key] ?? {};
    const withQuery = (path: string): string => {
      const pairs = Object.entries(baseQuery).map(([k, v]) => `${k}=${v}`);
      return pairs.length > 0 ? `${path}?${pairs.join('&')}` : path;
    };
    const fill = (override: Record<string, string>): string =>
      withQuery(
        route.template.replace(/\{(\w+)\}/g, (_, name: string) => {
          const value = override[name] ?? options.known[name];
          if (value === undefined) {
            throw new Error(`no known value for path parameter ${name} of ${key}`);
          }
          return value;
        }),
      );
    for (const param of route.pathParams) {
      const isUuid = options.uuidParams.includes(param);
      for (const value of HOSTILE_PATH_VALUES) {
        jobs.push({
          method: route.method,
          route: route.template,
          target: `path:${param}`,
          value,
          kind: isUuid ? 'malformed' : 'hostile',
          path: fill({ [param]: value }),
          body,
        });
      }
      if (isUuid) {
        const unknown = randomUUID();
        jobs.push({
          method: route.method,
          route: route.template,
          target: `path:${param}`,
          value: unknown,
          kind: 'unknown',
          path: fill({ [param]: unknown }),
          body,
        });
      }
    }
    if (route.method !== 'GET' && !options.queryOnWrites) {
      continue;
    }
    const names = [...new Set([...route.queryParams, ...COMMON_QUERY_NAMES])];
    const declared = new Set(route.queryParams);
    const path = route.template.replace(
      /\{(\w+)\}/g,
      (_, name: string) => options.known[name] ?? '',
    );
    for (const name of names) {
      // The last one: repeated keys arrive as arrays.
      const values = declared.has(name) ? HOSTILE_QUERY_VALUES : COMMON_QUERY_VALUES;
      for (const value of [...values, `${name}=1&${name}=2`]) {
        const { [name]: _replaced, ...others } = baseQuery;
        const attack = value.startsWith(`${name}=`) ? value : `${name}=${value}`;
        const pairs = [...Object.entries(others).map(([k, v]) => `${k}=${v}`), attack];
        jobs.push({
          method: route.method,
          route: route.template,
          target: `query:${name}`,
          value,
          kind: 'hostile',
          path: `${path}?${pairs.join('&')}`,
          body,
        });
      }
    }
  }

  const probes: HostileProbe[] = [];
  const queue = [...jobs];
  const worker = async (): Promise<void> => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const { path, body, ...probe } = job;
      const answer = await send(options.baseUrl, options.token, job.method, path, body);
      probes.push({ ...probe, value: probe.value.slice(0, 60), ...answer });
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  return probes;
}

/**
 * node:http rather than fetch: fetch normalises some of what a hostile client sends (it would
 * re-encode a malformed percent sequence or dot segments), and the point is to send it as is.
 */
function send(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: string }> {
  const url = new URL(baseUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * The probes that broke the contract: any 5xx, a stack trace in a body, a malformed ID that did
 * not get 400, or a well-formed unknown ID that did not get 404. Empty means the battery passed;
 * the strings say which request broke it.
 */
export function contractBreaches(probes: HostileProbe[]): string[] {
  const broken = (p: HostileProbe): boolean =>
    p.status >= 500 ||
    p.status === 0 ||
    /\n\s+at\s/.test(p.body) ||
    (p.kind === 'malformed' && p.status !== 400) ||
    (p.kind === 'unknown' && p.status !== 404);
  return probes
    .filter(broken)
    .map(
      (p) =>
        `${p.method} ${p.route} ${p.target}=${p.value} (${p.kind}) -> ${p.status} ${p.body.slice(0, 160)}`,
    );
}

/**
 * Starts a request that declares a `declaredBytes` JSON body but sends only its first
 * `sentBytes`, and resolves with the status of the answer that arrives while the rest is still
 * owed: a service that checks the token before reading the body answers at once; one that reads
 * (or buffers) the body first never answers, and this rejects after `timeoutMs`.
 */
export function answerBeforeBody(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; declaredBytes: number; sentBytes: number; timeoutMs?: number },
): Promise<{ status: number; connection: string | undefined }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      method,
      path,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        'content-type': 'application/json',
        'content-length': options.declaredBytes,
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`${method} ${path}: no answer before the body was complete`));
    }, options.timeoutMs ?? 5_000);
    req.on('response', (res) => {
      clearTimeout(timer);
      res.resume();
      resolve({ status: res.statusCode ?? 0, connection: res.headers.connection });
      req.destroy();
    });
    // The server may close the connection while we still owe bytes: that is the point.
    req.on('error', () => undefined);
    req.write(`{"a":"${'x'.repeat(Math.max(0, options.sentBytes - 7))}`);
  });
}

/**
 * Sends every write route (POST, PUT, PATCH) a 64 MB body that never arrives and a malformed JSON
 * body, without a valid token, and lists each answer that is not a 401 given at once: the token
 * must be checked before a body is read, buffered or parsed. Empty means the contract holds.
 */
export async function bodyBeforeTokenBreaches(
  baseUrl: string,
  routes: DocumentedRoute[],
  known: Record<string, string>,
  tokens: ReadonlyArray<string | undefined> = [undefined, 'wrong-token'],
): Promise<string[]> {
  const breaches: string[] = [];
  for (const route of routes.filter((r) => ['POST', 'PUT', 'PATCH'].includes(r.method))) {
    const path = route.template.replace(/\{(\w+)\}/g, (_, name: string) => known[name] ?? 'x');
    for (const token of tokens) {
      const who = token === undefined ? 'no token' : `token ${token}`;
      try {
        const huge = await answerBeforeBody(baseUrl, route.method, path, {
          token,
          declaredBytes: 64 * 1024 * 1024,
          sentBytes: 64 * 1024,
        });
        if (huge.status !== 401) {
          breaches.push(`${route.method} ${path} (${who}, 64 MB body) -> ${huge.status}`);
        }
      } catch (error) {
        breaches.push(`${route.method} ${path} (${who}, 64 MB body) -> ${String(error)}`);
      }
      const malformed = await fetch(`${baseUrl}${path}`, {
        method: route.method,
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: '{"not json',
      });
      if (malformed.status !== 401) {
        breaches.push(`${route.method} ${path} (${who}, malformed JSON) -> ${malformed.status}`);
      }
    }
  }
  return breaches;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { SimulatorError } from '../errors';
import type { FaultRegistry } from '../faults';
import { HttpError, matchRoute, readBody, send, sleep, type Route } from '../http/util';
import type { StatsRecorder } from '../stats';
import type { AccountBase } from './account';
import { statusForMatch } from './faults';
import type { DestinationAccountKind, DestinationFaultConfig } from './types';

/**
 * What the gate needs of the account registry. The APIs see only this, so they never import the
 * registry (which imports their account classes).
 */
export interface DestinationHost {
  /** One token bucket per account: the API name is always 'api'. */
  readonly faults: FaultRegistry<DestinationFaultConfig, 'api'>;
  readonly stats: StatsRecorder;
  /** The account holding this bearer token, of whatever kind. */
  accountWithToken(token: string | undefined): AccountBase | undefined;
  /** The account with this id, of whatever kind. */
  accountWithId(id: string): AccountBase | undefined;
}

/** One field-level problem, for validation errors and `statusFor` rejections. */
export interface FieldError {
  field: string;
  code: string;
  message: string;
}

/** How one destination API phrases its errors. */
export interface DestinationStyle {
  /**
   * An error answer in the API's own shape. 429 and 503 carry `Retry-After: 1` unless `headers`
   * says otherwise.
   */
  error(
    status: number,
    message: string,
    details?: FieldError[],
    headers?: Record<string, string>,
  ): HttpError;
}

export interface DestinationRequest<A extends AccountBase> {
  account: A;
  request: IncomingMessage;
  url: URL;
  raw: Buffer;
  /**
   * Throws the status that a `statusFor` fault sets for the first of these (field, value) pairs
   * it names, with the API's error body. Call it once the request's record keys are known.
   */
  rejectIfFaulted(candidates: Array<[field: string, value: unknown]>): void;
}

export interface DestinationApi<A extends AccountBase> {
  kind: DestinationAccountKind;
  routes: Array<Route<DestinationRequest<A>>>;
  style: DestinationStyle;
  /** The account a request is for (bearer token, or the path for webhooks). */
  resolve(host: DestinationHost, request: IncomingMessage, path: string): A | undefined;
  /** The answer when no account matches (401, or 404 for an unknown webhook endpoint). */
  unknownAccount(): HttpError;
  /** Checks that need the raw body (webhook signatures); throws the answer. */
  verify?(account: A, request: IncomingMessage, raw: Buffer): void;
  /** Counts the request against a quota; returns headers for every answer, throws when over. */
  admit?(account: A): Record<string, string>;
  /** Methods answered 405 on every path, with the message to give. */
  unsupportedMethods?: Record<string, string>;
}

export const retryHeaders = (status: number): Record<string, string> =>
  status === 429 || status === 503 ? { 'retry-after': '1' } : {};

/**
 * The path every destination request takes: account, body, signature, quota, the account's
 * faults (forced status, token bucket, latency, random 5xx), route (404/405), the handler with
 * its `statusFor` check, and the stats entry.
 */
export async function serveDestination<A extends AccountBase>(
  registry: DestinationHost,
  api: DestinationApi<A>,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  path: string,
): Promise<void> {
  const method = (request.method ?? 'GET').toUpperCase();
  const matched = matchRoute(api.routes, method, path);
  const template = matched?.template ?? `${method} (unmatched)`;
  const account = api.resolve(registry, request, path);
  let quotaHeaders: Record<string, string> = {};
  let status: number;
  try {
    if (!account) {
      throw api.unknownAccount();
    }
    const raw = await readBody(request);
    api.verify?.(account, request, raw);
    quotaHeaders = api.admit?.(account) ?? {};
    const faults: DestinationFaultConfig = registry.faults.forOrg(account.id);
    if (faults.status !== undefined) {
      throw api.style.error(
        faults.status,
        `Forced status ${faults.status} (simulator fault).`,
        undefined,
        faults.retryAfterSeconds === undefined
          ? {}
          : { 'retry-after': String(faults.retryAfterSeconds) },
      );
    }
    const bucket = registry.faults.bucket(account.id, 'api');
    if (bucket && !bucket.tryTake()) {
      const seconds = bucket.retryAfterSeconds();
      throw api.style.error(429, `Too many requests. Retry in ${seconds} second(s).`, undefined, {
        'retry-after': String(seconds),
      });
    }
    const latency =
      (faults.latencyMs ?? 0) +
      (faults.latencyJitterMs ? account.faultRng.next() * faults.latencyJitterMs : 0);
    if (latency > 0) {
      await sleep(latency);
    }
    if (faults.errorRate && account.faultRng.next() < faults.errorRate) {
      const forced = account.faultRng.next() < 0.5 ? 500 : 503;
      throw api.style.error(forced, 'Injected server error (simulator fault).');
    }
    const unsupported = api.unsupportedMethods?.[method];
    if (unsupported !== undefined) {
      const allow = [...new Set(api.routes.map((route) => route.method))].join(', ');
      throw api.style.error(405, unsupported, undefined, { allow });
    }
    if (!matched) {
      const allowed = [
        ...new Set(api.routes.filter((r) => r.pattern.test(path)).map((r) => r.method)),
      ];
      throw allowed.length > 0
        ? api.style.error(405, `${method} is not supported here.`, undefined, {
            allow: allowed.join(', '),
          })
        : api.style.error(404, `No endpoint matches ${method} ${path}.`);
    }
    const rejectIfFaulted = (candidates: Array<[string, unknown]>): void => {
      const match = statusForMatch(faults.statusFor, candidates);
      if (match) {
        const message = `${match.field} '${match.key}' is rejected (simulator fault).`;
        throw api.style.error(match.status, message, [
          { field: match.field, code: 'REJECTED', message },
        ]);
      }
    };
    const result = await matched.route.handler(
      { account, request, url, raw, rejectIfFaulted },
      matched.params,
    );
    send(response, result.status, result.body, { ...quotaHeaders, ...result.headers });
    status = result.status;
  } catch (error) {
    const failure =
      error instanceof HttpError
        ? error
        : error instanceof SimulatorError
          ? api.style.error(error.status, error.message)
          : api.style.error(500, error instanceof Error ? error.message : String(error));
    send(
      response,
      failure.status,
      failure.body,
      { ...quotaHeaders, ...failure.headers },
      failure.contentType,
    );
    status = failure.status;
  }
  if (account) {
    registry.stats.request(account.id, template, status);
  }
}

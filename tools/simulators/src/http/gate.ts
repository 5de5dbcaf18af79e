import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Org, SimulatorCore } from '../core';
import { SimulatorError } from '../errors';
import type { ApiName, TokenBucket } from '../faults';
import { bearerToken, HttpError, matchRoute, readBody, send, sleep, type Route } from './util';

/** How one API phrases its errors (Raise: ProblemDetails; VOMO: Laravel `{message}`). */
export interface ApiStyle {
  api: ApiName;
  unauthorized(): HttpError;
  rateLimited(retryAfterSeconds: number, bucket: TokenBucket): HttpError;
  serverError(status: 500 | 503): HttpError;
  notFound(path: string): HttpError;
  fromSimulatorError(error: SimulatorError): HttpError;
}

export interface ApiRequest {
  core: SimulatorCore;
  org: Org;
  request: IncomingMessage;
  url: URL;
  raw: Buffer;
}

/**
 * The path every API request takes: route match, bearer token -> org, the org's faults
 * (401, 429 token bucket, latency, random 5xx), the handler, and the stats entry.
 */
export async function serveApi(
  core: SimulatorCore,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  path: string,
  routes: Array<Route<ApiRequest>>,
  style: ApiStyle,
  orgForToken: (token: string) => Org | undefined,
): Promise<void> {
  const method = (request.method ?? 'GET').toUpperCase();
  const matched = matchRoute(routes, method, path);
  const template = matched?.template ?? `${method} (unmatched)`;
  const token = bearerToken(request);
  const org = token === undefined ? undefined : orgForToken(token);
  let status: number;
  try {
    if (!org) {
      throw style.unauthorized();
    }
    const faults = core.faults.forOrg(org.id);
    if (faults.unauthorized) {
      throw style.unauthorized();
    }
    const bucket = core.faults.bucket(org.id, style.api);
    if (bucket && !bucket.tryTake()) {
      throw style.rateLimited(bucket.retryAfterSeconds(), bucket);
    }
    const latency =
      (faults.latencyMs ?? 0) +
      (faults.latencyJitterMs ? org.faultRng.next() * faults.latencyJitterMs : 0);
    if (latency > 0) {
      await sleep(latency);
    }
    if (faults.errorRate && org.faultRng.next() < faults.errorRate) {
      throw style.serverError(org.faultRng.next() < 0.5 ? 500 : 503);
    }
    if (!matched) {
      throw style.notFound(path);
    }
    const raw = await readBody(request);
    const result = await matched.route.handler({ core, org, request, url, raw }, matched.params);
    send(response, result.status, result.body, result.headers);
    status = result.status;
  } catch (error) {
    const failure =
      error instanceof HttpError
        ? error
        : error instanceof SimulatorError
          ? style.fromSimulatorError(error)
          : style.serverError(500);
    send(response, failure.status, failure.body, failure.headers, failure.contentType);
    status = failure.status;
  }
  if (org) {
    core.stats.request(org.id, template, status);
  }
}

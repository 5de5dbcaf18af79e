import type { IncomingMessage } from 'node:http';
import {
  BadRequestException,
  Injectable,
  PayloadTooLargeException,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { Observable } from 'rxjs';
import { BodyTooLargeError, closeAfterAnswer, readBody } from '../body-reader';

/** Admin request bodies are small JSON documents (settings, filters, a few tokens). */
export const JSON_BODY_LIMIT = 256 * 1024;
/** Longest wait for an authenticated admin body. */
export const JSON_BODY_TIMEOUT_MS = 10_000;

type BodyRequest = IncomingMessage & { body?: unknown };

/**
 * Reads and parses the JSON body of a request AFTER the route's guards have passed (Nest runs
 * interceptors after guards, pipes after interceptors), so an unauthenticated request never has
 * its body read, buffered or parsed. The services run without a global body parser; a controller
 * that takes bodies uses this (`@AdminApi()` does for the admin controllers).
 *
 * An empty body is `{}`; more than JSON_BODY_LIMIT bytes is a 413 (a declared Content-Length over
 * it fails before anything is read); anything but JSON, or a string with a NUL character
 * (PostgreSQL text and jsonb cannot hold one), is a 400.
 */
@Injectable()
export class JsonBodyInterceptor implements NestInterceptor {
  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const req = context.switchToHttp().getRequest<BodyRequest>();
    if (
      req.body === undefined &&
      !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(req.method ?? '')
    ) {
      req.body = await readJsonBody(req, JSON_BODY_LIMIT);
    }
    return next.handle();
  }
}

async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  let raw: Buffer;
  try {
    raw = (await readBody(req, { maxBytes: limit, timeoutMs: JSON_BODY_TIMEOUT_MS })).bytes;
  } catch (error) {
    closeAfterAnswer(req);
    if (error instanceof BodyTooLargeError) {
      throw new PayloadTooLargeException(`request bodies are limited to ${limit} bytes`);
    }
    throw new BadRequestException('the request body could not be read');
  }
  if (raw.length === 0) {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BadRequestException('request body is not valid JSON');
  }
  if (hasNul(parsed)) {
    throw new BadRequestException('request body must not contain NUL characters');
  }
  return parsed;
}

function hasNul(value: unknown): boolean {
  if (typeof value === 'string') {
    return value.includes('\u0000');
  }
  if (Array.isArray(value)) {
    return value.some(hasNul);
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([key, v]) => key.includes('\u0000') || hasNul(v));
  }
  return false;
}

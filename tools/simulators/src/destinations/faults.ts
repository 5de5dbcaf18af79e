import { validateFaults } from '../faults';
import type { DestinationFaultConfig } from './types';

const SHARED = new Set(['latencyMs', 'latencyJitterMs', 'errorRate', 'rateLimit']);

function httpStatus(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 400 || value > 599) {
    throw new Error(`${name} must be an HTTP error status, an integer in [400, 599]`);
  }
  return value;
}

/**
 * Validates a destination fault config from JSON; throws with the offending field. The fields
 * shared with the source faults go through the same checks; `statusFor` keys are lower-cased
 * because matching is case-insensitive.
 */
export function validateDestinationFaults(input: unknown): DestinationFaultConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new Error('faults must be an object');
  }
  const raw = input as Record<string, unknown>;
  const shared: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (SHARED.has(name)) {
      shared[name] = value;
    } else if (name !== 'status' && name !== 'statusFor' && name !== 'retryAfterSeconds') {
      throw new Error(
        `unknown destination fault '${name}' (known: ${[...SHARED, 'status', 'statusFor', 'retryAfterSeconds'].join(', ')})`,
      );
    }
  }
  const out: DestinationFaultConfig = validateFaults(shared);
  if (raw.status !== undefined && raw.status !== null) {
    out.status = httpStatus(raw.status, 'status');
  }
  if (raw.retryAfterSeconds !== undefined && raw.retryAfterSeconds !== null) {
    const seconds = raw.retryAfterSeconds;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0) {
      throw new Error('retryAfterSeconds must be a non-negative integer');
    }
    out.retryAfterSeconds = seconds;
  }
  if (raw.statusFor !== undefined && raw.statusFor !== null) {
    const map = raw.statusFor;
    if (typeof map !== 'object' || Array.isArray(map)) {
      throw new Error('statusFor must be an object of record key -> HTTP status');
    }
    const statusFor: Record<string, number> = {};
    for (const [key, value] of Object.entries(map as Record<string, unknown>)) {
      if (key === '') {
        throw new Error('statusFor keys must not be empty');
      }
      statusFor[key.toLowerCase()] = httpStatus(value, `statusFor['${key}']`);
    }
    out.statusFor = statusFor;
  }
  return out;
}

/** The status forced for the first candidate key found in `statusFor`, with that candidate. */
export function statusForMatch(
  statusFor: Record<string, number> | undefined,
  candidates: Array<[field: string, value: unknown]>,
): { status: number; field: string; key: string } | undefined {
  if (!statusFor) {
    return undefined;
  }
  for (const [field, value] of candidates) {
    if (typeof value !== 'string' && typeof value !== 'number') {
      continue;
    }
    const key = String(value).toLowerCase();
    if (Object.prototype.hasOwnProperty.call(statusFor, key)) {
      return { status: statusFor[key]!, field, key: String(value) };
    }
  }
  return undefined;
}

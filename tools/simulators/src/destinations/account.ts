import { hash32, hashString, Prng } from '../prng';
import type { DestinationAccountKind } from './types';

/** What every destination account has: identity, credentials and its own fault randomness. */
export abstract class AccountBase {
  abstract readonly kind: DestinationAccountKind;
  /** Randomness for injected errors and latency jitter, seeded by the account id. */
  readonly faultRng: Prng;

  constructor(
    readonly id: string,
    /** Bearer token; null for webhook endpoints. */
    readonly token: string | null,
  ) {
    this.faultRng = new Prng(hash32(hashString(id), 0xde57));
  }

  /** Forgets every record, key and window the account holds (credentials stay). */
  abstract reset(): void;
}

/** ISO 8601 with milliseconds, UTC. */
export const isoNow = (): string => new Date().toISOString();

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A trimmed non-empty string, else undefined. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

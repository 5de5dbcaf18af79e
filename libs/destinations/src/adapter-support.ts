import { DestinationUnavailableError } from '@raise-sync/shared';
import type { SourceEvent } from '@raise-sync/shared/events';
import type { DeliveryResult, DestinationContext } from './port';
import { DestinationConfigError } from './mapping/field-map';

/**
 * Thrown by `lookup` where a destination cannot answer "do you hold source record X?" (a
 * marketing list is keyed by email, a partner webhook has no read API). Reconciliation should
 * skip such destinations rather than treat the record as missing.
 */
export class LookupNotSupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LookupNotSupportedError';
  }
}

/** Reads the typed settings of `ctx.config`; every problem is a DestinationConfigError. */
export class ConfigReader {
  constructor(
    private readonly ctx: DestinationContext,
    private readonly destination: string,
  ) {}

  private fail(key: string, problem: string): never {
    throw new DestinationConfigError(
      `${this.destination} destination "${this.ctx.name}": config.${key} ${problem}`,
    );
  }

  string(key: string): string | undefined;
  string(key: string, fallback: string): string;
  string(key: string, fallback?: string): string | undefined {
    const value = this.ctx.config[key];
    if (value === undefined || value === null) {
      return fallback;
    }
    if (typeof value !== 'string' || value.trim() === '') {
      this.fail(key, 'must be a non-empty string');
    }
    return value.trim();
  }

  requiredString(key: string): string {
    return this.string(key) ?? this.fail(key, 'is required');
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.ctx.config[key];
    if (value === undefined || value === null) {
      return fallback;
    }
    if (typeof value !== 'boolean') {
      this.fail(key, 'must be true or false');
    }
    return value;
  }

  integer(key: string, fallback: number, min = 0): number {
    const value = this.ctx.config[key];
    if (value === undefined || value === null) {
      return fallback;
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      this.fail(key, `must be an integer >= ${min}`);
    }
    return value;
  }

  stringList(key: string, fallback: readonly string[] = []): string[] {
    const value = this.ctx.config[key];
    if (value === undefined || value === null) {
      return [...fallback];
    }
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.trim() === '')) {
      this.fail(key, 'must be a list of non-empty strings');
    }
    return (value as string[]).map((v) => v.trim());
  }

  /** An absolute http(s) URL without a trailing slash. */
  url(key: string): string {
    const value = this.requiredString(key);
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      return this.fail(key, 'is not an absolute URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      this.fail(key, 'must be an http(s) URL');
    }
    return value.replace(/\/+$/, '');
  }

  secret(key: string): string {
    const value = this.ctx.secrets[key];
    if (typeof value !== 'string' || value === '') {
      throw new DestinationConfigError(
        `${this.destination} destination "${this.ctx.name}": secret "${key}" is missing`,
      );
    }
    return value;
  }
}

/**
 * A configuration problem is not the record's fault and is fixed by editing the destination, so
 * it is reported as retriable (the bounded retries end in the dead-letter topic if nobody does).
 */
export function asDeliveryError(error: unknown): Error {
  if (error instanceof DestinationConfigError) {
    return new DestinationUnavailableError(
      `destination misconfigured: ${error.message}`,
      undefined,
      {
        cause: error,
      },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

export const recordKeyOf = (event: SourceEvent): string =>
  `${event.resource}\u0000${event.recordId}`;

/** Index of the newest event per record (latest sourceModifiedAt; on a tie, the later one). */
export function newestPerRecord(events: readonly SourceEvent[]): Map<string, number> {
  const newest = new Map<string, number>();
  events.forEach((event, index) => {
    const key = recordKeyOf(event);
    const current = newest.get(key);
    const currentEvent = current === undefined ? undefined : events[current];
    if (
      currentEvent === undefined ||
      event.sourceModifiedAt.getTime() >= currentEvent.sourceModifiedAt.getTime()
    ) {
      newest.set(key, index);
    }
  });
  return newest;
}

export const SUPERSEDED: DeliveryResult = {
  outcome: 'skipped',
  reason: 'superseded by a newer event of the same record in this batch',
};

export interface PerRecordOptions {
  /** Records written at once (events of one record are always sequential). */
  concurrency: number;
  /**
   * Send only the newest event of each record (state destinations: every event carries full
   * state); older ones are answered as superseded. False for event feeds (webhooks).
   */
  collapse: boolean;
}

/**
 * Runs `deliverOne` over a batch: records in parallel up to `concurrency`, one record's events in
 * order. After a DestinationUnavailableError (outage, rate limit, bad credentials) the events not
 * started yet get the same error without a request: the destination will not take them now.
 */
export async function deliverPerRecord(
  events: readonly SourceEvent[],
  options: PerRecordOptions,
  deliverOne: (event: SourceEvent) => Promise<DeliveryResult>,
): Promise<Array<DeliveryResult | Error>> {
  const results = new Array<DeliveryResult | Error | undefined>(events.length);
  const groups = new Map<string, number[]>();
  const newest = options.collapse ? newestPerRecord(events) : undefined;
  events.forEach((event, index) => {
    const key = recordKeyOf(event);
    if (newest && newest.get(key) !== index) {
      results[index] = SUPERSEDED;
      return;
    }
    const group = groups.get(key);
    if (group) {
      group.push(index);
    } else {
      groups.set(key, [index]);
    }
  });

  const queue = [...groups.values()];
  let stop: DestinationUnavailableError | undefined;
  const worker = async (): Promise<void> => {
    for (let group = queue.shift(); group; group = queue.shift()) {
      for (const index of group) {
        const event = events[index];
        if (!event) {
          continue;
        }
        if (stop) {
          results[index] = new DestinationUnavailableError(
            `not sent: ${stop.message}`,
            stop.retryAfterMs,
          );
          continue;
        }
        try {
          results[index] = await deliverOne(event);
        } catch (error) {
          const failure = asDeliveryError(error);
          results[index] = failure;
          if (failure instanceof DestinationUnavailableError) {
            stop ??= failure;
          }
        }
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency, groups.size)) }, worker),
  );
  return results.map(
    (result) => result ?? new Error('internal: no result computed for this event'),
  );
}

/**
 * The HTTP adapters' `deliver`: read the destination's settings once for the batch (bad settings
 * fail every event as retriable, the records are fine), then deliver record by record.
 */
export async function deliverWithSettings<S>(
  events: readonly SourceEvent[],
  readSettings: () => S,
  options: PerRecordOptions,
  deliverOne: (settings: S, event: SourceEvent) => Promise<DeliveryResult>,
): Promise<Array<DeliveryResult | Error>> {
  let settings: S;
  try {
    settings = readSettings();
  } catch (error) {
    const failure = asDeliveryError(error);
    return events.map(() => failure);
  }
  return deliverPerRecord(events, options, (event) => deliverOne(settings, event));
}

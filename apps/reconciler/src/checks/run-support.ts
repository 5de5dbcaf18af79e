import { SOURCE_RESOURCES, type Resource, type Source } from '@raise-sync/shared/events';
import type { CustomerCredentials } from '@raise-sync/shared/state';
import type { RunCounts } from '../runs/run-types';

/** Counts of a run, built up page by page. */
export class Counter {
  readonly counts: RunCounts = {};

  add(key: string, n = 1): void {
    this.counts[key] = (this.counts[key] ?? 0) + n;
  }

  /** Makes the key appear (as 0) even when nothing is counted, so runs compare key by key. */
  ensure(...keys: string[]): void {
    for (const key of keys) {
      this.counts[key] ??= 0;
    }
  }
}

/** What one run compares: each resource of each source the customer has a token for. */
export interface ResourcePlan {
  source: Source;
  resource: Resource;
  token: string;
}

/**
 * The resources a run covers: all resources of every source with a stored token, or the
 * requested ones among them. A requested resource whose source has no token is an error.
 */
export function planResources(
  credentials: CustomerCredentials,
  requested: readonly string[] | null,
): ResourcePlan[] {
  const plan: ResourcePlan[] = [];
  for (const source of Object.keys(SOURCE_RESOURCES) as Source[]) {
    const token = credentials[source]?.apiToken;
    for (const resource of SOURCE_RESOURCES[source] as readonly Resource[]) {
      if (requested && !requested.includes(resource)) {
        continue;
      }
      if (!token) {
        if (requested) {
          throw new Error(
            `resource ${resource} was requested but the customer has no ${source} token`,
          );
        }
        continue;
      }
      plan.push({ source, resource, token });
    }
  }
  return plan;
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(limit, 1), items.length) }, worker));
  return results;
}

/** Thrown between pages when the run's signal was aborted (lease lost or shutting down). */
export class RunAbortedError extends Error {
  constructor(reason: unknown) {
    super(
      `run aborted: ${reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted'}`,
    );
    this.name = 'RunAbortedError';
  }
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) {
    throw new RunAbortedError(signal.reason);
  }
}

/**
 * Iterates `source` up to `depth` items ahead: as soon as an item (a source page) is handed out,
 * the next one is requested, so the source keeps preparing pages while the caller checks the one
 * in hand. Holds at most `depth + 1` items. Leaving the loop early closes the source once the
 * reads in flight have ended.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, depth = 1): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const queue: Array<Promise<IteratorResult<T>>> = [];
  const pull = (): void => {
    const next = iterator.next();
    // Its error, if any, is thrown where it is awaited (or dropped when the caller left early).
    next.catch(() => undefined);
    queue.push(next);
  };
  for (let i = 0; i < depth; i += 1) {
    pull();
  }
  let finished = false;
  try {
    for (;;) {
      const result = await (queue.shift() as Promise<IteratorResult<T>>);
      if (result.done) {
        finished = true;
        return;
      }
      pull();
      yield result.value;
    }
  } catch (error) {
    finished = true;
    throw error;
  } finally {
    if (!finished) {
      await Promise.allSettled(queue);
      await iterator.return?.();
    }
  }
}

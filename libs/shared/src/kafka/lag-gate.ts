import type { KafkaConnection } from './connection';

export interface LagGateOptions {
  /** The consumer group whose backlog is watched (the submitter's). */
  groupId: string;
  topics: string[];
  /** Publishing waits while the backlog is above this many messages. */
  maxLag: number;
  pollMs?: number;
}

/**
 * Backpressure for bulk publishers (backfills, replays): before each page, wait until the
 * submitter's backlog on the source topics is below `maxLag`. A backfill then never piles up
 * thousands of messages in front of other customers' live events on the shared partitions, so
 * their latency stays within what the submitter needs for `maxLag` messages.
 */
export class LagGate {
  constructor(
    private readonly connection: KafkaConnection,
    private readonly options: LagGateOptions,
  ) {}

  lag(): Promise<number> {
    return this.connection.groupLag(this.options.groupId, this.options.topics);
  }

  /** Resolves once the backlog is below the limit; returns how long it waited (ms). */
  async waitBelowLimit(signal?: AbortSignal): Promise<number> {
    const started = Date.now();
    while (!signal?.aborted && (await this.lag()) > this.options.maxLag) {
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs ?? 200));
    }
    return Date.now() - started;
  }
}

/**
 * The gate bulk publishers (backfill pages, reconciliation republishes, replays) wait behind:
 * the submitter's bulk group backlog on every bulk topic of `topics`, against `maxLag` messages;
 * null when `maxLag` is 0 (no backpressure). Live events have topics of their own, so this bounds
 * how far bulk work runs ahead of its own delivery, not anyone's live latency.
 */
export function submitterLagGate(
  connection: KafkaConnection,
  topics: { prefix: string; allBulkEvents(): string[] },
  maxLag: number,
): LagGate | null {
  return maxLag > 0
    ? new LagGate(connection, {
        groupId: bulkGroupId(topics.prefix),
        topics: topics.allBulkEvents(),
        maxLag,
        pollMs: 250,
      })
    : null;
}

/** The submitter's consumer group of the live source topics. */
export const liveGroupId = (prefix: string): string => `${prefix}.submitter`;
/** The submitter's consumer group of the bulk topics. */
export const bulkGroupId = (prefix: string): string => `${prefix}.submitter.bulk`;

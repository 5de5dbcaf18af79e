import { allSourceResources, type Resource, type Source } from '../events/source-event';

/** Delays of the submitter's retry topics (non-blocking retries; issue 4 consumes them). */
export const RETRY_DELAYS = ['30s', '5m', '1h'] as const;
export type RetryDelay = (typeof RETRY_DELAYS)[number];

const resourceSegment = (resource: Resource): string => resource.replace(/_/g, '-');

/** All topic names the pipeline owns, under one prefix (per deployment, or per test file). */
export function topicsFor(prefix: string) {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(prefix)) {
    throw new Error(
      `KAFKA_TOPIC_PREFIX '${prefix}' must be lower-case letters, digits, dots or dashes`,
    );
  }
  const sourceEvents = (source: Source, resource: Resource): string =>
    `${prefix}.source.${source}.${resourceSegment(resource)}`;
  /**
   * The bulk lane of a source topic: backfill pages, reconciliation republishes, replays, and a
   * customer's live events beyond its fair share. The submitter consumes it in a group of its own
   * that yields to live work, so bulk never queues in front of anyone's live events.
   */
  const bulkEvents = (source: Source, resource: Resource): string =>
    `${prefix}.bulk.${source}.${resourceSegment(resource)}`;
  return {
    prefix,
    sourceEvents,
    allSourceEvents: (): string[] =>
      allSourceResources().map((s) => sourceEvents(s.source, s.resource)),
    bulkEvents,
    allBulkEvents: (): string[] =>
      allSourceResources().map((s) => bulkEvents(s.source, s.resource)),
    /** The bulk topic of a source or bulk topic of this prefix (itself for a bulk topic). */
    bulkFor: (topic: string): string =>
      topic.startsWith(`${prefix}.source.`)
        ? `${prefix}.bulk.${topic.slice(`${prefix}.source.`.length)}`
        : topic,
    submitRetry: (delay: RetryDelay): string => `${prefix}.submitter.retry.${delay}`,
    deadLetters: `${prefix}.submitter.dead-letter`,
  };
}

export type Topics = ReturnType<typeof topicsFor>;

/**
 * Message key of a source event. Customer first, so every key of a customer starts the same way
 * and one record's events always hash to one partition, in order.
 */
export function messageKeyFor(customerId: string, resource: Resource, sourceId: string): string {
  if (customerId.length === 0 || customerId.includes(':')) {
    throw new Error(`customer ID '${customerId}' must be non-empty and contain no ':'`);
  }
  return `${customerId}:${resource}:${sourceId}`;
}

/** The customer ID at the start of a message key, or undefined for a key we did not write. */
export function customerIdFromKey(key: Buffer | string | null | undefined): string | undefined {
  if (key === null || key === undefined) {
    return undefined;
  }
  const text = key.toString();
  const end = text.indexOf(':');
  return end > 0 ? text.slice(0, end) : undefined;
}

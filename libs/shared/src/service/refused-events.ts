import type { SourceEvent } from '../events/source-event';
import type { EventTooLargeError } from '../kafka/producer';
import type { PipelineMetrics } from '../observability/metrics';

interface WarnLogger {
  warn(obj: object, msg: string): void;
}

/**
 * Counts and logs a source event refused because it cannot fit the Kafka event limit. Used by
 * every path that writes source events (webhooks answer 413 besides; pages of polls, backfills
 * and reconciliations leave the event out and go on, so one oversized record never stalls a
 * customer's checkpoint or another customer's work). The record ID is logged, never its data.
 */
export function countRefusedEvent(
  metrics: PipelineMetrics,
  log: WarnLogger,
  error: EventTooLargeError,
  event: Pick<SourceEvent, 'customerId' | 'source' | 'resource' | 'recordId' | 'origin'>,
): void {
  metrics.eventsRefused.inc({
    customer_id: event.customerId,
    source: event.source,
    resource: event.resource,
    origin: event.origin,
    reason: 'too_large',
  });
  log.warn(
    {
      customerId: event.customerId,
      source: event.source,
      resource: event.resource,
      recordId: event.recordId,
      origin: event.origin,
      bytes: error.bytes,
      limit: error.limit,
    },
    'event refused: it cannot fit the Kafka event limit (record left out; shrink it at the source)',
  );
}

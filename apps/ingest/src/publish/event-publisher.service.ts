import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { SourceEvent } from '@raise-sync/shared/events';
import { BatchingPublisher, type Topics } from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { countRefusedEvent, PIPELINE_METRICS, TOPICS } from '@raise-sync/shared/service';
import { EventProducer, EventTooLargeError } from '@raise-sync/shared/kafka';
import { PinoLogger } from 'nestjs-pino';
import { LiveShare } from './live-share';
import type { IngestConfig } from '../ingest.config';

/** Raised when Kafka did not acknowledge in time: the caller must not acknowledge its input. */
export class PublishTimeoutError extends Error {
  constructor(ms: number) {
    super(`Kafka did not acknowledge within ${ms}ms`);
    this.name = 'PublishTimeoutError';
  }
}

/**
 * Writes source events to their topic through one batching publisher per process (acks=all, one
 * lane per topic partition), and counts what was written. Resolves only after the broker
 * acknowledged; rejects on failure or after PUBLISH_TIMEOUT_MS. An event that cannot fit the
 * Kafka event limit is refused alone before it joins a batch (EventTooLargeError, counted per
 * customer); with `skipTooLarge` (poll pages) it is left out and the rest are written.
 */
@Injectable()
export class EventPublisher implements BeforeApplicationShutdown {
  private readonly batcher: BatchingPublisher;
  private readonly timeoutMs: number;
  private readonly discard: boolean;
  private readonly share: LiveShare;

  constructor(
    producer: EventProducer,
    config: ConfigService<IngestConfig, true>,
    @Inject(TOPICS) private readonly topics: Topics,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    const ingest = config.get('ingest', { infer: true });
    this.timeoutMs = ingest.publishTimeoutMs;
    this.discard = ingest.benchDiscardEvents;
    this.share = new LiveShare(ingest.liveShare.perSecond, ingest.liveShare.burst);
    if (this.discard) {
      log.warn(
        'BENCH_DISCARD_EVENTS=1: webhooks are acknowledged WITHOUT being written (benchmark baseline)',
      );
    }
    this.batcher = new BatchingPublisher(producer, {
      lingerMs: ingest.publishLingerMs,
      onSend: ({ durationMs, ok }) => {
        if (ok) {
          metrics.produceSeconds.observe({ topic_kind: 'source' }, durationMs / 1000);
        }
      },
    });
  }

  /**
   * Publishes events of one source and resource: to the live topic within the customer's fair
   * share, to the bulk topic beyond it (see LiveShare).
   */
  async publish(events: SourceEvent[], options: { skipTooLarge?: boolean } = {}): Promise<void> {
    const first = events[0];
    if (!first) {
      return;
    }
    if (this.discard) {
      return; // benchmark baseline: the same request path without the Kafka write
    }
    const live: SourceEvent[] = [];
    const bulk: SourceEvent[] = [];
    for (const event of events) {
      (this.share.take(event.customerId) ? live : bulk).push(event);
    }
    if (bulk.length > 0) {
      this.metrics.eventsOverShare.inc({ customer_id: first.customerId }, bulk.length);
    }
    await Promise.all([
      this.publishTo(this.topics.sourceEvents(first.source, first.resource), live, options),
      this.publishTo(this.topics.bulkEvents(first.source, first.resource), bulk, options),
    ]);
  }

  private async publishTo(
    topic: string,
    events: SourceEvent[],
    options: { skipTooLarge?: boolean },
  ): Promise<void> {
    if (events.length === 0) {
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const refused = new Set<SourceEvent>();
    const sent = this.batcher
      .publish(
        topic,
        events,
        options.skipTooLarge
          ? (error, event) => {
              countRefusedEvent(this.metrics, this.log, error, event);
              refused.add(event);
            }
          : undefined,
      )
      .catch((error: unknown) => {
        if (error instanceof EventTooLargeError && error.event) {
          countRefusedEvent(this.metrics, this.log, error, error.event);
        }
        throw error;
      });
    try {
      await Promise.race([
        sent,
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new PublishTimeoutError(this.timeoutMs)), this.timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    for (const event of events.filter((e) => !refused.has(e))) {
      this.metrics.eventsPublished.inc({
        customer_id: event.customerId,
        source: event.source,
        resource: event.resource,
        origin: event.origin,
      });
    }
  }

  /** Sends what is queued before the producer disconnects (that happens in onApplicationShutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.batcher.flush();
  }
}

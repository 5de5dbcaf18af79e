import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { SourceEvent } from '@raise-sync/shared/events';
import {
  KafkaConnection,
  submitterLagGate,
  type LagGate,
  type Topics,
} from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { countRefusedEvent, PIPELINE_METRICS, TOPICS } from '@raise-sync/shared/service';
import { EventProducer } from '@raise-sync/shared/kafka';
import { PinoLogger } from 'nestjs-pino';
import type { BackfillerConfig } from '../backfiller.config';

/**
 * Publishes backfill pages to the same topics as live events (origin = backfill), acks=all
 * (see EventProducer on why not idempotent), behind the submitter-lag gate: before a page goes out, the
 * submitter's backlog on the source topics must be below BACKFILL_MAX_LAG (0 turns the gate off),
 * so a large backfill never buries other customers' live events in a long queue.
 */
@Injectable()
export class BackfillPublisher {
  private readonly gate: LagGate | null;

  constructor(
    private readonly producer: EventProducer,
    @Inject(TOPICS) private readonly topics: Topics,
    kafka: KafkaConnection,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    config: ConfigService<BackfillerConfig, true>,
    private readonly log: PinoLogger,
  ) {
    const maxLag = config.get('pushback', { infer: true }).maxLag;
    this.gate = submitterLagGate(kafka, topics, maxLag);
  }

  /** Waits while the submitter lags too far behind; resolves with the time waited (ms). */
  async waitForRoom(signal: AbortSignal): Promise<number> {
    return this.gate ? this.gate.waitBelowLimit(signal) : 0;
  }

  /**
   * Resolves once the broker acknowledged every event of the page (one topic per page). A record
   * too large for Kafka is counted and left out, so the range goes on past it.
   */
  async publish(events: SourceEvent[]): Promise<void> {
    const first = events[0];
    if (!first) {
      return;
    }
    let refused = 0;
    await this.producer.publish(
      this.topics.bulkEvents(first.source, first.resource),
      events,
      (error, event) => {
        refused++;
        countRefusedEvent(this.metrics, this.log, error, event);
      },
    );
    this.metrics.eventsPublished.inc(
      {
        customer_id: first.customerId,
        source: first.source,
        resource: first.resource,
        origin: 'backfill',
      },
      events.length - refused,
    );
  }
}

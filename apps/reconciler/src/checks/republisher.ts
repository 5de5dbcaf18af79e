import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import {
  newSourceEvent,
  type Resource,
  type Source,
  type SourceEvent,
} from '@raise-sync/shared/events';
import {
  KafkaConnection,
  submitterLagGate,
  type LagGate,
  type Topics,
} from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import {
  BulkPushback,
  countRefusedEvent,
  PIPELINE_METRICS,
  TOPICS,
} from '@raise-sync/shared/service';
import { EventProducer } from '@raise-sync/shared/kafka';
import { PinoLogger } from 'nestjs-pino';
import type { ReconciliationKind } from '@raise-sync/shared/state';
import { RunSlots } from '../runs/run-slots';
import type { SourceRecord } from './source-reader';
import type { ReconcilerConfig } from '../reconciler.config';

/**
 * Puts records back on the LIVE source topics with origin 'reconcile', in the same shape the
 * poller publishes (full record, deterministic event ID), so they take the one processing path
 * every event takes. Resolves only after the broker acknowledged (acks=all). Like a backfill, a
 * large republish waits while the submitter's backlog is above BACKFILL_MAX_LAG (0: no wait), so
 * a day of gaps never buries other customers' live events.
 *
 * Before that, push-back per customer: while more than BACKFILL_MAX_WAITING of the customer's
 * events wait in its destination lanes, the batch waits (the run lends its working slot to other
 * customers' runs meanwhile), instead of adding to a lane that already cannot keep up.
 */
@Injectable()
export class Republisher {
  private readonly gate: LagGate | null;

  constructor(
    private readonly producer: EventProducer,
    @Inject(TOPICS) private readonly topics: Topics,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    kafka: KafkaConnection,
    config: ConfigService<ReconcilerConfig, true>,
    private readonly pushback: BulkPushback,
    private readonly slots: RunSlots,
    private readonly log: PinoLogger,
  ) {
    const maxLag = config.get('pushback', { infer: true }).maxLag;
    this.gate = submitterLagGate(kafka, topics, maxLag);
  }

  async upserts(
    kind: ReconciliationKind,
    customerId: string,
    source: Source,
    resource: Resource,
    records: readonly SourceRecord[],
    signal?: AbortSignal,
  ): Promise<SourceEvent[]> {
    const events = records.map((r) =>
      newSourceEvent({
        customerId,
        source,
        resource,
        operation: 'upsert',
        origin: 'reconcile',
        recordId: r.recordId,
        sourceModifiedAt: r.sourceModifiedAt,
        record: r.record,
      } as never),
    );
    await this.send(kind, source, resource, events, signal);
    return events;
  }

  /**
   * Delete events for records gone from the source, with the shape ingest gives a Raise
   * "deleted" webhook (no record). `deletedAt` must be newer than every version the destinations
   * hold, or the submitter would skip the delete as stale.
   */
  async deletes(
    kind: ReconciliationKind,
    customerId: string,
    source: Source,
    resource: Resource,
    records: ReadonlyArray<{ recordId: string; deletedAt: Date }>,
    signal?: AbortSignal,
  ): Promise<SourceEvent[]> {
    const events = records.map((r) =>
      newSourceEvent({
        customerId,
        source,
        resource,
        operation: 'delete',
        origin: 'reconcile',
        recordId: r.recordId,
        sourceModifiedAt: r.deletedAt,
        record: null,
      } as never),
    );
    await this.send(kind, source, resource, events, signal);
    return events;
  }

  private async send(
    kind: ReconciliationKind,
    source: Source,
    resource: Resource,
    events: SourceEvent[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const first = events[0];
    if (!first) {
      return;
    }
    await this.pushback.waitWhileHeld(first.customerId, 'reconcile', signal, {
      slot: this.slots.current(),
      context: { kind, resource },
    });
    signal?.throwIfAborted();
    await this.gate?.waitBelowLimit(signal);
    signal?.throwIfAborted();
    let refused = 0;
    await this.producer.publish(this.topics.bulkEvents(source, resource), events, (error, e) => {
      refused++;
      countRefusedEvent(this.metrics, this.log, error, e);
    });
    this.metrics.eventsPublished.inc(
      { customer_id: first.customerId, source, resource, origin: 'reconcile' },
      events.length - refused,
    );
    this.metrics.reconciliationRepublished.inc(
      { customer_id: first.customerId, resource, kind },
      events.length - refused,
    );
  }
}

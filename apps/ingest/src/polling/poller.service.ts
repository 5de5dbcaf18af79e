import { Inject, Injectable } from '@nestjs/common';
import { newSourceEvent, type Resource, type SourceEvent } from '@raise-sync/shared/events';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import {
  isRaiseResource,
  raiseToRecord,
  SourceAuthError,
  vomoToRecord,
  type RaiseResource,
} from '@raise-sync/sources';
import {
  CheckpointRepository,
  type CheckpointPosition,
  type SourceName,
} from '@raise-sync/shared/state';
import { CustomerDirectory } from '../customers/customer-directory.service';
import { EventPublisher } from '../publish/event-publisher.service';
import { CredentialHealth } from '../sources/credential-health.service';
import { SourceClients } from '@raise-sync/sources/service';

export interface PollTarget {
  customerId: string;
  source: SourceName;
  resource: Resource;
}

export type PollResult =
  | { outcome: 'ok'; records: number; checkpoint: CheckpointPosition | null }
  | { outcome: 'auth_failed' | 'lease_lost' | 'skipped'; records: number };

const PAGE_SIZE = 500;

interface PolledPage {
  events: SourceEvent[];
  cursor: CheckpointPosition;
}

/**
 * One polling pass over one customer-resource: read every record modified after the checkpoint
 * in (modified time, ID) order, publish each page to Kafka (acks=all), then move the checkpoint
 * to the last published record's own timestamp and ID. The wall clock never enters the
 * checkpoint, and it only moves after the broker acknowledged, so a crash anywhere resumes from
 * the last acknowledged page: at worst that page is published again (same event IDs).
 */
@Injectable()
export class Poller {
  constructor(
    private readonly checkpoints: CheckpointRepository,
    private readonly customers: CustomerDirectory,
    private readonly clients: SourceClients,
    private readonly publisher: EventPublisher,
    private readonly credentials: CredentialHealth,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('poller');
  }

  /** `stillLeased` is asked between pages; when it says no, the pass stops (another replica owns it). */
  async poll(target: PollTarget, stillLeased: () => boolean): Promise<PollResult> {
    const { customerId, source, resource } = target;
    const customer = await this.customers.get(customerId);
    const token = customer?.credentials[source]?.apiToken;
    if (!customer || !token) {
      return { outcome: 'skipped', records: 0 };
    }
    const { scope } = customer;
    const creds = { customerId, token };
    let checkpoint = await this.checkpoints.get(scope, resource, 'inbound');
    let records = 0;
    try {
      const pages =
        source === 'raise' && isRaiseResource(resource)
          ? this.raisePages(creds, resource, checkpoint)
          : this.vomoPages(creds, checkpoint);
      for await (const { events, cursor } of pages) {
        // The cursor is the newest (modified time, ID) of the page, including any record that
        // could not be read (logged and counted in toEvents).
        // A record too large for Kafka is counted and left out, never a stuck checkpoint.
        await this.publisher.publish(events, { skipTooLarge: true });
        checkpoint = await this.checkpoints.advance(scope, source, resource, 'inbound', cursor);
        records += events.length;
        this.metrics.pollRecords.inc({ customer_id: customerId, source, resource }, events.length);
        this.metrics.pollCheckpointTimestamp.set(
          { customer_id: customerId, source, resource },
          checkpoint.at.getTime() / 1000,
        );
        if (!stillLeased()) {
          this.log.warn({ customerId, source, resource }, 'poll lease lost; stopping this pass');
          return { outcome: 'lease_lost', records };
        }
      }
    } catch (error) {
      if (error instanceof SourceAuthError) {
        await this.credentials.markFailing(scope, source, error.message);
        return { outcome: 'auth_failed', records };
      }
      throw error;
    }
    return { outcome: 'ok', records, checkpoint };
  }

  private async *raisePages(
    creds: { customerId: string; token: string },
    resource: RaiseResource,
    after: CheckpointPosition | null,
  ): AsyncGenerator<PolledPage> {
    for await (const page of this.clients.raise.streamModifiedSince(creds, resource, {
      after,
      pageSize: PAGE_SIZE,
      // Gifts with their donor embedded: destinations keyed by email (CRM+) need the donor's.
      includeDetails: resource === 'gift',
    })) {
      yield {
        cursor: page.cursor,
        events: this.toEvents(creds.customerId, 'raise', resource, page.items, (model) =>
          raiseToRecord(resource, model as never),
        ),
      };
    }
  }

  private async *vomoPages(
    creds: { customerId: string; token: string },
    after: CheckpointPosition | null,
  ): AsyncGenerator<PolledPage> {
    for await (const page of this.clients.vomo.streamUpdatedSince(creds, { after })) {
      yield {
        cursor: page.cursor,
        events: this.toEvents(creds.customerId, 'vomo', 'user', page.items, (user) =>
          vomoToRecord(user),
        ),
      };
    }
  }

  /**
   * Poll events for a page. A record the source sent in a shape we cannot read is logged with its
   * ID and counted (`raise_sync_source_records_malformed_total`), not allowed to stall the
   * checkpoint forever; the reconciler reports it while it stays unreadable.
   */
  private toEvents<T>(
    customerId: string,
    source: SourceName,
    resource: Resource,
    page: T[],
    map: (item: T) => { recordId: string; sourceModifiedAt: Date; record: unknown },
  ): SourceEvent[] {
    const events: SourceEvent[] = [];
    for (const item of page) {
      try {
        const mapped = map(item);
        events.push(
          newSourceEvent({
            customerId,
            source,
            resource,
            operation: 'upsert',
            origin: 'poll',
            recordId: mapped.recordId,
            sourceModifiedAt: mapped.sourceModifiedAt,
            record: mapped.record,
          } as never),
        );
      } catch (error) {
        this.metrics.sourceRecordsMalformed.inc({ customer_id: customerId, source, resource });
        this.log.error(
          {
            customerId,
            source,
            resource,
            recordId: JSON.stringify((item as { id?: unknown }).id ?? null),
            err: error instanceof Error ? error.message : String(error),
          },
          'source record could not be read; skipped',
        );
      }
    }
    return events;
  }
}

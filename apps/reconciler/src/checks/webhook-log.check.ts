import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { SourceClients } from '@raise-sync/sources/service';
import {
  compareSourceIds,
  MalformedSourceRecordError,
  RAISE_EVENT_TYPES,
  raiseToRecord,
  type RaiseResource,
  type RaiseWebhookLogEntry,
} from '@raise-sync/sources';
import { CustomerRepository, customerScope, type CustomerScope } from '@raise-sync/shared/state';
import type { ReconciliationCheck, RunContext, RunOutcome } from '../runs/run-types';
import { ScheduleRepository } from '../schedule/schedule.repository';
import { Republisher } from './republisher';
import { Counter, mapLimit, throwIfAborted } from './run-support';
import type { SourceRecord } from './source-reader';
import { SyncStateRepository } from './sync-state.repository';
import { failedDeliveries, readCheckpoint, type LogCheckpoint } from './webhook-log-groups';
import type { ReconcilerConfig } from '../reconciler.config';

/** The settings key of a webhook-log schedule that holds its checkpoint. */
export const CHECKPOINT_KEY = 'webhookLogCheckpoint';

/** What the log says about one record: which of its deliveries failed. */
interface Suspect {
  recordId: string;
  upsertFailed: boolean;
  /** First failed attempt of its delete delivery, when that delivery failed. */
  deleteFailedAt: Date | null;
}

/**
 * Kind 'webhook-log' (hourly by default): reads the customer's Raise webhook delivery log after
 * the last checkpoint and repairs every delivery Raise gave up on (or is still retrying), so a
 * webhook lost while ingest was unreachable costs at most one cadence, deletes included (polling
 * cannot see a delete, and deletion detection is daily).
 *
 * - Attempts are grouped by (eventType, contextId): the log list carries no payload, so the
 *   record's modified time is not visible. A group counts as failed when its newest attempt
 *   failed; a later successful delivery of the same kind of event carried a newer state anyway.
 * - Every failed record is read back by ID (`GET /api/<Resource>/{id}`, gifts with their donor as
 *   the poller reads them). Present: its current state is republished (origin 'reconcile'),
 *   whatever kind of event failed (a record deleted and restored gets its current state).
 *   Gone (404) after a failed delete: one delete event, timed at the first failed attempt or just
 *   after the newest version the sync state holds, whichever is later (so the submitter never
 *   skips it as stale). Gone after a failed upsert only: nothing to do (the delete itself was
 *   delivered, or is in the log as its own failure).
 * - Nothing is published before every read has answered: a failing source read fails the run
 *   (retried at the next cadence) and never leads to a guess. The checkpoint (newest log entry
 *   id) moves only when the run published everything.
 *
 * Assumes log entry IDs grow with time, which is how the list is ordered (newest first).
 */
@Injectable()
export class WebhookLogCheck implements ReconciliationCheck {
  readonly kind = 'webhook-log' as const;
  private readonly pageSize: number;
  private readonly lookupConcurrency: number;

  constructor(
    private readonly customers: CustomerRepository,
    private readonly syncState: SyncStateRepository,
    config: ConfigService<ReconcilerConfig, true>,
    private readonly clients: SourceClients,
    private readonly republisher: Republisher,
    private readonly schedules: ScheduleRepository,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    const reconciler = config.get('reconciler', { infer: true });
    this.pageSize = reconciler.pageSize;
    this.lookupConcurrency = reconciler.lookupConcurrency;
    this.log.setContext('webhook-log-check');
  }

  async run(ctx: RunContext): Promise<RunOutcome> {
    const customer = customerScope(ctx.customerId);
    const token = (await this.customers.credentials(customer)).raise?.apiToken;
    if (!token) {
      return { status: 'skipped', counts: {}, note: 'no Raise token' };
    }
    const creds = { customerId: ctx.customerId, token };
    const counter = new Counter();
    counter.ensure(
      'log_entries_read',
      'log_entries_malformed',
      'failed_deliveries',
      'failed_upserts',
      'failed_deletes',
      'upserts_republished',
      'deletes_published',
      'deleted_but_present',
      'upserts_gone_at_source',
      'unreadable',
      'republished',
      'actionable',
    );
    const checkpoint = readCheckpoint(ctx.settings[CHECKPOINT_KEY]);
    const entries = await this.readLog(ctx, creds, checkpoint, counter);
    const failed = failedDeliveries(entries);

    const suspects = new Map<RaiseResource, Map<string, Suspect>>();
    for (const delivery of failed) {
      const type = RAISE_EVENT_TYPES[delivery.eventType];
      if (!type) {
        counter.add('event_types_ignored');
        continue;
      }
      counter.add('failed_deliveries');
      counter.add(type.operation === 'delete' ? 'failed_deletes' : 'failed_upserts');
      const byId = suspects.get(type.resource) ?? new Map<string, Suspect>();
      suspects.set(type.resource, byId);
      const suspect = byId.get(delivery.contextId) ?? {
        recordId: delivery.contextId,
        upsertFailed: false,
        deleteFailedAt: null,
      };
      if (type.operation === 'delete') {
        suspect.deleteFailedAt = delivery.firstFailedAt;
      } else {
        suspect.upsertFailed = true;
      }
      byId.set(delivery.contextId, suspect);
    }

    // Read everything first: a source error fails the run before anything is published.
    const plans: Array<{
      resource: RaiseResource;
      upserts: SourceRecord[];
      deletes: Array<{ recordId: string; deletedAt: Date }>;
    }> = [];
    for (const [resource, byId] of suspects) {
      throwIfAborted(ctx.signal);
      const upserts: SourceRecord[] = [];
      const gone: Suspect[] = [];
      const list = [...byId.values()];
      const models = await mapLimit(list, this.lookupConcurrency, (suspect) =>
        this.clients.raise.get(creds, resource, suspect.recordId, ctx.signal, {
          includeDetails: resource === 'gift',
        }),
      );
      list.forEach((suspect, i) => {
        const model = models[i];
        if (model === null || model === undefined) {
          if (suspect.deleteFailedAt) {
            gone.push(suspect);
          } else {
            counter.add('upserts_gone_at_source');
          }
          return;
        }
        if (suspect.deleteFailedAt) {
          counter.add('deleted_but_present');
        }
        try {
          upserts.push(raiseToRecord(resource, model as never));
        } catch (error) {
          if (!(error instanceof MalformedSourceRecordError)) {
            throw error;
          }
          counter.add('unreadable');
          this.metrics.sourceRecordsMalformed.inc({
            customer_id: ctx.customerId,
            source: 'raise',
            resource,
          });
          this.log.error(
            {
              customerId: ctx.customerId,
              runId: ctx.runId,
              resource,
              recordId: suspect.recordId,
              err: error.message,
            },
            'record re-read after a failed webhook cannot be mapped; skipped',
          );
        }
      });
      plans.push({ resource, upserts, deletes: await this.deleteTimes(customer, resource, gone) });
    }

    for (const plan of plans) {
      throwIfAborted(ctx.signal);
      if (plan.upserts.length > 0) {
        await this.republisher.upserts(
          'webhook-log',
          ctx.customerId,
          'raise',
          plan.resource,
          plan.upserts,
          ctx.signal,
        );
      }
      if (plan.deletes.length > 0) {
        await this.republisher.deletes(
          'webhook-log',
          ctx.customerId,
          'raise',
          plan.resource,
          plan.deletes,
          ctx.signal,
        );
      }
      counter.add('upserts_republished', plan.upserts.length);
      counter.add('deletes_published', plan.deletes.length);
      counter.add('republished', plan.upserts.length + plan.deletes.length);
      if (plan.upserts.length + plan.deletes.length > 0) {
        this.log.info(
          {
            customerId: ctx.customerId,
            runId: ctx.runId,
            resource: plan.resource,
            upserts: plan.upserts.length,
            deletes: plan.deletes.length,
          },
          'republished records whose webhook delivery failed',
        );
      }
    }

    const newest = newestEntry(entries) ?? checkpoint;
    if (newest && (!checkpoint || compareSourceIds(newest.id, checkpoint.id) > 0)) {
      await this.schedules.mergeSettings(customer, 'webhook-log', {
        [CHECKPOINT_KEY]: { id: newest.id, at: newest.at },
      });
    }
    return { status: 'done', counts: counter.counts };
  }

  /**
   * The log entries after the checkpoint (or, without one, those of the run's window), read
   * newest first until the pages reach what an earlier run saw. De-duplicated by id.
   */
  private async readLog(
    ctx: RunContext,
    creds: { customerId: string; token: string },
    checkpoint: LogCheckpoint | null,
    counter: Counter,
  ): Promise<RaiseWebhookLogEntry[]> {
    const byId = new Map<string, RaiseWebhookLogEntry>();
    const pages = this.clients.raise.streamWebhookLog(creds, {
      pageSize: Math.min(this.pageSize, 500),
      signal: ctx.signal,
    });
    for await (const page of pages) {
      throwIfAborted(ctx.signal);
      if (page.malformed > 0) {
        counter.add('log_entries_malformed', page.malformed);
        this.log.warn(
          {
            customerId: ctx.customerId,
            runId: ctx.runId,
            malformed: page.malformed,
            reasons: page.malformedReasons,
          },
          'webhook log entries skipped: unreadable',
        );
      }
      let reachedSeen = false;
      for (const entry of page.entries) {
        const old = checkpoint
          ? compareSourceIds(entry.id, checkpoint.id) <= 0
          : entry.createdAt.getTime() < ctx.windowStart.getTime();
        if (old) {
          reachedSeen = true;
          continue;
        }
        if (!byId.has(entry.id)) {
          byId.set(entry.id, entry);
          counter.add('log_entries_read');
        }
      }
      if (reachedSeen) {
        break;
      }
    }
    return [...byId.values()];
  }

  /**
   * Delete times that the submitter takes as newer than what the destinations hold: the first
   * failed attempt, or 1 ms after the newest version in the sync state when that is later (a
   * source clock ahead of ours).
   */
  private async deleteTimes(
    customer: CustomerScope,
    resource: RaiseResource,
    gone: Suspect[],
  ): Promise<Array<{ recordId: string; deletedAt: Date }>> {
    if (gone.length === 0) {
      return [];
    }
    const newest = await this.syncState.newestVersions(
      customer,
      resource,
      gone.map((g) => g.recordId),
    );
    return gone.map((g) => {
      const failedAt = (g.deleteFailedAt as Date).getTime();
      const held = newest.get(g.recordId);
      return {
        recordId: g.recordId,
        deletedAt: new Date(held !== undefined && held >= failedAt ? held + 1 : failedAt),
      };
    });
  }
}

function newestEntry(entries: RaiseWebhookLogEntry[]): LogCheckpoint | null {
  let newest: RaiseWebhookLogEntry | null = null;
  for (const entry of entries) {
    if (!newest || compareSourceIds(entry.id, newest.id) > 0) {
      newest = entry;
    }
  }
  return newest && { id: newest.id, at: newest.createdAt.toISOString() };
}

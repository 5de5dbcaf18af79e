import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Resource } from '@raise-sync/shared/events';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { customerScope, type SourceName } from '@raise-sync/shared/state';
import { splitIdSpan } from '../planning/range-split';
import { SourceReader, type BackfillScope } from '../source/source-reader.service';
import {
  BackfillRepository,
  type ClaimedRun,
  type RangeToInsert,
} from '../state/backfill.repository';
import { CustomerCredentialsReader } from './credentials.service';
import { classifyFailure } from './failure';
import type { BackfillerConfig } from '../backfiller.config';

/**
 * Plans pending runs: claims one with a lease, asks the source for the ID span and count (with
 * the run's modified-time window), splits the span into ranges and stores the plan in one
 * transaction (BackfillRepository.savePlan), so a planner that dies half-way leaves nothing behind
 * and the run is planned again, whole, once its lease expires.
 */
@Injectable()
export class RunPlanner {
  private readonly failures = new Map<string, number>();
  private readonly settings: BackfillerConfig['backfill'];

  constructor(
    config: ConfigService<BackfillerConfig, true>,
    private readonly backfills: BackfillRepository,
    private readonly reader: SourceReader,
    private readonly credentials: CustomerCredentialsReader,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.settings = config.get('backfill', { infer: true });
    this.log.setContext('backfill-planner');
  }

  /** Plans the oldest pending run nobody else is planning; false when there was none. */
  async planNext(owner: string, signal: AbortSignal): Promise<boolean> {
    const run = await this.backfills.claimRunToPlanAcrossCustomers(
      owner,
      this.settings.leaseSeconds,
    );
    if (!run) {
      return false;
    }
    const scope = scopeOf(run);
    const context = {
      customerId: run.customer_id,
      runId: run.id,
      source: run.source,
      resource: run.resource,
    };
    try {
      const creds = await this.credentials.forSource(scope.customerId, scope.source);
      const span = await this.reader.span(scope, creds, signal);
      let total = 0;
      let ranges: RangeToInsert[] = [];
      if (span.kind === 'ids') {
        total = span.total;
        ranges = splitIdSpan({
          minId: span.minId,
          maxId: span.maxId,
          total: span.total,
          rangeRecords: this.settings.rangeRecords,
          maxRanges: this.settings.maxRanges,
        });
      } else if (span.kind === 'unsplittable') {
        // One open range read in modified-time order (VOMO cannot be queried by ID).
        total = span.total ?? 0;
        ranges = [{ start: 0, end: null, recordsTotal: total }];
      }
      const saved = await this.backfills.savePlan(
        customerScope(run.customer_id),
        run,
        owner,
        total,
        ranges,
      );
      this.failures.delete(run.id);
      if (saved === 'lost') {
        this.log.warn(context, 'backfill planning lease lost; another worker plans this run');
      } else if (saved === 'planned') {
        this.log.info(
          {
            ...context,
            recordsTotal: total,
            ranges: ranges.map((r) => `${r.start}-${r.end ?? 'end'}`),
          },
          'backfill run started',
        );
      } else {
        this.log.info(
          { ...context, checkpoint: saved.checkpoint, customerLive: saved.customerLive },
          'backfill run done: the source has nothing in scope',
        );
      }
    } catch (error) {
      await this.onFailure(run, owner, error, signal);
    }
    return true;
  }

  private async onFailure(
    run: ClaimedRun,
    owner: string,
    error: unknown,
    signal: AbortSignal,
  ): Promise<void> {
    const context = {
      customerId: run.customer_id,
      runId: run.id,
      source: run.source,
      resource: run.resource,
    };
    if (signal.aborted) {
      await this.backfills.releaseRun(
        customerScope(run.customer_id),
        run.id,
        owner,
        0,
        'planning interrupted by shutdown',
      );
      return;
    }
    const attempts = (this.failures.get(run.id) ?? 0) + 1;
    this.failures.set(run.id, attempts);
    const failure = classifyFailure(error, run.source, attempts);
    this.metrics.backfillFailures.inc({
      customer_id: run.customer_id,
      resource: run.resource,
      reason: failure.reason,
    });
    if (failure.action === 'fail-run') {
      this.failures.delete(run.id);
      await this.backfills.failRun(customerScope(run.customer_id), run.id, failure.message);
      this.log.error(
        { ...context, reason: failure.reason, err: failure.message },
        'backfill run failed',
      );
      return;
    }
    await this.backfills.releaseRun(
      customerScope(run.customer_id),
      run.id,
      owner,
      failure.backoffMs / 1000,
      failure.message,
    );
    this.log.warn(
      { ...context, reason: failure.reason, err: failure.message, retryInMs: failure.backoffMs },
      'backfill planning failed; retrying later',
    );
  }
}

export function scopeOf(row: {
  customer_id: string;
  source: string;
  resource: string;
  modified_from: Date | null;
  modified_to: Date | null;
}): BackfillScope {
  return {
    customerId: row.customer_id,
    source: row.source as SourceName,
    resource: row.resource as Resource,
    modifiedFrom: row.modified_from,
    modifiedTo: row.modified_to,
  };
}

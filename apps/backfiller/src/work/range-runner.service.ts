import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { BulkPushback, PIPELINE_METRICS, PUSHBACK_RECHECK_MS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { SourceReader, type ReadPosition } from '../source/source-reader.service';
import { customerScope } from '@raise-sync/shared/state';
import { BackfillRepository, type ClaimedRange } from '../state/backfill.repository';
import { BackfillPublisher } from './backfill-publisher.service';
import { CustomerCredentialsReader } from './credentials.service';
import { classifyFailure } from './failure';
import { scopeOf } from './run-planner.service';
import type { BackfillerConfig } from '../backfiller.config';

/**
 * How a range attempt ended (for the scheduler's bookkeeping and tests of it). `held`: the
 * customer's destination lanes are too deep (push-back); the range was handed back, unfailed,
 * to be claimed again after PUSHBACK_RECHECK_MS.
 */
export type RangeOutcome = 'done' | 'lease_lost' | 'stopped' | 'retry' | 'run_failed' | 'held';

/**
 * Works one leased range: reads it page by page from its cursor, publishes each page (acks=all,
 * behind the submitter-lag gate), and only then checkpoints the page in one UPDATE guarded by
 * the lease. A crash between the publish and the checkpoint republishes that one page (same
 * deterministic event IDs, so downstream it is a duplicate, not a second record); a worker that
 * lost its lease stops at the next page and never moves another worker's cursor.
 *
 * Push-back: before its first page and after every checkpointed one, the range looks at its
 * customer's destination lanes. While more than BACKFILL_MAX_WAITING of the customer's events
 * wait there, it reads and publishes nothing more and hands its lease back for a few seconds
 * instead of sleeping on it, so the worker slot goes to other customers' ranges at once (one
 * replica's BACKFILL_WORKERS slots are shared by every customer's backfills).
 */
@Injectable()
export class RangeRunner {
  private readonly settings: BackfillerConfig['backfill'];
  /** Consecutive failed attempts per range in this process, for the retry backoff. */
  private readonly failures = new Map<string, number>();

  constructor(
    config: ConfigService<BackfillerConfig, true>,
    private readonly backfills: BackfillRepository,
    private readonly reader: SourceReader,
    private readonly publisher: BackfillPublisher,
    private readonly credentials: CustomerCredentialsReader,
    private readonly pushback: BulkPushback,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.settings = config.get('backfill', { infer: true });
    this.log.setContext('backfill-range');
  }

  /**
   * `stopping` is asked between pages (shutdown): the current page is finished and checkpointed,
   * then the lease is given back at once so another replica resumes without waiting for expiry.
   */
  async run(
    range: ClaimedRange,
    owner: string,
    stopping: () => boolean,
    signal: AbortSignal,
  ): Promise<RangeOutcome> {
    const scope = scopeOf(range);
    const customer = customerScope(range.customer_id);
    const labels = { customer_id: range.customer_id, resource: range.resource };
    const context = {
      customerId: range.customer_id,
      runId: range.run_id,
      rangeId: range.id,
      source: range.source,
      resource: range.resource,
      range: `${range.range_start}-${range.range_end ?? 'end'}`,
    };
    const startedMs = Date.now();
    let records = Number(range.records_done);
    let pages = Number(range.pages_done);
    let claimRecords = 0;
    let claimPages = 0;
    let leased = true;
    const renew = setInterval(
      () => {
        this.backfills
          .renewRange(customer, range.id, owner, this.settings.leaseSeconds)
          .then((ok) => {
            leased &&= ok;
          })
          .catch(() => undefined); // a failed renewal proves nothing; the lease still runs
      },
      Math.max(500, (this.settings.leaseSeconds * 1000) / 3),
    );
    try {
      if (await this.yieldIfHeld(range, owner, context)) {
        return 'held';
      }
      this.log.info(
        { ...context, owner, cursor: range.cursor, recordsDone: records },
        'backfill range started',
      );
      const creds = await this.credentials.forSource(scope.customerId, scope.source);
      const position: ReadPosition = {
        afterId: range.cursor !== null ? Number(range.cursor) : Number(range.range_start) - 1,
        toId: range.range_end === null ? null : Number(range.range_end),
        afterKey:
          range.high_water_at && range.high_water_id !== null
            ? { at: range.high_water_at, id: range.high_water_id }
            : null,
      };
      if (range.range_end === null) {
        position.afterId = null; // an open range (VOMO) resumes by its high-water mark instead
      }
      for await (const page of this.reader.pages(
        scope,
        creds,
        position,
        this.settings.pageSize,
        signal,
      )) {
        if (!leased) {
          this.log.warn(context, 'backfill range lease lost; stopping before publishing');
          return 'lease_lost';
        }
        await this.publisher.waitForRoom(signal);
        await this.publisher.publish(page.events);
        this.metrics.backfillPages.inc(labels);
        this.metrics.backfillRecords.inc(labels, page.events.length);
        const kept = await this.backfills.checkpoint(
          customer,
          range.id,
          owner,
          this.settings.leaseSeconds,
          {
            cursor: range.range_end === null ? null : page.lastId,
            records: page.records,
            highWater: page.highWater,
          },
        );
        if (!kept) {
          this.log.warn(context, 'backfill range lease lost or run cancelled; stopping');
          return 'lease_lost';
        }
        this.failures.delete(range.id);
        records += page.records;
        pages += 1;
        claimRecords += page.records;
        claimPages += 1;
        if (claimPages % this.settings.logEveryPages === 0) {
          this.log.info(
            {
              ...context,
              cursor: page.lastId,
              pagesDone: pages,
              recordsDone: records,
              ratePerSecond: rate(claimRecords, startedMs),
            },
            'backfill range progress',
          );
        }
        if (stopping()) {
          await this.backfills.releaseRange(customer, range.id, owner, 0, null);
          this.log.info(
            { ...context, cursor: page.lastId },
            'backfill range handed back (shutdown)',
          );
          return 'stopped';
        }
        if (await this.yieldIfHeld(range, owner, context)) {
          return 'held';
        }
      }
      const finished = await this.backfills.finishRange(customer, range.id, range.run_id, owner);
      if (finished === 'lost') {
        this.log.warn(context, 'backfill range finished but its lease was lost; not marked done');
        return 'lease_lost';
      }
      this.log.info(
        {
          ...context,
          pagesDone: pages,
          recordsDone: records,
          ratePerSecond: rate(claimRecords, startedMs),
        },
        'backfill range done',
      );
      if (finished.runDone) {
        this.log.info(
          {
            customerId: range.customer_id,
            runId: range.run_id,
            source: range.source,
            resource: range.resource,
            checkpoint: finished.checkpoint,
            customerLive: finished.customerLive,
          },
          'backfill run done',
        );
      }
      return 'done';
    } catch (error) {
      return this.onFailure(range, owner, error, stopping, signal, context);
    } finally {
      clearInterval(renew);
    }
  }

  /**
   * Push-back: when the customer's lanes are too deep, gives the range back (pending, cursor
   * kept, no error, not counted as a failure), claimable again after PUSHBACK_RECHECK_MS.
   */
  private async yieldIfHeld(
    range: ClaimedRange,
    owner: string,
    context: Record<string, string>,
  ): Promise<boolean> {
    const lane = await this.pushback.state(range.customer_id);
    if (!lane.held) {
      return false;
    }
    await this.backfills.releaseRange(
      customerScope(range.customer_id),
      range.id,
      owner,
      PUSHBACK_RECHECK_MS / 1000,
      null,
    );
    this.pushback.noteYield(lane, 'backfill', {
      runId: range.run_id,
      rangeId: range.id,
      resource: range.resource,
    });
    this.log.debug({ ...context, waiting: lane.waiting }, 'backfill range held back (push-back)');
    return true;
  }

  private async onFailure(
    range: ClaimedRange,
    owner: string,
    error: unknown,
    stopping: () => boolean,
    signal: AbortSignal,
    context: Record<string, string>,
  ): Promise<RangeOutcome> {
    if (signal.aborted || stopping()) {
      await this.backfills
        .releaseRange(customerScope(range.customer_id), range.id, owner, 0, null)
        .catch(() => undefined);
      this.log.info(context, 'backfill range interrupted by shutdown; handed back');
      return 'stopped';
    }
    const attempts = (this.failures.get(range.id) ?? 0) + 1;
    this.failures.set(range.id, attempts);
    const failure = classifyFailure(error, range.source, attempts);
    this.metrics.backfillFailures.inc({
      customer_id: range.customer_id,
      resource: range.resource,
      reason: failure.reason,
    });
    if (failure.action === 'fail-run') {
      this.failures.delete(range.id);
      await this.backfills.failRun(customerScope(range.customer_id), range.run_id, failure.message);
      this.log.error(
        { ...context, reason: failure.reason, err: failure.message },
        'backfill run failed',
      );
      return 'run_failed';
    }
    await this.backfills
      .releaseRange(
        customerScope(range.customer_id),
        range.id,
        owner,
        failure.backoffMs / 1000,
        failure.message,
      )
      .catch((releaseError: unknown) =>
        this.log.error(
          {
            ...context,
            err: releaseError instanceof Error ? releaseError.message : String(releaseError),
          },
          'could not give the range back; it is resumed when its lease expires',
        ),
      );
    this.log.error(
      {
        ...context,
        reason: failure.reason,
        err: failure.message,
        retryInMs: failure.backoffMs,
        attempts,
      },
      'backfill range attempt failed; the range resumes from its checkpoint later',
    );
    return 'retry';
  }
}

const rate = (records: number, sinceMs: number): number =>
  Math.round((records * 1000) / Math.max(1, Date.now() - sinceMs));

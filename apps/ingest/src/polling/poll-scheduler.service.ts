import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS, ReadinessService } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { customerScope, type CustomerScope } from '@raise-sync/shared/state';
import {
  PollScheduleRepository,
  type ClaimedPoll,
  type PollLease,
} from './poll-schedule.repository';
import { Poller, type PollTarget } from './poller.service';
import type { IngestConfig } from '../ingest.config';

/**
 * Drives polling from the `poll_schedule` table. Each tick claims due customer-resources with a
 * lease (`FOR UPDATE SKIP LOCKED`, lease owner + expiry), so two ingest replicas never poll the
 * same customer-resource at once, and a crashed replica's lease simply expires. A running pass
 * renews its lease; when it finishes the row is released with its next due time.
 */
@Injectable()
export class PollScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  readonly owner = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;
  private ticking = false;
  /** The last claim took as many rows as it could: more may be due before the next tick. */
  private backlog = false;
  private readonly tickMs: number;
  private readonly concurrency: number;
  private readonly leaseSeconds: number;

  constructor(
    config: ConfigService<IngestConfig, true>,
    private readonly schedule: PollScheduleRepository,
    private readonly poller: Poller,
    private readonly readiness: ReadinessService,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    const ingest = config.get('ingest', { infer: true });
    this.tickMs = ingest.pollTickMs;
    this.concurrency = ingest.pollConcurrency;
    this.leaseSeconds = ingest.pollLeaseSeconds;
    this.log.setContext('poll-scheduler');
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.log.info({ owner: this.owner, tickMs: this.tickMs }, 'poll scheduler started');
  }

  /** Stops claiming, lets running passes finish (their checkpoints advance per page), releases leases. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.allSettled(this.running.values());
  }

  /** One scheduling step; public so tests can drive it without waiting for the timer. */
  async tick(): Promise<void> {
    if (this.stopped || this.ticking || this.readiness.isShuttingDown()) {
      return;
    }
    this.ticking = true;
    try {
      const free = this.concurrency - this.running.size;
      if (free <= 0) {
        return;
      }
      const claimed = await this.schedule.claimDueAcrossCustomers(
        this.owner,
        this.leaseSeconds,
        free,
      );
      // A full claim may have left due rows behind: each pass that ends then claims again at
      // once, so a replica works through a backlog at its concurrency, not `free` per tick.
      this.backlog = claimed.length === free;
      for (const row of claimed) {
        const key = `${row.customer_id}/${row.source}/${row.resource}`;
        const run = this.run(row).finally(() => {
          this.running.delete(key);
          if (this.backlog) {
            void this.tick();
          }
        });
        this.running.set(key, run);
      }
    } catch (error) {
      this.log.error({ err: error }, 'poll scheduling failed; will retry next tick');
    } finally {
      this.ticking = false;
    }
  }

  /** Customer-resources this replica is polling right now. */
  activeCount(): number {
    return this.running.size;
  }

  private async run(row: ClaimedPoll): Promise<void> {
    // A customer ID from our own table: always a UUID.
    const scope = customerScope(row.customer_id);
    const lease: PollLease = { source: row.source, resource: row.resource, owner: this.owner };
    const target: PollTarget = {
      customerId: row.customer_id,
      source: row.source,
      resource: row.resource,
    };
    const labels = {
      customer_id: target.customerId,
      source: target.source,
      resource: target.resource,
    };
    let leased = true;
    const renew = setInterval(
      () => {
        void this.renew(scope, lease).then((ok) => {
          leased = ok;
        });
      },
      Math.max(1000, (this.leaseSeconds * 1000) / 3),
    );
    let nextInSeconds = row.poll_interval_seconds;
    let lastError: string | null = null;
    try {
      const result = await this.poller.poll(target, () => leased && !this.stopped);
      this.metrics.pollCycles.inc({ ...labels, outcome: result.outcome });
      if (result.records > 0) {
        this.log.info({ ...target, records: result.records }, 'poll pass done');
      }
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
      nextInSeconds = Math.min(row.poll_interval_seconds, 30);
      this.metrics.pollCycles.inc({ ...labels, outcome: 'failed' });
      this.log.error(
        {
          customerId: target.customerId,
          source: target.source,
          resource: target.resource,
          err: lastError,
        },
        'poll pass failed; the checkpoint stays at the last published page',
      );
    } finally {
      clearInterval(renew);
    }
    await this.schedule
      .release(scope, lease, nextInSeconds, lastError)
      .catch((error: unknown) =>
        this.log.error(
          { customerId: target.customerId, err: error },
          'could not release poll lease',
        ),
      );
  }

  private async renew(scope: CustomerScope, lease: PollLease): Promise<boolean> {
    try {
      return await this.schedule.renew(scope, lease, this.leaseSeconds);
    } catch {
      return true; // a failed renewal is not proof of loss; the lease still has time left
    }
  }
}

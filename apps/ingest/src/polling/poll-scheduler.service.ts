import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '@raise-sync/shared/config';
import type { Resource } from '@raise-sync/shared/events';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS, PinoLogger, ReadinessService } from '@raise-sync/shared/service';
import type { SourceName } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';
import { Poller, type PollTarget } from './poller.service';

interface Claimed {
  customer_id: string;
  source: SourceName;
  resource: Resource;
  poll_interval_seconds: number;
}

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
  private readonly tickMs: number;
  private readonly concurrency: number;
  private readonly leaseSeconds: number;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly db: DataSource,
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
      // TypeORM returns [rows, affected] for UPDATE ... RETURNING on PostgreSQL.
      const [claimed] = await this.db.query<[Claimed[], number]>(
        `UPDATE poll_schedule p
            SET lease_owner = $1,
                lease_expires_at = now() + make_interval(secs => $2),
                last_started_at = now()
           FROM (SELECT ps.customer_id, ps.source, ps.resource, cs.poll_interval_seconds
                   FROM poll_schedule ps
                   JOIN customer_sources cs USING (customer_id, source)
                   JOIN customers c ON c.id = ps.customer_id
                  WHERE ps.next_poll_at <= now()
                    AND (ps.lease_expires_at IS NULL OR ps.lease_expires_at < now())
                    AND cs.polling_enabled
                    AND cs.credential_status <> 'failing'
                    AND c.status IN ('onboarding', 'backfilling', 'live')
                  ORDER BY ps.next_poll_at
                  LIMIT $3
                  FOR UPDATE OF ps SKIP LOCKED) due
          WHERE p.customer_id = due.customer_id AND p.source = due.source AND p.resource = due.resource
          RETURNING p.customer_id, p.source, p.resource, due.poll_interval_seconds`,
        [this.owner, this.leaseSeconds, free],
      );
      for (const row of claimed) {
        const key = `${row.customer_id}/${row.source}/${row.resource}`;
        const run = this.run(row).finally(() => this.running.delete(key));
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

  private async run(row: Claimed): Promise<void> {
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
        void this.renew(target).then((ok) => {
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
    await this.db
      .query(
        `UPDATE poll_schedule
            SET lease_owner = NULL, lease_expires_at = NULL, last_finished_at = now(),
                next_poll_at = now() + make_interval(secs => $5), last_error = $6
          WHERE customer_id = $1 AND source = $2 AND resource = $3 AND lease_owner = $4`,
        [target.customerId, target.source, target.resource, this.owner, nextInSeconds, lastError],
      )
      .catch((error: unknown) =>
        this.log.error(
          { customerId: target.customerId, err: error },
          'could not release poll lease',
        ),
      );
  }

  private async renew(target: PollTarget): Promise<boolean> {
    try {
      const [rows] = await this.db.query<[unknown[], number]>(
        `UPDATE poll_schedule SET lease_expires_at = now() + make_interval(secs => $5)
          WHERE customer_id = $1 AND source = $2 AND resource = $3 AND lease_owner = $4
          RETURNING 1`,
        [target.customerId, target.source, target.resource, this.owner, this.leaseSeconds],
      );
      return rows.length > 0;
    } catch {
      return true; // a failed renewal is not proof of loss; the lease still has time left
    }
  }
}

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
import { REPLAY_RUN_STATUSES } from '@raise-sync/shared/state';
import { BackfillScheduler } from '../work/backfill-scheduler.service';
import { ReplayRunner } from './replay-runner.service';
import { ReplayRunRepository } from './replay-run.repository';
import type { BackfillerConfig } from '../backfiller.config';

/** Replay runs one replica works on at once. */
const REPLAY_WORKERS = 2;
/** How long a page in flight may take after a shutdown signal before it is abandoned. */
const SHUTDOWN_GRACE_MS = 5000;

/**
 * Each tick (BACKFILL_TICK_MS) claims replay runs for free slots: pending ones, and running
 * ones whose lease expired (a crashed replica's, resumed from their checkpoint). Runs are leased
 * in PostgreSQL (BACKFILL_LEASE_SECONDS), so any number of replicas can run this side by side.
 * Also keeps the runs-by-status gauge current.
 */
/** How often the scheduler cancels the replays of customers offboarded meanwhile. */
const OFFBOARDED_SWEEP_MS = 5000;

@Injectable()
export class ReplayScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly settings: BackfillerConfig['backfill'];
  private readonly running = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticking = false;
  private lastSweep = 0;

  constructor(
    config: ConfigService<BackfillerConfig, true>,
    private readonly replays: ReplayRunRepository,
    private readonly runner: ReplayRunner,
    private readonly backfills: BackfillScheduler,
    private readonly readiness: ReadinessService,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.settings = config.get('backfill', { infer: true });
    this.log.setContext('replay-scheduler');
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.settings.tickMs);
  }

  /** Stops claiming; runs in progress checkpoint their current page and hand their lease back. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const grace = setTimeout(() => this.abort.abort(new Error('shutting down')), SHUTDOWN_GRACE_MS);
    await Promise.allSettled([...this.running.values()]);
    clearTimeout(grace);
  }

  async tick(): Promise<void> {
    if (this.stopped || this.ticking || this.readiness.isShuttingDown()) {
      return;
    }
    this.ticking = true;
    try {
      if (Date.now() - this.lastSweep >= OFFBOARDED_SWEEP_MS) {
        this.lastSweep = Date.now();
        const cancelled = await this.replays.cancelOfOffboardedAcrossCustomers();
        if (cancelled > 0) {
          this.log.info({ runs: cancelled }, 'replays of offboarded customers cancelled');
        }
      }
      const free = REPLAY_WORKERS - this.running.size;
      // The same owner name as the backfill workers: one identity per replica in lease columns.
      const owner = this.backfills.owner;
      for (const run of await this.replays.claimAcrossCustomers(
        owner,
        this.settings.leaseSeconds,
        free,
      )) {
        const work = this.runner
          .run(run, owner, () => this.stopped, this.abort.signal)
          .then(() => undefined)
          .catch((error: unknown) =>
            this.log.error(
              { customerId: run.customer_id, runId: run.id, err: error },
              'replay run ended unexpectedly; it resumes when its lease expires',
            ),
          )
          .finally(() => this.running.delete(run.id));
        this.running.set(run.id, work);
      }
      const counts = await this.replays.countByStatusAcrossCustomers();
      for (const status of REPLAY_RUN_STATUSES) {
        this.metrics.replayRuns.set({ status }, counts[status] ?? 0);
      }
    } catch (error) {
      this.log.error({ err: error }, 'replay scheduling failed; will retry next tick');
    } finally {
      this.ticking = false;
    }
  }
}

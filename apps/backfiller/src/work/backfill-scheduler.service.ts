import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ReadinessService } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { BackfillRepository } from '../state/backfill.repository';
import { RangeRunner } from './range-runner.service';
import { RunPlanner } from './run-planner.service';
import type { BackfillerConfig } from '../backfiller.config';

/** How long in-flight pages may take to finish after a shutdown signal before they are aborted. */
const SHUTDOWN_GRACE_MS = 5000;

/**
 * Each tick (BACKFILL_TICK_MS): plans pending runs (one at a time per replica, in the
 * background) and claims ranges for free worker slots, up to BACKFILL_WORKERS at once. Any
 * number of replicas run this side by side: runs and ranges are leased in PostgreSQL, so none is
 * worked twice, and a dead replica's leases simply expire and are claimed by the others.
 */
/** How often the scheduler cancels the backfills of customers offboarded meanwhile. */
const OFFBOARDED_SWEEP_MS = 5000;

@Injectable()
export class BackfillScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  readonly owner = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly settings: BackfillerConfig['backfill'];
  private readonly running = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private planning: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticking = false;
  private lastSweep = 0;

  constructor(
    config: ConfigService<BackfillerConfig, true>,
    private readonly backfills: BackfillRepository,
    private readonly planner: RunPlanner,
    private readonly runner: RangeRunner,
    private readonly readiness: ReadinessService,
    private readonly log: PinoLogger,
  ) {
    this.settings = config.get('backfill', { infer: true });
    this.log.setContext('backfill-scheduler');
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.settings.tickMs);
    this.log.info(
      { owner: this.owner, workers: this.settings.workers, tickMs: this.settings.tickMs },
      'backfill scheduler started',
    );
  }

  /**
   * Stops claiming; ranges in progress finish their current page, checkpoint it and hand their
   * lease back (another replica resumes at once). Pages still waiting after a short grace
   * (rate budget, lag gate) are aborted unpublished; their ranges are handed back too.
   */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const grace = setTimeout(() => this.abort.abort(new Error('shutting down')), SHUTDOWN_GRACE_MS);
    await Promise.allSettled([...this.running.values(), this.planning]);
    clearTimeout(grace);
  }

  /** Ranges this replica works on right now. */
  activeCount(): number {
    return this.running.size;
  }

  /** One scheduling step; public so tests could drive it without the timer. */
  async tick(): Promise<void> {
    if (this.stopped || this.ticking || this.readiness.isShuttingDown()) {
      return;
    }
    this.ticking = true;
    try {
      if (Date.now() - this.lastSweep >= OFFBOARDED_SWEEP_MS) {
        this.lastSweep = Date.now();
        const cancelled = await this.backfills.cancelRunsOfOffboardedAcrossCustomers();
        if (cancelled > 0) {
          this.log.info({ runs: cancelled }, 'backfills of offboarded customers cancelled');
        }
      }
      this.planning ??= this.planAll().finally(() => {
        this.planning = null;
      });
      const free = this.settings.workers - this.running.size;
      const claimed = await this.backfills.claimRangesAcrossCustomers(
        this.owner,
        this.settings.leaseSeconds,
        free,
      );
      for (const range of claimed) {
        const work = this.runner
          .run(range, this.owner, () => this.stopped, this.abort.signal)
          .then(() => undefined)
          .catch((error: unknown) =>
            this.log.error(
              { customerId: range.customer_id, rangeId: range.id, err: error },
              'backfill range ended unexpectedly; it resumes when its lease expires',
            ),
          )
          .finally(() => this.running.delete(range.id));
        this.running.set(range.id, work);
      }
    } catch (error) {
      this.log.error({ err: error }, 'backfill scheduling failed; will retry next tick');
    } finally {
      this.ticking = false;
    }
  }

  /** Plans pending runs one after another until none is left (or shutdown). */
  private async planAll(): Promise<void> {
    try {
      while (!this.stopped && (await this.planner.planNext(this.owner, this.abort.signal))) {
        // next pending run
      }
    } catch (error) {
      this.log.error({ err: error }, 'backfill planning failed; will retry next tick');
    }
  }
}

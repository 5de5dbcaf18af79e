import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ReadinessService } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { ReplicaIdentity } from '../runs/replica-identity';
import { ScheduleRepository } from './schedule.repository';
import type { ReconcilerConfig } from '../reconciler.config';

/** How often missing default schedules are created (they only appear with new live customers). */
const ENSURE_EVERY_MS = 30_000;
/** Due schedules turned into runs per tick. */
const DUE_PER_TICK = 50;

/**
 * Every RECONCILER_TICK_MS: creates the default schedules of new live customers (every 30 s) and
 * turns due schedules into pending runs for their closed windows. The runs themselves are
 * executed by the RunRunner of whichever replica claims them.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private stopped = false;
  private lastEnsure = 0;
  private readonly tickMs: number;

  constructor(
    config: ConfigService<ReconcilerConfig, true>,
    private readonly schedules: ScheduleRepository,
    private readonly identity: ReplicaIdentity,
    private readonly readiness: ReadinessService,
    private readonly log: PinoLogger,
  ) {
    this.tickMs = config.get('reconciler', { infer: true }).tickMs;
    this.log.setContext('scheduler');
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    void this.tick();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** One step; public so tests and tools can drive it. */
  async tick(): Promise<void> {
    if (this.stopped || this.ticking || this.readiness.isShuttingDown()) {
      return;
    }
    this.ticking = true;
    try {
      if (Date.now() - this.lastEnsure >= ENSURE_EVERY_MS) {
        const created = await this.schedules.ensureAcrossCustomers();
        this.lastEnsure = Date.now();
        if (created > 0) {
          this.log.info({ created }, 'default reconciliation schedules created');
        }
      }
      const runs = await this.schedules.createDueRunsAcrossCustomers(
        this.identity.owner,
        DUE_PER_TICK,
      );
      for (const run of runs) {
        this.log.info(
          {
            customerId: run.customerId,
            runId: run.runId,
            kind: run.kind,
            due: run.due.toISOString(),
            windowStart: run.windowStart.toISOString(),
            windowEnd: run.windowEnd.toISOString(),
            nextRunAt: run.nextRunAt.toISOString(),
          },
          'scheduled reconciliation run requested',
        );
      }
    } catch (error) {
      this.log.error(
        { err: error instanceof Error ? error.message : String(error) },
        'reconciliation scheduling failed; will retry next tick',
      );
    } finally {
      this.ticking = false;
    }
  }
}

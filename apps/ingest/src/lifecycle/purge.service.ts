import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { CustomerPurgeRepository, customerScope } from '@raise-sync/shared/state';
import { PinoLogger } from 'nestjs-pino';
import type { IngestConfig } from '../ingest.config';

/** How long one pass may keep stepping purges before it yields to the next tick. */
const PASS_BUDGET_MS = 5000;
/** Due purges one pass looks at. */
const PURGES_PER_PASS = 10;

/**
 * The purge job: removes offboarded customers whose grace period is over (or who asked for a
 * purge at once) from every table, in bounded steps (CustomerPurgeRepository.step), on a timer
 * (PURGE_TICK_MS) and whenever an offboarding asks for it (`kick`). Every replica and worker runs
 * it; the purge row's lock keeps two of them off the same step.
 */
@Injectable()
export class PurgeJob implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly tickMs: number;
  private readonly batchRows: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly purges: CustomerPurgeRepository,
    config: ConfigService<IngestConfig, true>,
    private readonly log: PinoLogger,
  ) {
    const ingest = config.get('ingest', { infer: true });
    this.tickMs = ingest.purgeTickMs;
    this.batchRows = ingest.purgeBatchRows;
    this.log.setContext('purge');
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.kick(), this.tickMs);
    this.timer.unref();
    this.kick();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Runs a pass now (or right after the one running). */
  kick(): void {
    if (this.stopped) {
      return;
    }
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((error: unknown) =>
        this.log.error(
          { err: error instanceof Error ? error.message : String(error) },
          'purge pass failed; it is retried on the next tick',
        ),
      )
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async pass(): Promise<void> {
    const until = Date.now() + PASS_BUDGET_MS;
    for (const customerId of await this.purges.dueAcrossCustomers(PURGES_PER_PASS)) {
      // customer_purges.customer_id is a uuid column: always a valid scope.
      const scope = customerScope(customerId);
      let step = await this.purges.step(scope, this.batchRows);
      while (step === 'more' && Date.now() < until && !this.stopped) {
        step = await this.purges.step(scope, this.batchRows);
      }
      if (step === 'done') {
        const purge = await this.purges.get(scope);
        this.log.info(
          { customerId, rowsDeleted: purge?.rowsDeleted, purgeWarehouse: purge?.purgeWarehouse },
          'offboarded customer purged',
        );
      }
      if (step === 'more') {
        this.again = true; // time is up for this pass; the rest right after
        return;
      }
    }
  }
}

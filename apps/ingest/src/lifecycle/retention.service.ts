import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import {
  RETENTION_TABLES,
  RetentionRepository,
  type RetentionTable,
} from '@raise-sync/shared/state';
import { PinoLogger } from 'nestjs-pino';
import type { IngestConfig } from '../ingest.config';

const DAY_SECONDS = 24 * 3600;

/** Rows one tick deleted per table (tables with none left out). */
export type RetentionTick = Partial<Record<RetentionTable, number>>;

/**
 * The retention job (issue 16): on a timer (RETENTION_TICK_MS) it deletes the rows that are
 * older than their table's retention (RetentionRepository has the rules): audit-log rows after
 * AUDIT_RETENTION_DAYS, resolved dead letters after DEAD_LETTER_RETENTION_DAYS, finished runs
 * with their ranges, findings and alerts after RUN_RETENTION_DAYS, and the webhook replay
 * records once their signed timestamp can no longer pass (twice WEBHOOK_TOLERANCE_SECONDS).
 * A tick deletes in batches of RETENTION_BATCH_ROWS, each its own statement and transaction, and
 * at most RETENTION_MAX_BATCHES_PER_TICK batches per table: what is left waits for the next
 * tick, so the pipeline's own writes never wait behind a long delete. Every replica and worker
 * runs it; SKIP LOCKED keeps them on different rows. Counts rows pruned and measures the tables.
 */
@Injectable()
export class RetentionJob implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly tickMs: number;
  private readonly batchRows: number;
  private readonly maxBatches: number;
  private readonly ageSeconds: Record<RetentionTable, number>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionTick> | null = null;
  private stopped = false;

  constructor(
    private readonly repository: RetentionRepository,
    config: ConfigService<IngestConfig, true>,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    const ingest = config.get('ingest', { infer: true });
    const { retention } = ingest;
    this.tickMs = retention.tickMs;
    this.batchRows = retention.batchRows;
    this.maxBatches = retention.maxBatchesPerTick;
    const runs = retention.runDays * DAY_SECONDS;
    this.ageSeconds = {
      audit_log: retention.auditDays * DAY_SECONDS,
      dead_letters: retention.deadLetterDays * DAY_SECONDS,
      // Replay records matter only while a signed timestamp is fresh; older ones are refused anyway.
      webhook_deliveries: ingest.webhookToleranceSeconds * 2,
      backfill_jobs: runs,
      backfill_runs: runs,
      replay_runs: runs,
      reconciliation_discrepancies: runs,
      reconciliation_alerts: runs,
      reconciliation_runs: runs,
    };
    this.log.setContext('retention');
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /**
   * Runs one tick now, or answers the one running. Never rejects: a failed tick is logged and
   * the next one starts over (what it deleted stays deleted).
   */
  tick(): Promise<RetentionTick> {
    if (this.running) {
      return this.running;
    }
    if (this.stopped) {
      return Promise.resolve({});
    }
    this.running = this.prune()
      .catch((error: unknown): RetentionTick => {
        this.log.error(
          { err: error instanceof Error ? error.message : String(error) },
          'retention tick failed; it is retried on the next tick',
        );
        return {};
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async prune(): Promise<RetentionTick> {
    const started = Date.now();
    const pruned: RetentionTick = {};
    for (const table of RETENTION_TABLES) {
      for (let batch = 0; batch < this.maxBatches && !this.stopped; batch += 1) {
        const deleted = await this.repository.pruneBatchAcrossCustomers(
          table,
          this.ageSeconds[table],
          this.batchRows,
        );
        if (deleted > 0) {
          pruned[table] = (pruned[table] ?? 0) + deleted;
          this.metrics.retentionPruned.inc({ table }, deleted);
        }
        if (deleted < this.batchRows) {
          break; // nothing older is left in this table
        }
      }
    }
    if (!this.stopped) {
      for (const [table, bytes] of await this.repository.tableBytesAcrossCustomers()) {
        this.metrics.tableBytes.set({ table }, bytes);
      }
    }
    if (Object.keys(pruned).length > 0) {
      this.log.info(
        { pruned, durationMs: Date.now() - started, batchRows: this.batchRows },
        'retention pruned old rows',
      );
    }
    return pruned;
  }
}

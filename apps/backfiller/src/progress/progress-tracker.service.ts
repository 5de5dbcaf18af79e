import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { BackfillRepository } from '../state/backfill.repository';
import { averageRate, etaSeconds, RateWindow } from './progress-math';
import { RANGE_STATUSES } from './run-view';

const REFRESH_MS = 2000;

/**
 * Backfill progress as metrics, refreshed from the state store every 2 s so that every replica
 * exports the whole picture (not only its own ranges): per customer and resource, for the newest
 * run, records done and total, ranges by status, the rate over the last ~30 s and the ETA.
 * The same rate windows serve the admin API.
 */
@Injectable()
export class ProgressTracker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly windows = new Map<string, RateWindow>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly backfills: BackfillRepository,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('backfill-progress');
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.refresh().catch((error: unknown) =>
        this.log.warn(
          { err: error instanceof Error ? error.message : String(error) },
          'backfill progress refresh failed',
        ),
      );
    }, REFRESH_MS);
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /**
   * Records per second of a run: over the sliding window while it runs (sampled by this
   * process), else the average from its start to now or to its end; null when unknown.
   */
  rateOf(run: {
    id: string;
    status: string;
    recordsDone: number;
    startedAt: Date | null;
    finishedAt: Date | null;
  }): number | null {
    if (run.status === 'running') {
      const windowed = this.windows.get(run.id)?.rate();
      if (windowed !== undefined && windowed !== null) {
        return windowed;
      }
    }
    const endMs = run.finishedAt?.getTime() ?? Date.now();
    return averageRate(run.recordsDone, run.startedAt?.getTime() ?? null, endMs);
  }

  async refresh(): Promise<void> {
    const rows = await this.backfills.newestRunsAcrossCustomers();
    const now = Date.now();
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.id);
      const labels = { customer_id: row.customer_id, resource: row.resource };
      const done = Number(row.records_done);
      const total = row.records_total === null ? null : Number(row.records_total);
      let window = this.windows.get(row.id);
      if (!window) {
        window = new RateWindow();
        this.windows.set(row.id, window);
      }
      window.add({ atMs: now, recordsDone: done });
      const rate = this.rateOf({
        id: row.id,
        status: row.status,
        recordsDone: done,
        startedAt: row.started_at,
        finishedAt: row.finished_at,
      });
      const active = row.status === 'running' || row.status === 'pending';
      this.metrics.backfillProgress.set({ ...labels, measure: 'done' }, done);
      this.metrics.backfillProgress.set({ ...labels, measure: 'total' }, total ?? 0);
      this.metrics.backfillRate.set(labels, active ? (rate ?? 0) : 0);
      this.metrics.backfillEta.set(
        labels,
        active ? etaSeconds(done, total, rate) : row.status === 'done' ? 0 : -1,
      );
      for (const status of RANGE_STATUSES) {
        this.metrics.backfillRanges.set({ ...labels, status }, Number(row[status]));
      }
    }
    for (const id of this.windows.keys()) {
      if (!seen.has(id)) {
        this.windows.delete(id);
      }
    }
  }
}

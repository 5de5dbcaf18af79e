import type { ConfigService } from '@nestjs/config';
import {
  createMetricsRegistry,
  createPipelineMetrics,
  type PipelineMetrics,
} from '@raise-sync/shared/observability';
import type { RetentionRepository, RetentionTable } from '@raise-sync/shared/state';
import type { PinoLogger } from 'nestjs-pino';
import type { IngestConfig } from '../ingest.config';
import { RetentionJob } from './retention.service';

const DAY = 86_400;

/** A job over a repository holding `rows` prunable rows per table, batches of 10, at most 3 per tick. */
function jobOver(rows: Partial<Record<RetentionTable, number>>, failOn?: RetentionTable) {
  const left = { ...rows };
  const calls: Array<{ table: RetentionTable; ageSeconds: number; limit: number }> = [];
  const repository = {
    pruneBatchAcrossCustomers: (table: RetentionTable, ageSeconds: number, limit: number) => {
      calls.push({ table, ageSeconds, limit });
      if (table === failOn) {
        return Promise.reject(new Error('connection lost'));
      }
      const deleted = Math.min(limit, left[table] ?? 0);
      left[table] = (left[table] ?? 0) - deleted;
      return Promise.resolve(deleted);
    },
    tableBytesAcrossCustomers: () =>
      Promise.resolve(new Map<RetentionTable, number>([['audit_log', 8192]])),
  } as unknown as RetentionRepository;
  const config = {
    get: () => ({
      webhookToleranceSeconds: 300,
      retention: {
        tickMs: 3_600_000,
        batchRows: 10,
        maxBatchesPerTick: 3,
        auditDays: 365,
        deadLetterDays: 30,
        runDays: 90,
      },
    }),
  } as unknown as ConfigService<IngestConfig, true>;
  const registry = createMetricsRegistry('ingest');
  const metrics: PipelineMetrics = createPipelineMetrics(registry, 'ingest');
  const errors: unknown[] = [];
  const log = {
    setContext: () => undefined,
    info: () => undefined,
    error: (fields: unknown) => errors.push(fields),
  } as unknown as PinoLogger;
  const job = new RetentionJob(repository, config, metrics, log);
  return { job, calls, left, registry, errors };
}

const metric = async (
  registry: ReturnType<typeof createMetricsRegistry>,
  name: string,
  table: string,
): Promise<number> => {
  const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.find((v) => v.labels['table'] === table)?.value ?? 0;
};

describe('RetentionJob', () => {
  it('deletes in batches of RETENTION_BATCH_ROWS, at most RETENTION_MAX_BATCHES_PER_TICK per table and tick', async () => {
    const { job, calls, left } = jobOver({ audit_log: 45, dead_letters: 12, replay_runs: 3 });

    expect(await job.tick()).toEqual({ audit_log: 30, dead_letters: 12, replay_runs: 3 });
    expect(left).toMatchObject({ audit_log: 15, dead_letters: 0, replay_runs: 0 });
    expect(calls.filter((c) => c.table === 'audit_log')).toHaveLength(3); // bounded: 15 wait
    expect(calls.filter((c) => c.table === 'dead_letters')).toHaveLength(2); // 10, then 2 < 10: done
    expect(calls.every((c) => c.limit === 10)).toBe(true);

    expect(await job.tick()).toEqual({ audit_log: 15 });
    expect(await job.tick()).toEqual({});
  });

  it("prunes every table, a run's children before the run, each with its own retention", async () => {
    const { job, calls } = jobOver({});
    await job.tick();
    expect(calls.map((c) => [c.table, c.ageSeconds])).toEqual([
      ['audit_log', 365 * DAY],
      ['dead_letters', 30 * DAY],
      ['webhook_deliveries', 600], // twice the signature tolerance
      ['backfill_jobs', 90 * DAY],
      ['backfill_runs', 90 * DAY],
      ['replay_runs', 90 * DAY],
      ['reconciliation_discrepancies', 90 * DAY],
      ['reconciliation_alerts', 90 * DAY],
      ['reconciliation_runs', 90 * DAY],
    ]);
  });

  it('counts the rows pruned per table and measures the tables', async () => {
    const { job, registry } = jobOver({ audit_log: 25, webhook_deliveries: 4 });
    await job.tick();
    expect(await metric(registry, 'raise_sync_retention_pruned_total', 'audit_log')).toBe(25);
    expect(await metric(registry, 'raise_sync_retention_pruned_total', 'webhook_deliveries')).toBe(
      4,
    );
    expect(await metric(registry, 'raise_sync_table_bytes', 'audit_log')).toBe(8192);
  });

  it('a failing tick is logged and does not reject; one tick runs at a time', async () => {
    const { job, errors } = jobOver({ audit_log: 5 }, 'dead_letters');
    const [first, second] = [job.tick(), job.tick()];
    expect(first).toBe(second);
    expect(await first).toEqual({});
    expect(errors).toHaveLength(1);
  });

  it('stops between batches once the module is destroyed', async () => {
    const { job, calls } = jobOver({ audit_log: 1000 });
    await job.onModuleDestroy();
    await job.tick();
    expect(calls).toEqual([]);
  });
});

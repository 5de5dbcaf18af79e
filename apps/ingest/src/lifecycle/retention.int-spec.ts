import type { ConfigService } from '@nestjs/config';
import { createMetricsRegistry, createPipelineMetrics } from '@raise-sync/shared/observability';
import { customerScope, RetentionRepository } from '@raise-sync/shared/state';
import { useTestStack } from '@raise-sync/testing';
import type { PinoLogger } from 'nestjs-pino';
import type { DataSource } from 'typeorm';
import type { IngestConfig } from '../ingest.config';
import { WebhookDeliveryRepository } from '../webhooks/webhook-delivery.repository';
import { RetentionJob, type RetentionTick } from './retention.service';

const BATCH = 4;
const MAX_BATCHES = 2;
const PER_TICK = BATCH * MAX_BATCHES;

const quiet = {
  setContext: () => undefined,
  info: () => undefined,
  error: (fields: unknown) => {
    throw new Error(`retention tick failed: ${JSON.stringify(fields)}`);
  },
} as unknown as PinoLogger;

/** The ingest's retention job on the test database: batches of 4, at most 2 per table and tick. */
function retentionJob(db: DataSource): RetentionJob {
  const config = {
    get: () => ({
      webhookToleranceSeconds: 300,
      retention: {
        tickMs: 3_600_000,
        batchRows: BATCH,
        maxBatchesPerTick: MAX_BATCHES,
        auditDays: 365,
        deadLetterDays: 30,
        runDays: 90,
      },
    }),
  } as unknown as ConfigService<IngestConfig, true>;
  const metrics = createPipelineMetrics(createMetricsRegistry('ingest'), 'ingest');
  return new RetentionJob(new RetentionRepository(db), config, metrics, quiet);
}

/** Ticks until one prunes nothing; every tick stays within its bound per table. */
async function tickUntilDone(job: RetentionJob): Promise<RetentionTick[]> {
  const ticks: RetentionTick[] = [];
  for (let i = 0; i < 50; i += 1) {
    const tick = await job.tick();
    for (const n of Object.values(tick)) {
      expect(n).toBeLessThanOrEqual(PER_TICK);
    }
    if (Object.keys(tick).length === 0) {
      return ticks;
    }
    ticks.push(tick);
  }
  throw new Error('retention never finished');
}

describe('retention job on real PostgreSQL', () => {
  const stack = useTestStack();
  const q = <T = unknown[]>(sql: string, params: unknown[] = []): Promise<T> =>
    stack.dataSource.query(sql, params);
  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    Number((await q<Array<{ n: string }>>(`SELECT count(*) AS n FROM (${sql}) x`, params))[0]?.n);

  async function newCustomer(name: string): Promise<string> {
    const [row] = await q<Array<{ id: string }>>(
      `INSERT INTO customers (name, status) VALUES ($1, 'live') RETURNING id`,
      [name],
    );
    return row?.id ?? '';
  }

  /** A finished run of `table` requested and finished `daysAgo` days ago; answers its ID. */
  async function run(
    table: 'backfill_runs' | 'replay_runs' | 'reconciliation_runs',
    customerId: string,
    daysAgo: number,
    fields: { resource?: string; kind?: string; status?: string } = {},
  ): Promise<string> {
    const at = `now() - make_interval(days => $2)`;
    const sql = {
      backfill_runs: `INSERT INTO backfill_runs (customer_id, source, resource, trigger, status, requested_at, finished_at)
        VALUES ($1, 'raise', $3, 'admin', $4, ${at}, ${at}) RETURNING id`,
      replay_runs: `INSERT INTO replay_runs (customer_id, topic, source, resource, bounds, status, trigger, requested_at, finished_at)
        VALUES ($1, 't', 'raise', $3, '[]', $4, 'admin', ${at}, ${at}) RETURNING id`,
      reconciliation_runs: `INSERT INTO reconciliation_runs (customer_id, kind, window_start, window_end, status, started_at, requested_at, finished_at)
        VALUES ($1, $3, ${at} - interval '1 day', ${at}, $4, ${at}, ${at}, ${at}) RETURNING id`,
    }[table];
    const status = fields.status ?? 'done';
    const [row] = await q<Array<{ id: string }>>(sql, [
      customerId,
      daysAgo,
      table === 'reconciliation_runs' ? (fields.kind ?? 'window') : (fields.resource ?? 'gift'),
      status,
    ]);
    return row?.id ?? '';
  }

  it('removes old rows in bounded batches while writes go on, and nothing younger', async () => {
    const a = await newCustomer('Old Shelter');
    const b = await newCustomer('Young Shelter');
    const job = retentionJob(stack.dataSource);

    // Audit: 21 rows past 365 days, 5 younger (one a day short of it).
    await q(
      `INSERT INTO audit_log (customer_id, resource, source_id, action, at)
       SELECT $1, 'gift', g::text, 'delivered', now() - interval '400 days' FROM generate_series(1, 21) g`,
      [a],
    );
    await q(
      `INSERT INTO audit_log (customer_id, resource, source_id, action, at)
       SELECT $1, 'gift', g::text, 'delivered', now() - make_interval(days => 364 - g) FROM generate_series(0, 4) g`,
      [b],
    );
    // Dead letters: resolved 40 days ago (retried, discarded: go, with their payload), resolved
    // 5 days ago (stay), open for 200 days (stay: never pruned while open).
    const letter = `INSERT INTO dead_letters (customer_id, topic, partition, "offset", reason, error_message,
        attempts, first_failed_at, status, resolved_at, payload)
      SELECT $1, 'dl', 0, $2 + g, 'record_rejected', '422', 1, now() - interval '200 days', $3,
             now() - make_interval(days => $4::int), '\\x00ff'::bytea
        FROM generate_series(1, $5::int) g`;
    await q(letter, [a, 0, 'retried', 40, 6]);
    await q(letter, [a, 100, 'discarded', 40, 5]);
    await q(letter, [b, 200, 'retried', 5, 2]);
    await q(letter, [a, 300, 'open', null, 3]); // resolved_at NULL

    // Backfill runs of (raise, gift): three old finished ones with ranges, and one old still
    // running; the newest finished one stays. (raise, donor): one old run, the newest: stays.
    const oldest = await run('backfill_runs', a, 300);
    const older = await run('backfill_runs', a, 200, { status: 'failed' });
    const newestGift = await run('backfill_runs', a, 120, { status: 'cancelled' });
    const running = await run('backfill_runs', a, 400, { status: 'running' });
    const onlyDonor = await run('backfill_runs', a, 500, { resource: 'donor' });
    const young = await run('backfill_runs', b, 10);
    const youngOlder = await run('backfill_runs', b, 20);
    for (const runId of [oldest, older, newestGift, running, young, youngOlder]) {
      await q(
        `INSERT INTO backfill_jobs (customer_id, source, resource, range_start, range_end, status, run_id)
         SELECT $1, 'raise', 'gift', g * 100, g * 100 + 100, 'done', $2 FROM generate_series(0, 4) g`,
        [runId === young || runId === youngOlder ? b : a, runId],
      );
    }

    // Replay runs: two old finished ones of (raise, gift); the newer stays.
    const oldReplay = await run('replay_runs', a, 150);
    const newestReplay = await run('replay_runs', a, 100);

    // Reconciliation, kind window: w1 (old, 9 findings, an alert), w2 (old, a deleted_in_source
    // finding and another), w3 (old, the newest finished). Kind deletion: d1 old, the schedule's
    // last run; d2 old, the newest.
    const w1 = await run('reconciliation_runs', a, 300);
    const w2 = await run('reconciliation_runs', a, 200);
    const w3 = await run('reconciliation_runs', a, 100);
    const d1 = await run('reconciliation_runs', a, 300, { kind: 'deletion' });
    const d2 = await run('reconciliation_runs', a, 250, { kind: 'deletion' });
    const finding = `INSERT INTO reconciliation_discrepancies (run_id, customer_id, resource, source_id, state, actionable, details)
      SELECT $1, $2, 'gift', g::text, $3, true, '{"eventId": "e1"}'::jsonb FROM generate_series(1, $4::int) g`;
    await q(finding, [w1, a, 'missing_in_destination', 9]);
    await q(finding, [w2, a, 'deleted_in_source', 1]);
    await q(finding, [w2, a, 'missing_in_destination', 1]);
    await q(finding, [w3, a, 'missing_in_destination', 2]);
    await q(
      `INSERT INTO reconciliation_alerts (run_id, customer_id, severity, title) VALUES ($1, $2, 'warning', 'gaps')`,
      [w1, a],
    );
    await q(
      `INSERT INTO reconciliation_schedules (customer_id, kind, cadence, next_run_at, last_run_id)
       VALUES ($1, 'deletion', 'daily', now() + interval '1 day', $2)`,
      [a, d1],
    );

    // The pipeline keeps writing while the job prunes: young audit rows arrive between ticks.
    let writing = true;
    const writer = (async () => {
      let written = 0;
      while (writing) {
        await q(
          `INSERT INTO audit_log (customer_id, resource, source_id, action) VALUES ($1, 'gift', 'live', 'delivered')`,
          [b],
        );
        written += 1;
        await new Promise((r) => setTimeout(r, 5));
      }
      return written;
    })();
    const ticks = await tickUntilDone(job);
    writing = false;
    const written = await writer;

    // Bounded: 21 old audit rows took three ticks (8, 8, 5), each tick two statements of 4.
    expect(ticks.map((t) => t.audit_log ?? 0).filter((n) => n > 0)).toEqual([8, 8, 5]);
    const total = (table: keyof RetentionTick): number =>
      ticks.reduce((sum, t) => sum + (t[table] ?? 0), 0);
    expect({
      audit_log: total('audit_log'),
      dead_letters: total('dead_letters'),
      backfill_jobs: total('backfill_jobs'),
      backfill_runs: total('backfill_runs'),
      replay_runs: total('replay_runs'),
      reconciliation_discrepancies: total('reconciliation_discrepancies'),
      reconciliation_alerts: total('reconciliation_alerts'),
      reconciliation_runs: total('reconciliation_runs'),
    }).toEqual({
      audit_log: 21,
      dead_letters: 11,
      backfill_jobs: 10,
      backfill_runs: 2,
      replay_runs: 1,
      reconciliation_discrepancies: 10,
      reconciliation_alerts: 1,
      reconciliation_runs: 1,
    });

    // Nothing younger went, nor anything the rules keep.
    expect(await count(`SELECT 1 FROM audit_log WHERE customer_id = $1`, [a])).toBe(0);
    expect(await count(`SELECT 1 FROM audit_log WHERE customer_id = $1`, [b])).toBe(5 + written);
    expect(
      await q(
        `SELECT status, count(*)::int AS n FROM dead_letters GROUP BY status ORDER BY status`,
      ),
    ).toEqual([
      { status: 'open', n: 3 },
      { status: 'retried', n: 2 },
    ]);
    const ids = async (table: string): Promise<string[]> =>
      (await q<Array<{ id: string }>>(`SELECT id FROM ${table} ORDER BY id`)).map((r) => r.id);
    expect(await ids('backfill_runs')).toEqual(
      [newestGift, running, onlyDonor, young, youngOlder].sort(),
    );
    expect(
      await count(`SELECT 1 FROM backfill_jobs WHERE run_id = ANY($1::uuid[])`, [
        [newestGift, running, young, youngOlder],
      ]),
    ).toBe(20);
    expect(await ids('replay_runs')).toEqual([newestReplay]);
    expect(oldReplay).not.toBe(newestReplay);
    // w1 went with its findings and alert; w2 stays for its deleted_in_source finding (its other
    // finding went); w3 is the newest of its kind; d1 is the schedule's last run, d2 the newest.
    expect(await ids('reconciliation_runs')).toEqual([w2, w3, d1, d2].sort());
    expect(
      await q(
        `SELECT run_id, state FROM reconciliation_discrepancies WHERE run_id = $1 ORDER BY state`,
        [w2],
      ),
    ).toEqual([{ run_id: w2, state: 'deleted_in_source' }]);
    expect(await count(`SELECT 1 FROM reconciliation_discrepancies WHERE run_id = $1`, [w3])).toBe(
      2,
    );
    expect(await count(`SELECT 1 FROM reconciliation_alerts`)).toBe(0);
  });

  it("keeps the console's last webhook after the replay records are pruned", async () => {
    const c = await newCustomer('Webhook Shelter');
    const d = await newCustomer('Other Shelter');
    const deliveries = new WebhookDeliveryRepository(stack.dataSource);
    const last = async (customerId: string) =>
      q<Array<{ delivery_id: string | null; fresh: boolean }>>(
        `SELECT delivery_id, received_at > now() - interval '1 hour' AS fresh
           FROM webhook_last_deliveries WHERE customer_id = $1 AND source = 'raise'`,
        [customerId],
      );

    expect(await deliveries.claim(customerScope(c), 'sig-1', 'dlv-1')).toEqual([{ '?column?': 1 }]);
    expect(await deliveries.claim(customerScope(c), 'sig-1', 'dlv-1')).toEqual([]); // a replay
    expect(await last(c)).toEqual([{ delivery_id: 'dlv-1', fresh: true }]);
    const many = await deliveries.claimAcrossCustomers([
      { scope: customerScope(c), signatureHash: 'sig-2', deliveryId: 'dlv-2' },
      { scope: customerScope(d), signatureHash: 'sig-3', deliveryId: 'dlv-3' },
      { scope: customerScope(c), signatureHash: 'sig-1', deliveryId: 'dlv-1' },
    ]);
    expect(many.map((r) => r.signature_hash).sort()).toEqual(['sig-2', 'sig-3']);
    expect(await last(c)).toEqual([{ delivery_id: 'dlv-2', fresh: true }]);
    expect(await last(d)).toEqual([{ delivery_id: 'dlv-3', fresh: true }]);

    // Eleven minutes later the replay window (twice the 300 s tolerance) is over for all three.
    await q(
      `UPDATE webhook_deliveries SET received_at = received_at - interval '11 minutes' WHERE customer_id = ANY($1::uuid[])`,
      [[c, d]],
    );
    const tick = await retentionJob(stack.dataSource).tick();
    expect(tick.webhook_deliveries).toBeGreaterThanOrEqual(3);
    expect(
      await count(`SELECT 1 FROM webhook_deliveries WHERE customer_id = ANY($1::uuid[])`, [[c, d]]),
    ).toBe(0);
    expect(await last(c)).toEqual([{ delivery_id: 'dlv-2', fresh: true }]);
    expect(await last(d)).toEqual([{ delivery_id: 'dlv-3', fresh: true }]);

    // The record goes with its customer (cascade), as the customer purge removes the row.
    await q(`DELETE FROM customers WHERE id = $1`, [d]);
    expect(await last(d)).toEqual([]);
  });
});

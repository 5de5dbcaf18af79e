import type { DataSource } from 'typeorm';
import type { RateSpec, SharedBudgetStore } from './rate-budget';
import type { SourceApi } from './source-errors';
import type { CustomerScope } from '@raise-sync/shared/state';

/**
 * The customer-wide source budget in PostgreSQL: one token bucket row per customer and API,
 * refilled by elapsed time and debited by one statement per request, so every process calling a
 * customer's source (ingest's poller, backfiller and reconciler replicas) shares one rate.
 * Tokens may go negative: the caller reserved its slot and waits out the debt.
 */
export class PgSharedBudgetStore implements SharedBudgetStore {
  constructor(private readonly db: DataSource) {}

  async reserve({ customerId }: CustomerScope, api: SourceApi, spec: RateSpec): Promise<number> {
    const rows = await this.db.query<Array<{ tokens: number }>>(
      `INSERT INTO source_rate_buckets AS b (customer_id, api, tokens, refreshed_at)
       VALUES ($1, $2, $3::float8 - 1, clock_timestamp())
       ON CONFLICT (customer_id, api) DO UPDATE
         SET tokens = LEAST($3::float8, b.tokens + GREATEST(0,
               EXTRACT(EPOCH FROM clock_timestamp() - b.refreshed_at)) * $4::float8) - 1,
             refreshed_at = clock_timestamp()
       RETURNING tokens`,
      [customerId, api, spec.burst, spec.requestsPerSecond],
    );
    const tokens = Number(rows[0]?.tokens ?? 0);
    return tokens >= 0 ? 0 : Math.ceil((-tokens * 1000) / spec.requestsPerSecond);
  }

  async pause(
    { customerId }: CustomerScope,
    api: SourceApi,
    spec: RateSpec,
    untilMs: number,
  ): Promise<void> {
    const debt = (Math.max(0, untilMs - Date.now()) / 1000) * spec.requestsPerSecond;
    await this.db.query(
      `INSERT INTO source_rate_buckets AS b (customer_id, api, tokens, refreshed_at)
       VALUES ($1, $2, -$3::float8, clock_timestamp())
       ON CONFLICT (customer_id, api) DO UPDATE
         SET tokens = LEAST(-$3::float8, LEAST($4::float8, b.tokens + GREATEST(0,
               EXTRACT(EPOCH FROM clock_timestamp() - b.refreshed_at)) * $5::float8)),
             refreshed_at = clock_timestamp()`,
      [customerId, api, debt, spec.burst, spec.requestsPerSecond],
    );
  }
}

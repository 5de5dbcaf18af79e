/**
 * The floor of the polling benchmark, run as its own process: the least work an idle poll of one
 * customer-resource takes, with nothing of ingest's framework around it. Every POLL_TICK_MS it
 * leases due rows of `poll_schedule` (the same lease statement as ingest), and for each one reads
 * the checkpoint, asks the source for records modified after it (the same Raise/VOMO client
 * request, one page), and releases the row with its next due time. One pg connection, tokens
 * known up front (no credential read or decryption), no metrics, no logs.
 *
 * Env: DATABASE_URL, RAISE_API_URL, VOMO_API_URL, POLL_TICK_MS, POLL_CONCURRENCY, and TOKENS, a
 * JSON object `{ "<customer id>": { "raise": "...", "vomo": "..." } }`. Prints `polls <n>` on
 * stdout after every finished pass.
 */
import { Pool } from 'pg';
import { RaiseClient, RateBudgets, SourceHttpClient, VomoClient } from '@raise-sync/sources';
import type { RaiseResource } from '@raise-sync/sources';
import { env } from './util';

interface Due {
  customer_id: string;
  source: 'raise' | 'vomo';
  resource: string;
  poll_interval_seconds: number;
}

const OWNER = `floor-${process.pid}`;
const tickMs = Number(env('POLL_TICK_MS'));
const concurrency = Number(env('POLL_CONCURRENCY'));
const tokens = JSON.parse(env('TOKENS')) as Record<string, { raise: string; vomo: string }>;
const http = new SourceHttpClient({
  budgets: new RateBudgets({
    rates: {
      raise: { requestsPerSecond: 100_000, burst: 100_000 },
      vomo: { requestsPerSecond: 100_000, burst: 100_000 },
    },
  }),
});
const raise = new RaiseClient({ baseUrl: env('RAISE_API_URL'), http });
const vomo = new VomoClient({ baseUrl: env('VOMO_API_URL'), http });

function main(): void {
  // One connection; the pool only queues a pass's statement behind a running claim.
  const db = new Pool({ connectionString: env('DATABASE_URL'), max: 1 });
  let running = 0;
  let polls = 0;
  let ticking = false;
  const pass = async (row: Due): Promise<void> => {
    const token = tokens[row.customer_id]?.[row.source] ?? '';
    const creds = { customerId: row.customer_id, token };
    const checkpoint = await db.query<{ at: Date; id: string }>(
      `SELECT last_processed_at AS at, last_processed_id AS id FROM checkpoints
        WHERE customer_id = $1 AND resource = $2 AND direction = 'inbound'`,
      [row.customer_id, row.resource],
    );
    const after = checkpoint.rows[0] ?? null;
    const pages =
      row.source === 'raise'
        ? raise.streamModifiedSince(creds, row.resource as RaiseResource, {
            after,
            pageSize: 500,
            includeDetails: row.resource === 'gift',
          })
        : vomo.streamUpdatedSince(creds, { after });
    for await (const page of pages) {
      void page; // idle: the source has nothing after the checkpoint
    }
    await db.query(
      `UPDATE poll_schedule
          SET lease_owner = NULL, lease_expires_at = NULL, last_finished_at = now(),
              next_poll_at = now() + make_interval(secs => $4), last_error = NULL
        WHERE customer_id = $1 AND source = $2 AND resource = $3`,
      [row.customer_id, row.source, row.resource, row.poll_interval_seconds],
    );
    polls += 1;
    process.stdout.write(`polls ${polls}\n`);
  };
  const tick = async (): Promise<void> => {
    if (ticking || running >= concurrency) {
      return;
    }
    ticking = true;
    try {
      const free = concurrency - running;
      const claimed = await db.query<Due>(
        `UPDATE poll_schedule p
            SET lease_owner = $1, lease_expires_at = now() + interval '60 seconds',
                last_started_at = now()
           FROM (SELECT ps.customer_id, ps.source, ps.resource, cs.poll_interval_seconds
                   FROM poll_schedule ps
                   JOIN customer_sources cs USING (customer_id, source)
                   JOIN customers c ON c.id = ps.customer_id
                  WHERE ps.next_poll_at <= now()
                    AND (ps.lease_expires_at IS NULL OR ps.lease_expires_at < now())
                    AND cs.polling_enabled AND cs.credential_status <> 'failing'
                    AND c.status IN ('onboarding', 'backfilling', 'live')
                  ORDER BY ps.next_poll_at LIMIT $2
                  FOR UPDATE OF ps SKIP LOCKED) due
          WHERE p.customer_id = due.customer_id AND p.source = due.source
            AND p.resource = due.resource
      RETURNING p.customer_id, p.source, p.resource, due.poll_interval_seconds`,
        [OWNER, free],
      );
      for (const row of claimed.rows) {
        running += 1;
        void pass(row)
          .catch((error: unknown) => process.stderr.write(`floor poll failed: ${String(error)}\n`))
          .finally(() => {
            running -= 1;
            // A full claim may have left more due rows: take them now, not a tick later.
            if (claimed.rows.length === free) {
              void tick();
            }
          });
      }
    } finally {
      ticking = false;
    }
  };
  const timer = setInterval(() => void tick(), tickMs);
  process.once('SIGTERM', () => {
    clearInterval(timer);
    // Passes in flight end first; an exit mid-statement would only add noise to the log.
    const drained = setInterval(() => {
      if (running === 0 && !ticking) {
        clearInterval(drained);
        void db.end().finally(() => process.exit(0));
      }
    }, 20);
  });
}

main();

/** Anything that runs a parameterised query: a DataSource, a transaction's EntityManager, a stub. */
export interface LaneDepthReader {
  query<T = unknown>(sql: string, parameters?: unknown[]): Promise<T>;
}

export interface LaneDepthQuery {
  /** Always one customer's lanes: push-back is per customer, never a global depth. */
  customerId: string;
  /** Counting stops after `atMost + 1` entries: the answer is min(depth, atMost + 1). */
  atMost: number;
}

/**
 * How many events wait in one customer's destination lanes: retry entries the submitter parked
 * (`parked_at` set) for any of the customer's destinations, counted up to `atMost + 1`. The
 * submitter owns retry_entries and is the only writer; this is the one read the bulk
 * publishers (backfill, reconciliation republish, replay) make of it, for their push-back.
 *
 * The customer's destinations come from `uq_destinations_name (customer_id, name)` and each
 * destination's lane from the partial index `ix_retry_entries_lane (destination_id, parked_seq)
 * WHERE parked_at IS NOT NULL`, as an index-only scan bounded by the LIMIT: about 2 ms for a
 * customer with 300,000 waiting events and a limit of 5,000, 0.2 ms for a shallow lane
 * (`lane-depth.int-spec.ts` checks the plan). Filtering retry_entries by its own customer_id
 * column instead would scan the table (no index leads with it).
 */
export async function customerLaneDepth(
  db: LaneDepthReader,
  query: LaneDepthQuery,
): Promise<number> {
  const rows = await db.query<Array<{ n: number | string }>>(LANE_DEPTH_SQL, [
    query.customerId,
    Math.max(0, Math.floor(query.atMost)) + 1,
  ]);
  return Number(rows[0]?.n ?? 0);
}

/** $1 = customer ID, $2 = the most entries to count. Exported for the plan check. */
export const LANE_DEPTH_SQL = `SELECT count(*)::int AS n FROM (
  SELECT 1 FROM retry_entries r
   WHERE r.destination_id IN (SELECT d.id FROM destinations d WHERE d.customer_id = $1)
     AND r.parked_at IS NOT NULL
   LIMIT $2) lane`;

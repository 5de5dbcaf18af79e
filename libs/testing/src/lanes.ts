/** What runs a query: a TypeORM DataSource or EntityManager. */
interface Queryable {
  query<T = unknown>(sql: string, parameters?: unknown[]): Promise<T>;
}

/**
 * Parks `count` events in a destination's lane the way the submitter stores them (retry_entries
 * with `parked_at` and `parked_seq`, reason slow_destination; no payload: nothing drains them
 * unless a submitter runs), for tests of what a deep lane does to bulk work. Event IDs are
 * `<eventPrefix><n>`; existing ones are left as they are.
 */
export async function parkLaneEvents(
  db: Queryable,
  lane: { destinationId: string; customerId: string; count: number; eventPrefix?: string },
): Promise<void> {
  await db.query(
    `INSERT INTO retry_entries (destination_id, customer_id, event_id, resource, source_id, attempt,
                                due_at, last_error, first_failed_at, parked_at, parked_seq, park_reason)
     SELECT $1, $2, $4 || g, 'gift', g::text, 0, now(), 'slow', now(), now(),
            nextval('retry_entries_parked_seq'), 'slow_destination'
       FROM generate_series(1, $3::int) g
     ON CONFLICT DO NOTHING`,
    [lane.destinationId, lane.customerId, lane.count, lane.eventPrefix ?? 'lane-'],
  );
}

import { Injectable } from '@nestjs/common';
import type { CustomerScope } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';
import type { SyncState } from './gap-classifier';
import { idRangeSql } from './id-merge';

interface SyncRow {
  source_id: string;
  status: SyncState['status'];
  source_modified_at: Date | string;
}

/** How the submitter holds a record's version at a destination (see SyncStateRepository.parked). */
export type Parking = 'dead_lettered' | 'needs_source_fix' | 'in_retry';

/** A record whose sync row would make the submitter skip its republished event. */
export interface Invalidation {
  sourceId: string;
  sourceModifiedAt: Date;
}

/** One record of the destination inventory: who holds it according to the sync state. */
export interface InventoryRow {
  source_id: string;
  destinations: string[];
  event_ids: Array<string | null>;
  modified: Date | string;
}

/**
 * The reconciler's reads and the one write it makes to the submitter's sync state
 * (sync_records, with its audit_log entries; parked records from dead_letters and
 * retry_entries), always one statement per page of records, never one per record.
 */
@Injectable()
export class SyncStateRepository {
  constructor(private readonly db: DataSource) {}

  /** The sync rows of these records at one destination, by source ID. */
  async read(
    { customerId }: CustomerScope,
    resource: string,
    destinationId: string,
    sourceIds: readonly string[],
  ): Promise<Map<string, SyncState>> {
    const rows: SyncRow[] = await this.db.query(
      `SELECT source_id, status, source_modified_at FROM sync_records
        WHERE customer_id = $1 AND resource = $2 AND destination_id = $3 AND source_id = ANY($4::text[])`,
      [customerId, resource, destinationId, [...sourceIds]],
    );
    return new Map(
      rows.map((row) => [
        row.source_id,
        { status: row.status, sourceModifiedAt: new Date(row.source_modified_at) },
      ]),
    );
  }

  /**
   * Of these records (ID and the source's version), the ones whose sync row does NOT show that
   * version (or a newer one) confirmed at this destination, with their row (null: no row). The
   * comparison is made by PostgreSQL, so a page that is all delivered returns no row at all.
   * The WHERE clause is the negation of `syncShowsDelivered` (gap-classifier.ts): keep them alike.
   */
  async notShownDelivered(
    { customerId }: CustomerScope,
    resource: string,
    destinationId: string,
    records: ReadonlyArray<{ recordId: string; sourceModifiedAt: Date }>,
  ): Promise<Map<string, SyncState | null>> {
    const behind = new Map<string, SyncState | null>();
    if (records.length === 0) {
      return behind;
    }
    const rows: Array<SyncRow & { status: SyncState['status'] | null }> = await this.db.query(
      // LATERAL: one primary-key lookup per record, whatever the table's statistics say.
      `SELECT v.source_id, s.status, s.source_modified_at
         FROM unnest($4::text[], $5::timestamptz[]) AS v(source_id, modified)
         LEFT JOIN LATERAL (
           SELECT r.status, r.source_modified_at FROM sync_records r
            WHERE r.customer_id = $1 AND r.resource = $2 AND r.source_id = v.source_id
              AND r.destination_id = $3
         ) s ON true
        WHERE s.status IS NULL OR s.status <> 'confirmed' OR s.source_modified_at < v.modified`,
      [
        customerId,
        resource,
        destinationId,
        records.map((r) => r.recordId),
        records.map((r) => r.sourceModifiedAt.toISOString()),
      ],
    );
    for (const row of rows) {
      behind.set(
        row.source_id,
        row.status === null
          ? null
          : { status: row.status, sourceModifiedAt: new Date(row.source_modified_at) },
      );
    }
    return behind;
  }

  /**
   * Records of this page the submitter has parked at this destination: an open dead letter (a
   * permanent refusal waiting for a human), a hold waiting for a fix in the source (a CRM+
   * contact without an email: delivered on its own once fixed) or a retry still in flight.
   * Republishing those would only add another dead letter or hold, or race the retry, so the
   * window check reports them instead.
   */
  async parked(
    { customerId }: CustomerScope,
    resource: string,
    destinationId: string,
    sourceIds: readonly string[],
  ): Promise<Map<string, Parking>> {
    const rows: Array<{ source_id: string; kind: Parking }> = await this.db.query(
      `SELECT source_id, 'dead_lettered' AS kind FROM dead_letters
        WHERE customer_id = $1 AND resource = $2 AND destination_id = $3
          AND source_id = ANY($4::text[]) AND status = 'open'
       UNION ALL
       SELECT source_id, 'needs_source_fix' AS kind FROM source_fix_holds
        WHERE customer_id = $1 AND resource = $2 AND destination_id = $3
          AND source_id = ANY($4::text[]) AND status = 'open'
       UNION ALL
       SELECT source_id, 'in_retry' AS kind FROM retry_entries
        WHERE customer_id = $1 AND resource = $2 AND destination_id = $3
          AND source_id = ANY($4::text[])`,
      [customerId, resource, destinationId, [...sourceIds]],
    );
    // A dead letter says most (a person must act), then a hold, then a retry.
    const rank: Record<Parking, number> = { dead_lettered: 2, needs_source_fix: 1, in_retry: 0 };
    const parked = new Map<string, Parking>();
    for (const row of rows) {
      const current = parked.get(row.source_id);
      if (current === undefined || rank[row.kind] > rank[current]) {
        parked.set(row.source_id, row.kind);
      }
    }
    return parked;
  }

  /**
   * The submitter skips an event older than (stale) or equal to (duplicate) the version its sync
   * row records. When a destination lost a record the sync state still calls delivered, a
   * republished event would be skipped and the gap would never close. So, before republishing,
   * the row is moved back to just below the source's version with status 'pending': the
   * republished event is then newer and delivered, while any older event still waiting in a
   * retry topic stays stale. Only rows at or above the source's version are touched (a newer
   * delivery that raced the run is left alone by the submitter's own upsert guard). Every change
   * is written to the audit log in the same statement.
   */
  async invalidate(
    { customerId }: CustomerScope,
    resource: string,
    destinationId: string,
    records: readonly Invalidation[],
    runId: string,
  ): Promise<number> {
    if (records.length === 0) {
      return 0;
    }
    const rows: Array<{ source_id: string }> = await this.db.query(
      `WITH v AS (
         SELECT * FROM unnest($4::text[], $5::timestamptz[]) AS v(source_id, modified)
       ), prev AS (
         SELECT s.source_id, s.status, s.source_modified_at FROM sync_records s JOIN v USING (source_id)
          WHERE s.customer_id = $1 AND s.resource = $2 AND s.destination_id = $3
       ), up AS (
         UPDATE sync_records s
            SET status = 'pending',
                source_modified_at = v.modified - interval '1 millisecond',
                last_error = 'reconciliation: the destination does not hold this version; republished',
                updated_at = now()
           FROM v
          WHERE s.customer_id = $1 AND s.resource = $2 AND s.destination_id = $3
            AND s.source_id = v.source_id AND s.source_modified_at >= v.modified
         RETURNING s.source_id
       ), audit AS (
         INSERT INTO audit_log (customer_id, resource, source_id, destination_id, action, from_status, to_status, detail)
         SELECT $1, $2, up.source_id, $3, 'reconcile-invalidate', prev.status, 'pending',
                jsonb_build_object('runId', $6::text, 'previousSourceModifiedAt', prev.source_modified_at)
           FROM up JOIN prev USING (source_id)
       )
       SELECT source_id FROM up`,
      [
        customerId,
        resource,
        destinationId,
        records.map((r) => r.sourceId),
        records.map((r) => r.sourceModifiedAt.toISOString()),
        runId,
      ],
    );
    return rows.length;
  }
  /**
   * The deletion check's destination inventory: sync rows of these destinations whose version is
   * older than `before`, with IDs in (after, hi], grouped per record, in ID order, at most
   * `limit` records (a numeric ID range the sync_records index serves).
   */
  async inventoryPage(
    { customerId }: CustomerScope,
    resource: string,
    destinationIds: readonly string[],
    before: Date,
    limit: number,
    after: string | null,
    hi: string | null,
  ): Promise<InventoryRow[]> {
    const range = idRangeSql('source_id', after, hi, 6);
    return this.db.query(
      `SELECT source_id,
              array_agg(destination_id::text) AS destinations,
              array_agg(last_event_id) AS event_ids,
              max(source_modified_at) AS modified
         FROM sync_records
        WHERE customer_id = $1 AND resource = $2 AND destination_id = ANY($3::uuid[])
          AND source_modified_at < $4 AND $5::int > 0 AND ${range.sql}
        GROUP BY source_id
        ORDER BY length(source_id), source_id
        LIMIT $5`,
      [customerId, resource, [...destinationIds], before.toISOString(), limit, ...range.params],
    );
  }

  /** How many records these destinations hold (by the sync state) at versions older than `before`. */
  async countHeld(
    { customerId }: CustomerScope,
    resource: string,
    destinationIds: readonly string[],
    before: Date,
  ): Promise<number> {
    const rows: Array<{ n: string }> = await this.db.query(
      `SELECT count(DISTINCT source_id) AS n FROM sync_records
        WHERE customer_id = $1 AND resource = $2 AND destination_id = ANY($3::uuid[]) AND source_modified_at < $4`,
      [customerId, resource, [...destinationIds], before.toISOString()],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** The newest version any destination's sync row holds of these records, by source ID. */
  async newestVersions(
    { customerId }: CustomerScope,
    resource: string,
    sourceIds: readonly string[],
  ): Promise<Map<string, number>> {
    const rows: Array<{ source_id: string; modified: Date | string }> = await this.db.query(
      `SELECT source_id, max(source_modified_at) AS modified FROM sync_records
        WHERE customer_id = $1 AND resource = $2 AND source_id = ANY($3::text[])
        GROUP BY source_id`,
      [customerId, resource, [...sourceIds]],
    );
    return new Map(rows.map((r) => [r.source_id, new Date(r.modified).getTime()]));
  }
}

import { Injectable } from '@nestjs/common';
import type { CustomerScope } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

/** A related record's latest known version, as learned from an event, a gift or Raise. */
export interface RelatedRecordRow {
  source_id: string;
  model: Record<string, unknown>;
  source_modified_at: Date;
  learned_from: 'event' | 'embedded' | 'fetched';
}

/** One donor version to store (its ID is the key it is stored under). */
export interface DonorVersion {
  model: Record<string, unknown>;
  modifiedAt: Date;
  learnedFrom: RelatedRecordRow['learned_from'];
}

/**
 * related_records of resource 'donor': the latest donor version a customer's events have shown
 * (or Raise returned), which completes gifts that arrive without their donor.
 */
@Injectable()
export class RelatedRecordRepository {
  constructor(private readonly db: DataSource) {}

  /** Removes donors deleted at the source (unless a newer version is stored). */
  async forgetDonors(
    { customerId }: CustomerScope,
    deleted: ReadonlyMap<string, Date>,
  ): Promise<void> {
    await this.db.query(
      `DELETE FROM related_records r USING unnest($2::text[], $3::timestamptz[]) AS d(source_id, at)
        WHERE r.customer_id = $1 AND r.resource = 'donor' AND r.source_id = d.source_id
          AND r.source_modified_at <= d.at`,
      [customerId, [...deleted.keys()], [...deleted.values()]],
    );
  }

  async donors({ customerId }: CustomerScope, donorIds: string[]): Promise<RelatedRecordRow[]> {
    return this.db.query(
      `SELECT source_id, model, source_modified_at, learned_from FROM related_records
        WHERE customer_id = $1 AND resource = 'donor' AND source_id = ANY($2::text[])`,
      [customerId, donorIds],
    );
  }

  /** Writes newer versions only; returns the IDs whose row was inserted or moved forward. */
  async storeDonors(
    { customerId }: CustomerScope,
    donors: ReadonlyArray<readonly [sourceId: string, version: DonorVersion]>,
  ): Promise<string[]> {
    const rows: Array<{ source_id: string }> = await this.db.query(
      `INSERT INTO related_records AS r (customer_id, resource, source_id, model, source_modified_at, learned_from)
       SELECT $1, 'donor', * FROM unnest($2::text[], $3::jsonb[], $4::timestamptz[], $5::text[])
       ON CONFLICT (customer_id, resource, source_id) DO UPDATE
         SET model = EXCLUDED.model, source_modified_at = EXCLUDED.source_modified_at,
             learned_from = EXCLUDED.learned_from, updated_at = now()
         WHERE EXCLUDED.source_modified_at > r.source_modified_at
       RETURNING source_id`,
      [
        customerId,
        donors.map(([id]) => id),
        donors.map(([, d]) => JSON.stringify(d.model)),
        donors.map(([, d]) => d.modifiedAt),
        donors.map(([, d]) => d.learnedFrom),
      ],
    );
    return rows.map((r) => r.source_id);
  }
}

import { Injectable } from '@nestjs/common';
import type { CustomerScope, DiscrepancyState } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

export interface Discrepancy {
  resource: string;
  sourceId: string;
  destinationId: string | null;
  state: DiscrepancyState;
  actionable: boolean;
  republished?: boolean;
  details?: Record<string, unknown>;
}

const CHUNK = 500;

/**
 * reconciliation_discrepancies as the checks use it: stores what a run found, a page at a time
 * (one multi-row INSERT per chunk, never per record), and tells which deletes earlier runs
 * published.
 */
@Injectable()
export class DiscrepancyRepository {
  constructor(private readonly db: DataSource) {}

  async record({ customerId }: CustomerScope, runId: string, found: Discrepancy[]): Promise<void> {
    for (let i = 0; i < found.length; i += CHUNK) {
      const chunk = found.slice(i, i + CHUNK);
      const params: unknown[] = [];
      const rows = chunk.map((d) => {
        params.push(
          runId,
          customerId,
          d.resource,
          d.sourceId,
          d.destinationId,
          d.state,
          d.actionable,
          d.republished ?? false,
          JSON.stringify(d.details ?? {}),
        );
        const n = params.length;
        return `($${n - 8}, $${n - 7}, $${n - 6}, $${n - 5}, $${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n}::jsonb)`;
      });
      await this.db.query(
        `INSERT INTO reconciliation_discrepancies
           (run_id, customer_id, resource, source_id, destination_id, state, actionable, republished, details)
         VALUES ${rows.join(', ')}`,
        params,
      );
    }
  }

  /**
   * Event IDs of deletes earlier runs published for these records: a destination that cannot be
   * asked and whose last event is one of them already has the delete.
   */
  async publishedDeletes(
    { customerId }: CustomerScope,
    resource: string,
    sourceIds: readonly string[],
    eventIds: readonly string[],
  ): Promise<Set<string>> {
    const rows: Array<{ event_id: string }> = await this.db.query(
      `SELECT DISTINCT details->>'eventId' AS event_id FROM reconciliation_discrepancies
        WHERE customer_id = $1 AND resource = $2 AND state = 'deleted_in_source'
          AND source_id = ANY($3::text[]) AND details->>'eventId' = ANY($4::text[])`,
      [customerId, resource, [...sourceIds], [...eventIds]],
    );
    return new Set(rows.map((r) => r.event_id));
  }
}

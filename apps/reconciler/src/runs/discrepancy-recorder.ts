import { Injectable } from '@nestjs/common';
import type { DiscrepancyState } from '@raise-sync/shared/state';
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

/** Stores what a run found, a page at a time (one multi-row INSERT per chunk, never per record). */
@Injectable()
export class DiscrepancyRecorder {
  constructor(private readonly db: DataSource) {}

  async record(runId: string, customerId: string, found: Discrepancy[]): Promise<void> {
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
}

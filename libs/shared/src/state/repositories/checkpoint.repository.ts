import type { EntityManager } from 'typeorm';
import { CheckpointEntity } from '../entities/checkpoint.entity';
import type { CheckpointDirection } from '../entities/statuses';
import type { CustomerScope } from '../customer-scope';

export interface CheckpointPosition {
  /** The last processed record's own timestamp (never the wall clock). */
  at: Date;
  /** Its ID, to order records that share a timestamp. */
  id: string;
}

/**
 * Checkpoints per (customer, resource, direction). They only move forward. Works on a DataSource
 * or inside a transaction (an EntityManager).
 */
export class CheckpointRepository {
  constructor(private readonly db: Pick<EntityManager, 'query' | 'getRepository'>) {}

  async get(
    { customerId }: CustomerScope,
    resource: string,
    direction: CheckpointDirection,
  ): Promise<CheckpointPosition | null> {
    const row = await this.db
      .getRepository(CheckpointEntity)
      .findOneBy({ customerId, resource, direction });
    return row ? { at: row.lastProcessedAt, id: row.lastProcessedId } : null;
  }

  /**
   * Moves the checkpoint to `position` if that is later than the stored one (by timestamp, then
   * ID); an earlier position is ignored. Returns the checkpoint now stored.
   */
  async advance(
    scope: CustomerScope,
    source: string,
    resource: string,
    direction: CheckpointDirection,
    position: CheckpointPosition,
  ): Promise<CheckpointPosition> {
    // One statement, so two writers cannot move it backwards between a read and a write.
    // IDs compare as numbers when both are numeric (Raise IDs), else as text.
    const rows: Array<{ last_processed_at: Date; last_processed_id: string }> = await this.db.query(
      `INSERT INTO checkpoints AS c (customer_id, resource, direction, source, last_processed_at, last_processed_id)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (customer_id, resource, direction) DO UPDATE
         SET last_processed_at = EXCLUDED.last_processed_at,
             last_processed_id = EXCLUDED.last_processed_id,
             updated_at = now()
         WHERE (EXCLUDED.last_processed_at, lpad(EXCLUDED.last_processed_id, 40, '0'))
             > (c.last_processed_at, lpad(c.last_processed_id, 40, '0'))
       RETURNING last_processed_at, last_processed_id`,
      [scope.customerId, resource, direction, source, position.at, position.id],
    );
    const row = rows[0];
    if (row) {
      return { at: row.last_processed_at, id: row.last_processed_id };
    }
    const stored = await this.get(scope, resource, direction);
    if (!stored) {
      throw new Error(
        `checkpoint for ${scope.customerId}/${resource}/${direction} vanished during advance`,
      );
    }
    return stored;
  }
}

import type { DataSource } from 'typeorm';
import { AuditLogEntity } from '../entities/audit-log.entity';
import { SyncRecordEntity } from '../entities/sync-record.entity';
import type { CustomerScope } from '../customer-scope';

/**
 * Reads of per-record, per-destination sync state and its audit trail. The state itself is written by the
 * submitter's DeliveryRepository, set-based, one statement per chunk and destination.
 */
export class SyncRecordRepository {
  constructor(private readonly db: DataSource) {}

  /** The record's state at each destination (the admin API's record view). */
  async findForRecord(
    { customerId }: CustomerScope,
    resource: string,
    sourceId: string,
  ): Promise<SyncRecordEntity[]> {
    return this.db.getRepository(SyncRecordEntity).find({
      where: { customerId, resource, sourceId },
      order: { destinationId: 'ASC' },
    });
  }

  /** The record's history across destinations, oldest first. */
  async history(
    { customerId }: CustomerScope,
    resource: string,
    sourceId: string,
  ): Promise<AuditLogEntity[]> {
    return this.db.getRepository(AuditLogEntity).find({
      where: { customerId, resource, sourceId },
      order: { id: 'ASC' },
    });
  }
}

import type { DataSource } from 'typeorm';
import { auditDetailSql, type AuditTrailRow } from '../entities/audit-log.entity';
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
  ): Promise<AuditTrailRow[]> {
    return this.db.query(
      `SELECT a.id, a.customer_id AS "customerId", a.resource, a.source_id AS "sourceId",
              a.destination_id AS "destinationId", a.event_id AS "eventId", a.action,
              a.from_status AS "fromStatus", a.to_status AS "toStatus", ${auditDetailSql('a')} AS detail, a.at
         FROM audit_log a
        WHERE a.customer_id = $1 AND a.resource = $2 AND a.source_id = $3
        ORDER BY a.id`,
      [customerId, resource, sourceId],
    );
  }
}

import type { DataSource, EntityManager } from 'typeorm';
import { AuditLogEntity } from '../entities/audit-log.entity';
import type { SyncStatus } from '../entities/statuses';
import { SyncRecordEntity } from '../entities/sync-record.entity';

export interface SyncStateChange {
  resource: string;
  sourceId: string;
  destinationId: string;
  status: SyncStatus;
  sourceModifiedAt: Date;
  eventId?: string;
  destinationRecordId?: string | null;
  error?: string | null;
  /** Count this change as one more delivery attempt. */
  attempted?: boolean;
}

/** Per-record, per-destination sync state. Every change appends an audit row in the same transaction. */
export class SyncRecordRepository {
  constructor(private readonly db: DataSource) {}

  async findForRecord(
    customerId: string,
    resource: string,
    sourceId: string,
  ): Promise<SyncRecordEntity[]> {
    return this.db.getRepository(SyncRecordEntity).find({
      where: { customerId, resource, sourceId },
      order: { destinationId: 'ASC' },
    });
  }

  /** Upserts the record's state at one destination and writes the audit row; returns the new state. */
  async recordChange(customerId: string, change: SyncStateChange): Promise<SyncRecordEntity> {
    return this.db.transaction(async (tx: EntityManager) => {
      const repo = tx.getRepository(SyncRecordEntity);
      const current = await repo.findOne({
        where: {
          customerId,
          resource: change.resource,
          sourceId: change.sourceId,
          destinationId: change.destinationId,
        },
        lock: { mode: 'pessimistic_write' },
      });
      const next = repo.create({
        ...(current ?? {
          customerId,
          resource: change.resource,
          sourceId: change.sourceId,
          destinationId: change.destinationId,
          attempts: 0,
        }),
        status: change.status,
        sourceModifiedAt: change.sourceModifiedAt,
        lastEventId: change.eventId ?? current?.lastEventId ?? null,
        destinationRecordId: change.destinationRecordId ?? current?.destinationRecordId ?? null,
        lastError: change.error === undefined ? (current?.lastError ?? null) : change.error,
        attempts: (current?.attempts ?? 0) + (change.attempted ? 1 : 0),
      });
      const saved = await repo.save(next);
      await tx.getRepository(AuditLogEntity).insert({
        customerId,
        resource: change.resource,
        sourceId: change.sourceId,
        destinationId: change.destinationId,
        eventId: change.eventId ?? null,
        action: 'sync-state',
        fromStatus: current?.status ?? null,
        toStatus: change.status,
        detail: {
          attempts: saved.attempts,
          ...(change.error ? { error: change.error } : {}),
          ...(saved.destinationRecordId ? { destinationRecordId: saved.destinationRecordId } : {}),
        },
      });
      return saved;
    });
  }

  /** The record's history across destinations, oldest first. */
  async history(customerId: string, resource: string, sourceId: string): Promise<AuditLogEntity[]> {
    return this.db.getRepository(AuditLogEntity).find({
      where: { customerId, resource, sourceId },
      order: { id: 'ASC' },
    });
  }
}

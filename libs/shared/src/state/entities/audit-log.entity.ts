import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Append-only history of a record's path: one row per state change. A delivery's own facts
 * (attempts, where the event sat in Kafka, ...) are typed columns since migration
 * 1763800014000; older rows and other actions keep them in `detail`. Read `detail` through
 * auditDetailSql(), which merges both.
 */
@Entity({ name: 'audit_log' })
export class AuditLogEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @Column({ type: 'text' }) resource!: string;
  @Column({ name: 'source_id', type: 'text' }) sourceId!: string;
  @Column({ name: 'destination_id', type: 'uuid', nullable: true }) destinationId!: string | null;
  @Column({ name: 'event_id', type: 'text', nullable: true }) eventId!: string | null;
  @Column({ type: 'text' }) action!: string;
  @Column({ name: 'from_status', type: 'text', nullable: true }) fromStatus!: string | null;
  @Column({ name: 'to_status', type: 'text', nullable: true }) toStatus!: string | null;
  @Column({ type: 'jsonb', default: () => "'{}'" }) detail!: Record<string, unknown>;
  @Column({ type: 'timestamptz', default: () => 'now()' }) at!: Date;
  @Column({ type: 'int', nullable: true, select: false }) attempts!: number | null;
  @Column({ name: 'destination_record_id', type: 'text', nullable: true, select: false })
  destinationRecordId!: string | null;
  @Column({ type: 'text', nullable: true, select: false }) error!: string | null;
  @Column({ type: 'text', nullable: true, select: false }) origin!: string | null;
  @Column({ type: 'text', nullable: true, select: false }) topic!: string | null;
  @Column({ name: 'topic_partition', type: 'int', nullable: true, select: false })
  topicPartition!: number | null;
  @Column({ name: 'topic_offset', type: 'text', nullable: true, select: false })
  topicOffset!: string | null;
  @Column({ name: 'captured_at', type: 'timestamptz', nullable: true, select: false })
  capturedAt!: Date | null;
}

/** An audit row as its readers see it: `detail` merged (auditDetailSql), no typed columns. */
export type AuditTrailRow = Pick<
  AuditLogEntity,
  | 'id'
  | 'customerId'
  | 'resource'
  | 'sourceId'
  | 'destinationId'
  | 'eventId'
  | 'action'
  | 'fromStatus'
  | 'toStatus'
  | 'detail'
  | 'at'
>;

/**
 * The audit row's `detail` as one jsonb value, whichever release wrote it: the jsonb column with
 * the typed delivery columns merged in under the keys they had there (`alias`: the table's alias
 * in the query). Only a value that is set is merged.
 */
export function auditDetailSql(alias: string): string {
  const a = alias;
  return `(${a}.detail || jsonb_strip_nulls(jsonb_build_object(
    'attempts', ${a}.attempts, 'destinationRecordId', ${a}.destination_record_id, 'error', ${a}.error,
    'origin', ${a}.origin, 'topic', ${a}.topic, 'partition', ${a}.topic_partition,
    'offset', ${a}.topic_offset, 'capturedAt', ${a}.captured_at)))`;
}

import {
  Column,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  CreateDateColumn,
} from 'typeorm';
import type { SyncStatus } from './statuses';

/** Where one source record stands at one destination: one row per (customer, resource, source ID, destination). */
@Entity({ name: 'sync_records' })
export class SyncRecordEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @Column({ type: 'text' }) resource!: string;
  @Column({ name: 'source_id', type: 'text' }) sourceId!: string;
  @Column({ name: 'destination_id', type: 'uuid' }) destinationId!: string;
  @Column({ type: 'text' }) status!: SyncStatus;
  /** The record's ID in the destination system, once known. */
  @Column({ name: 'destination_record_id', type: 'text', nullable: true }) destinationRecordId!:
    string | null;
  @Column({ type: 'int', default: 0 }) attempts!: number;
  @Column({ name: 'last_error', type: 'text', nullable: true }) lastError!: string | null;
  @Column({ name: 'last_event_id', type: 'text', nullable: true }) lastEventId!: string | null;
  @Column({ name: 'source_modified_at', type: 'timestamptz' }) sourceModifiedAt!: Date;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

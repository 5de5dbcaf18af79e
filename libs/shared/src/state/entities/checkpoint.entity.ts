import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { CheckpointDirection } from './statuses';

/** High-water mark of one incremental sync: the last processed record's own timestamp and ID. */
@Entity({ name: 'checkpoints' })
export class CheckpointEntity {
  @PrimaryColumn({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @PrimaryColumn({ type: 'text' }) resource!: string;
  @PrimaryColumn({ type: 'text' }) direction!: CheckpointDirection;
  @Column({ type: 'text' }) source!: string;
  @Column({ name: 'last_processed_at', type: 'timestamptz' }) lastProcessedAt!: Date;
  @Column({ name: 'last_processed_id', type: 'text' }) lastProcessedId!: string;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

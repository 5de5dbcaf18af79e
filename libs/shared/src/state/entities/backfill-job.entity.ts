import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { BackfillStatus } from './statuses';

/** One ID range of a customer's backfill, held by at most one worker through a lease. */
@Entity({ name: 'backfill_jobs' })
export class BackfillJobEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  /** The backfill request this range belongs to (backfill_runs.id). */
  @Column({ name: 'run_id', type: 'uuid', nullable: true }) runId!: string | null;
  @Column({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @Column({ type: 'text' }) source!: string;
  @Column({ type: 'text' }) resource!: string;
  @Column({ name: 'modified_from', type: 'timestamptz', nullable: true })
  modifiedFrom!: Date | null;
  @Column({ name: 'modified_to', type: 'timestamptz', nullable: true }) modifiedTo!: Date | null;
  @Column({ name: 'range_start', type: 'bigint' }) rangeStart!: string;
  @Column({ name: 'range_end', type: 'bigint', nullable: true }) rangeEnd!: string | null;
  /** Last source ID published; resume after it. */
  @Column({ type: 'bigint', nullable: true }) cursor!: string | null;
  @Column({ type: 'text' }) status!: BackfillStatus;
  @Column({ name: 'lease_owner', type: 'text', nullable: true }) leaseOwner!: string | null;
  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;
  @Column({ name: 'records_done', type: 'bigint', default: 0 }) recordsDone!: string;
  @Column({ name: 'records_total', type: 'bigint', nullable: true }) recordsTotal!: string | null;
  @Column({ name: 'pages_done', type: 'bigint', default: 0 }) pagesDone!: string;
  /** Newest (modified time, ID) among the records this range published. */
  @Column({ name: 'high_water_at', type: 'timestamptz', nullable: true }) highWaterAt!: Date | null;
  @Column({ name: 'high_water_id', type: 'bigint', nullable: true }) highWaterId!: string | null;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
  @Column({ name: 'last_error', type: 'text', nullable: true }) lastError!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

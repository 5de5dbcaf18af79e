import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { BackfillRunStatus, BackfillTrigger } from './statuses';

/**
 * One backfill request: a customer's resource, optionally limited to a modified-date range. A
 * worker plans it (finds the source's ID span and splits it into backfill_jobs ranges); when
 * every range is done the run is done, its high-water mark seeds the poll checkpoint and the
 * customer goes live.
 */
@Entity({ name: 'backfill_runs' })
export class BackfillRunEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @Column({ type: 'text' }) source!: string;
  @Column({ type: 'text' }) resource!: string;
  @Column({ name: 'modified_from', type: 'timestamptz', nullable: true })
  modifiedFrom!: Date | null;
  @Column({ name: 'modified_to', type: 'timestamptz', nullable: true }) modifiedTo!: Date | null;
  @Column({ type: 'text' }) trigger!: BackfillTrigger;
  @Column({ type: 'text' }) status!: BackfillRunStatus;
  @Column({ name: 'lease_owner', type: 'text', nullable: true }) leaseOwner!: string | null;
  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;
  @Column({ type: 'int', default: 0 }) ranges!: number;
  @Column({ name: 'records_total', type: 'bigint', nullable: true }) recordsTotal!: string | null;
  @Column({ name: 'high_water_at', type: 'timestamptz', nullable: true }) highWaterAt!: Date | null;
  @Column({ name: 'high_water_id', type: 'bigint', nullable: true }) highWaterId!: string | null;
  @Column({ name: 'last_error', type: 'text', nullable: true }) lastError!: string | null;
  @Column({ name: 'requested_at', type: 'timestamptz' }) requestedAt!: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
}

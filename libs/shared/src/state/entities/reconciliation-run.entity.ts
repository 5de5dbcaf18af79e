import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { ReconciliationKind, ReconciliationStatus, ReconciliationTrigger } from './statuses';

/** One reconciliation of one customer over one closed window, with its counts. */
@Entity({ name: 'reconciliation_runs' })
export class ReconciliationRunEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @Column({ type: 'text' }) kind!: ReconciliationKind;
  @Column({ name: 'window_start', type: 'timestamptz' }) windowStart!: Date;
  @Column({ name: 'window_end', type: 'timestamptz' }) windowEnd!: Date;
  @Column({ type: 'text' }) status!: ReconciliationStatus;
  @Column({ type: 'jsonb', default: () => "'{}'" }) counts!: Record<string, number>;
  @Column({ type: 'text', default: 'schedule' }) trigger!: ReconciliationTrigger;
  /** Resources compared; null = every resource of the customer's sources. */
  @Column({ type: 'text', array: true, nullable: true }) resources!: string[] | null;
  @Column({ name: 'lease_owner', type: 'text', nullable: true }) leaseOwner!: string | null;
  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;
  @Column({ name: 'requested_at', type: 'timestamptz' }) requestedAt!: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
  @Column({ name: 'duration_ms', type: 'bigint', nullable: true }) durationMs!: string | null;
  @Column({ type: 'text', nullable: true }) error!: string | null;
}

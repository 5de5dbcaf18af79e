import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { ReconciliationCadence, ReconciliationKind } from './statuses';

/**
 * When a customer's reconciliation of one kind runs next. Daily runs start at `runAtMinute`
 * (minutes after local midnight in `timezone`) and cover the previous local day; hourly runs
 * cover the clock hour that ended `lagHours` ago; weekly (deletion detection) runs once a week.
 * Leased like poll_schedule so only one reconciler replica runs it.
 */
@Entity({ name: 'reconciliation_schedules' })
export class ReconciliationScheduleEntity {
  @PrimaryColumn({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @PrimaryColumn({ type: 'text' }) kind!: ReconciliationKind;
  @Column({ type: 'text' }) cadence!: ReconciliationCadence;
  @Column({ type: 'text', default: 'UTC' }) timezone!: string;
  @Column({ name: 'run_at_minute', type: 'int', default: 360 }) runAtMinute!: number;
  @Column({ name: 'lag_hours', type: 'int', default: 4 }) lagHours!: number;
  @Column({ type: 'boolean', default: true }) enabled!: boolean;
  /** Kind-specific settings, e.g. { crmDestination, crmTransactionSource, singleProduct }. */
  @Column({ type: 'jsonb', default: () => "'{}'" }) settings!: Record<string, unknown>;
  @Column({ name: 'next_run_at', type: 'timestamptz' }) nextRunAt!: Date;
  @Column({ name: 'lease_owner', type: 'text', nullable: true }) leaseOwner!: string | null;
  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;
  @Column({ name: 'last_run_id', type: 'uuid', nullable: true }) lastRunId!: string | null;
  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' }) updatedAt!: Date;
}

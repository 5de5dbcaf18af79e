import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import type { AlertDeliveryStatus, AlertSeverity, DiscrepancyState } from './statuses';

/** One record a reconciliation run found out of line (or, for crmKey checks, its state). */
@Entity({ name: 'reconciliation_discrepancies' })
export class ReconciliationDiscrepancyEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ name: 'run_id', type: 'uuid' }) runId!: string;
  @Column({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @Column({ type: 'text' }) resource!: string;
  @Column({ name: 'source_id', type: 'text' }) sourceId!: string;
  @Column({ name: 'destination_id', type: 'uuid', nullable: true }) destinationId!: string | null;
  @Column({ type: 'text' }) state!: DiscrepancyState;
  /** False for expected gaps: canSync false, test mode, still within the sync-lag window. */
  @Column({ type: 'boolean' }) actionable!: boolean;
  @Column({ type: 'boolean', default: false }) republished!: boolean;
  /** Amount, campaign, canSync, likely cause, crmKeyUrls links... */
  @Column({ type: 'jsonb', default: () => "'{}'" }) details!: Record<string, unknown>;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

/** An ops alert a run raised for actionable discrepancies, and its delivery to the ops URL. */
@Entity({ name: 'reconciliation_alerts' })
export class ReconciliationAlertEntity {
  @PrimaryColumn({ type: 'uuid', default: () => 'gen_random_uuid()' }) id!: string;
  @Column({ name: 'run_id', type: 'uuid' }) runId!: string;
  @Column({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @Column({ type: 'text' }) severity!: AlertSeverity;
  @Column({ type: 'text' }) title!: string;
  @Column({ type: 'jsonb', default: () => "'{}'" }) details!: Record<string, unknown>;
  @Column({ name: 'delivery_status', type: 'text', default: 'pending' })
  deliveryStatus!: AlertDeliveryStatus;
  @Column({ name: 'delivery_attempts', type: 'int', default: 0 }) deliveryAttempts!: number;
  @Column({ name: 'delivered_at', type: 'timestamptz', nullable: true }) deliveredAt!: Date | null;
  @Column({ name: 'last_error', type: 'text', nullable: true }) lastError!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

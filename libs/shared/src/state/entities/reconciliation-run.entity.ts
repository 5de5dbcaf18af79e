import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { ReconciliationKind, ReconciliationStatus } from './statuses';

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
  @Column({ name: 'started_at', type: 'timestamptz' }) startedAt!: Date;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
}

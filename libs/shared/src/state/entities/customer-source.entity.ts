import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { CredentialStatus, SourceName } from './statuses';

/** One source a customer syncs from: polling cadence, token health, webhook subscription. */
@Entity({ name: 'customer_sources' })
export class CustomerSourceEntity {
  @PrimaryColumn({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @PrimaryColumn({ type: 'text' }) source!: SourceName;
  @Column({ name: 'polling_enabled', type: 'boolean', default: true }) pollingEnabled!: boolean;
  /** 900 (15 min) as a primary capture path; e.g. 86400 as a daily backstop behind webhooks. */
  @Column({ name: 'poll_interval_seconds', type: 'int', default: 900 })
  pollIntervalSeconds!: number;
  @Column({ name: 'credential_status', type: 'text', default: 'unverified' })
  credentialStatus!: CredentialStatus;
  @Column({ name: 'credential_error', type: 'text', nullable: true }) credentialError!:
    string | null;
  @Column({ name: 'credential_checked_at', type: 'timestamptz', nullable: true })
  credentialCheckedAt!: Date | null;
  @Column({ name: 'webhook_subscription_id', type: 'text', nullable: true })
  webhookSubscriptionId!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { CustomerStatus, OnboardingMode } from './statuses';

/** A tenant: one nonprofit whose data we sync. Credentials are sealed with SecretBox, never plaintext. */
@Entity({ name: 'customers' })
export class CustomerEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'text' }) name!: string;
  @Column({ type: 'text' }) status!: CustomerStatus;
  /** SecretBox-sealed JSON: per-source API tokens and webhook secrets. */
  @Column({ name: 'credentials', type: 'bytea', nullable: true }) credentials!: Buffer | null;
  /** How the customer was onboarded; null for customers created before modes existed. */
  @Column({ name: 'onboarding_mode', type: 'text', nullable: true })
  onboardingMode!: OnboardingMode | null;
  /** Where the customer's data starts (null: all of its history); nothing older is synced. */
  @Column({ name: 'sync_from', type: 'timestamptz', nullable: true }) syncFrom!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

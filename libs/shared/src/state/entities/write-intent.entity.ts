import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A write we are about to make to the source (two-way sync), so its echo can be recognised. */
@Entity({ name: 'write_intents' })
export class WriteIntentEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @Column({ type: 'text' }) resource!: string;
  @Column({ name: 'source_id', type: 'text' }) sourceId!: string;
  @Column({ name: 'expected_fields', type: 'jsonb' }) expectedFields!: Record<string, unknown>;
  @Column({ name: 'submitted_at', type: 'timestamptz' }) submittedAt!: Date;
  @Column({ name: 'expires_at', type: 'timestamptz' }) expiresAt!: Date;
  @Column({ name: 'matched_at', type: 'timestamptz', nullable: true }) matchedAt!: Date | null;
}

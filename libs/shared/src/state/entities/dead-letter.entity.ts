import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { DeadLetterStatus } from './statuses';

/** Index of a message on the dead-letter topic, for listing, retry and discard. */
@Entity({ name: 'dead_letters' })
export class DeadLetterEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'customer_id', type: 'uuid', nullable: true }) customerId!: string | null;
  @Column({ name: 'destination_id', type: 'uuid', nullable: true }) destinationId!: string | null;
  @Column({ type: 'text' }) topic!: string;
  @Column({ type: 'int' }) partition!: number;
  @Column({ type: 'bigint' }) offset!: string;
  @Column({ name: 'event_id', type: 'text', nullable: true }) eventId!: string | null;
  @Column({ type: 'text', nullable: true }) resource!: string | null;
  @Column({ name: 'source_id', type: 'text', nullable: true }) sourceId!: string | null;
  @Column({ type: 'text' }) reason!: string;
  @Column({ name: 'error_message', type: 'text' }) errorMessage!: string;
  @Column({ type: 'int' }) attempts!: number;
  @Column({ name: 'first_failed_at', type: 'timestamptz' }) firstFailedAt!: Date;
  @Column({ type: 'text' }) status!: DeadLetterStatus;
  @Column({ name: 'resolved_at', type: 'timestamptz', nullable: true }) resolvedAt!: Date | null;
  /** The original message value (Avro bytes), so it can be retried without reading Kafka. */
  @Column({ type: 'bytea', nullable: true }) payload!: Buffer | null;
  @Column({ name: 'message_key', type: 'text', nullable: true }) messageKey!: string | null;
  @Column({ type: 'jsonb', default: () => "'{}'" }) headers!: Record<string, string>;
  /** `<resource>:<id>` of the related record whose missing data caused it (re-driven on change). */
  @Column({ name: 'waiting_for', type: 'text', nullable: true }) waitingFor!: string | null;
}

import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export const REPLAY_RUN_STATUSES = ['pending', 'running', 'done', 'failed', 'cancelled'] as const;
export type ReplayRunStatus = (typeof REPLAY_RUN_STATUSES)[number];

export const REPLAY_TRIGGERS = ['admin', 'cli'] as const;
export type ReplayTrigger = (typeof REPLAY_TRIGGERS)[number];

/**
 * Kafka header on a replayed event that names the one destination it is meant for. The
 * submitter delivers such an event only to that destination; the others skip it (`not_targeted`).
 * Without the header a replayed event goes to every destination of the customer.
 */
export const REPLAY_DESTINATION_HEADER = 'x-replay-destination';

/** One partition's part of a replay: offsets `from` (inclusive) to `to` (exclusive). */
export interface ReplayPartitionBounds {
  /**
   * The topic of the partition when the run reads more than one (a replay by resource reads the
   * live and the bulk topic); absent: the run's `topic`. Its position is then checkpointed under
   * `<topic>:<partition>` instead of `<partition>`.
   */
  topic?: string;
  partition: number;
  from: number;
  to: number;
}

/**
 * A replay request: a customer's events read back from a source topic (a replay by resource:
 * its live and its bulk topic; `topic` is then the live one) between resolved
 * offsets and republished with origin `replay` (optionally for one destination). Worked by one
 * backfiller replica at a time under a lease; `positions` is its per-partition checkpoint.
 */
@Entity({ name: 'replay_runs' })
export class ReplayRunEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @Column({ type: 'text' }) topic!: string;
  @Column({ type: 'text' }) source!: string;
  @Column({ type: 'text' }) resource!: string;
  @Column({ name: 'destination_id', type: 'uuid', nullable: true }) destinationId!: string | null;
  @Column({ name: 'from_time', type: 'timestamptz', nullable: true }) fromTime!: Date | null;
  @Column({ name: 'to_time', type: 'timestamptz', nullable: true }) toTime!: Date | null;
  @Column({ type: 'jsonb' }) bounds!: ReplayPartitionBounds[];
  @Column({ type: 'jsonb', default: () => `'{}'::jsonb` }) positions!: Record<string, number>;
  @Column({ type: 'text' }) status!: ReplayRunStatus;
  @Column({ type: 'text' }) trigger!: ReplayTrigger;
  @Column({ name: 'requested_by', type: 'text', nullable: true }) requestedBy!: string | null;
  @Column({ name: 'messages_total', type: 'bigint', default: 0 }) messagesTotal!: string;
  @Column({ name: 'messages_scanned', type: 'bigint', default: 0 }) messagesScanned!: string;
  @Column({ name: 'messages_matched', type: 'bigint', default: 0 }) messagesMatched!: string;
  @Column({ name: 'messages_published', type: 'bigint', default: 0 }) messagesPublished!: string;
  @Column({ name: 'messages_undecodable', type: 'bigint', default: 0 })
  messagesUndecodable!: string;
  @Column({ name: 'pages_done', type: 'bigint', default: 0 }) pagesDone!: string;
  @Column({ name: 'lease_owner', type: 'text', nullable: true }) leaseOwner!: string | null;
  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;
  @Column({ type: 'int', default: 0 }) attempts!: number;
  @Column({ name: 'last_error', type: 'text', nullable: true }) lastError!: string | null;
  @Column({ name: 'requested_at', type: 'timestamptz' }) requestedAt!: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

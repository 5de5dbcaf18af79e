import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { DestinationKind } from './statuses';

/** One destination of one customer (e.g. their CRM+ org). Secrets are sealed; config holds none. */
@Entity({ name: 'destinations' })
export class DestinationEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @Column({ type: 'text' }) kind!: DestinationKind;
  @Column({ type: 'text' }) name!: string;
  @Column({ type: 'jsonb', default: () => "'{}'" }) config!: Record<string, unknown>;
  @Column({ name: 'secrets', type: 'bytea', nullable: true }) secrets!: Buffer | null;
  @Column({ type: 'boolean', default: true }) enabled!: boolean;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

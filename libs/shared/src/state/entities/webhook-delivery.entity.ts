import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A webhook delivery already written to Kafka, keyed by its signature (replay protection). */
@Entity({ name: 'webhook_deliveries' })
export class WebhookDeliveryEntity {
  @PrimaryColumn({ name: 'customer_id', type: 'uuid' }) customerId!: string;
  @PrimaryColumn({ type: 'text' }) source!: string;
  @PrimaryColumn({ name: 'signature_hash', type: 'text' }) signatureHash!: string;
  @Column({ name: 'delivery_id', type: 'text', nullable: true }) deliveryId!: string | null;
  @Column({ name: 'received_at', type: 'timestamptz' }) receivedAt!: Date;
}

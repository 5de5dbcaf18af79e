import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CREDENTIAL_STATUSES, SOURCE_NAMES, sqlList } from '../entities/statuses';

/**
 * Capture-side state: each customer's sources (polling cadence, credential health, webhook
 * subscription), the poll schedule with its leases (one replica per customer-resource), and the
 * webhook deliveries already accepted (replay protection).
 */
export class CreateIngestState1763800002000 implements MigrationInterface {
  name = 'CreateIngestState1763800002000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE customer_sources (
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        source text NOT NULL CHECK (source IN (${sqlList(SOURCE_NAMES)})),
        polling_enabled boolean NOT NULL DEFAULT true,
        poll_interval_seconds int NOT NULL DEFAULT 900 CHECK (poll_interval_seconds >= 1),
        credential_status text NOT NULL DEFAULT 'unverified'
          CHECK (credential_status IN (${sqlList(CREDENTIAL_STATUSES)})),
        credential_error text,
        credential_checked_at timestamptz,
        webhook_subscription_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (customer_id, source)
      )`);
    await db.query(`
      CREATE TABLE poll_schedule (
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        source text NOT NULL,
        resource text NOT NULL,
        next_poll_at timestamptz NOT NULL DEFAULT now(),
        lease_owner text,
        lease_expires_at timestamptz,
        last_started_at timestamptz,
        last_finished_at timestamptz,
        last_error text,
        PRIMARY KEY (customer_id, source, resource),
        FOREIGN KEY (customer_id, source) REFERENCES customer_sources (customer_id, source) ON DELETE CASCADE
      )`);
    await db.query(`CREATE INDEX ix_poll_schedule_due ON poll_schedule (next_poll_at)`);
    await db.query(`
      CREATE TABLE webhook_deliveries (
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        source text NOT NULL,
        signature_hash text NOT NULL,
        delivery_id text,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (customer_id, source, signature_hash)
      )`);
    await db.query(`CREATE INDEX ix_webhook_deliveries_age ON webhook_deliveries (received_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE webhook_deliveries');
    await db.query('DROP TABLE poll_schedule');
    await db.query('DROP TABLE customer_sources');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CUSTOMER_STATUSES, DESTINATION_KINDS, sqlList } from '../entities/statuses';

/** Customers and their destinations: the tenancy every other table hangs off. */
export class CreateTenancy1763800000000 implements MigrationInterface {
  name = 'CreateTenancy1763800000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE customers (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        status text NOT NULL CHECK (status IN (${sqlList(CUSTOMER_STATUSES)})),
        credentials bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE destinations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN (${sqlList(DESTINATION_KINDS)})),
        name text NOT NULL,
        config jsonb NOT NULL DEFAULT '{}',
        secrets bytea,
        enabled boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_destinations_name UNIQUE (customer_id, name)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE destinations');
    await db.query('DROP TABLE customers');
  }
}

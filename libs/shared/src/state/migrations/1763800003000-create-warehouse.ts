import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Keys and bookkeeping columns of every warehouse table. Record columns are nullable: a delete of a record
 * the warehouse never saw leaves a tombstone row (only keys, times and deleted_at), so a late,
 * older upsert can never bring it back.
 */
const KEYS = `
        customer_id uuid NOT NULL,
        source_id text NOT NULL,`;
const BOOKKEEPING = `
        source_modified_at timestamptz NOT NULL,
        event_id text NOT NULL,
        deleted_at timestamptz,
        synced_at timestamptz NOT NULL DEFAULT now(),
        raw jsonb,
        PRIMARY KEY (customer_id, source_id)`;

/**
 * The reporting warehouse (written by the warehouse destination adapter in libs/destinations,
 * whose `warehouse.tables.ts` lists the same columns): one flat wide table per resource in schema
 * `warehouse`, typed columns for every Avro record field plus a few fields flattened out of the
 * source model, soft deletes via deleted_at. No foreign key to customers: the warehouse is an
 * analytical copy and is written at high rates in big batches.
 */
export class CreateWarehouse1763800003000 implements MigrationInterface {
  name = 'CreateWarehouse1763800003000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('CREATE SCHEMA IF NOT EXISTS warehouse');
    await db.query(`
      CREATE TABLE warehouse.raise_gift (${KEYS}
        donor_id text,
        recurring_gift_id text,
        campaign_name text,
        amount numeric,
        currency text,
        gift_date timestamp,
        status_text text,
        is_test_mode boolean,
        is_anonymous boolean,
        payment_type text,
        transaction_id text,
        donor_email text,
        created_date timestamptz,
        modified_date timestamptz,
        segment text,
        project_count integer,
        first_project_id text,
        first_project_name text,${BOOKKEEPING}
      )`);
    await db.query(`
      CREATE TABLE warehouse.raise_donor (${KEYS}
        name text,
        first_name text,
        last_name text,
        email text,
        email_opt_in boolean,
        phone text,
        is_organization boolean,
        organization_name text,
        is_test_mode boolean,
        is_archived boolean,
        crm_key text,
        crm_second_key text,
        created_date timestamptz,
        modified_date timestamptz,
        address_city text,
        address_state text,
        address_postal text,
        address_country text,${BOOKKEEPING}
      )`);
    await db.query(`
      CREATE TABLE warehouse.raise_recurring_gift (${KEYS}
        donor_id text,
        amount numeric,
        currency text,
        frequency_text text,
        status_text text,
        start_date date,
        next_charge_date date,
        crm_key text,
        is_test_mode boolean,
        created_date timestamptz,
        modified_date timestamptz,${BOOKKEEPING}
      )`);
    await db.query(`
      CREATE TABLE warehouse.raise_campaign (${KEYS}
        name text,
        description text,
        can_sync boolean,
        crm_key text,
        start_date date,
        end_date date,
        created_date_time timestamptz,
        modified_date_time timestamptz,${BOOKKEEPING}
      )`);
    await db.query(`
      CREATE TABLE warehouse.vomo_user (${KEYS}
        first_name text,
        last_name text,
        email text,
        phone text,
        user_status text,
        membership_status text,
        membership_role text,
        created_at timestamptz,
        updated_at timestamptz,${BOOKKEEPING}
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE warehouse.vomo_user');
    await db.query('DROP TABLE warehouse.raise_campaign');
    await db.query('DROP TABLE warehouse.raise_recurring_gift');
    await db.query('DROP TABLE warehouse.raise_donor');
    await db.query('DROP TABLE warehouse.raise_gift');
    // Not CASCADE: anything else someone put in the schema stops the revert instead of vanishing.
    await db.query('DROP SCHEMA IF EXISTS warehouse');
  }
}

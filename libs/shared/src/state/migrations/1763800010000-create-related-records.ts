import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Record completion (submitter): the latest known source model of records other records point at,
 * so an event whose payload lacks them (a Raise gift webhook carries `donorId` but no donor) is
 * delivered with the same fields a poll or backfill copy embeds.
 * - `related_records`: one row per customer and related record (today: Raise donors), with the
 *   source model as Raise returns it and its modified time; a row only ever moves to a newer
 *   version. Deleted with the customer.
 * - `dead_letters.waiting_for`: `<resource>:<id>` of the related record whose missing data caused
 *   the dead letter (e.g. `donor:48213` for a gift CRM+ refused for lack of a donor email); the
 *   submitter re-drives such entries on its own once that record changes.
 * Additive only: replicas of the previous release neither read nor write either, and leave
 * `waiting_for` null.
 */
export class CreateRelatedRecords1763800010000 implements MigrationInterface {
  name = 'CreateRelatedRecords1763800010000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE related_records (
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        resource text NOT NULL,
        source_id text NOT NULL,
        model jsonb NOT NULL,
        source_modified_at timestamptz NOT NULL,
        learned_from text NOT NULL CHECK (learned_from IN ('event', 'embedded', 'fetched')),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (customer_id, resource, source_id)
      )`);
    await db.query(`ALTER TABLE dead_letters ADD COLUMN waiting_for text`);
    await db.query(
      `CREATE INDEX ix_dead_letters_waiting ON dead_letters (customer_id, waiting_for)
        WHERE status = 'open' AND waiting_for IS NOT NULL`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX ix_dead_letters_waiting');
    await db.query('ALTER TABLE dead_letters DROP COLUMN waiting_for');
    await db.query('DROP TABLE related_records');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The delivery's audit row in typed columns (issue 14). The submitter writes one audit row per
 * delivered version; building, null-stripping and storing a jsonb object per row was measured
 * at 0.85 of the 2.0 s that 200,000 such rows cost to insert (typed columns: 1.1 s). The
 * columns are the keys the delivery put into `detail`: attempts, destinationRecordId, error,
 * origin, topic, partition, offset, capturedAt.
 *
 * Additive only: nullable columns without defaults (no table rewrite). Replicas of the previous
 * release keep writing `detail` and are read as before; readers of this release merge the typed
 * columns into `detail` (auditDetailSql), so rows of either release read the same. During a
 * rolling deploy a console of the previous release shows the rows new replicas wrote without
 * their detail (status change, event, time), until it is replaced.
 */
export class TypedAuditDetail1763800014000 implements MigrationInterface {
  name = 'TypedAuditDetail1763800014000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE audit_log
        ADD COLUMN attempts int,
        ADD COLUMN destination_record_id text,
        ADD COLUMN error text,
        ADD COLUMN origin text,
        ADD COLUMN topic text,
        ADD COLUMN topic_partition int,
        ADD COLUMN topic_offset text,
        ADD COLUMN captured_at timestamptz`);
  }

  async down(db: QueryRunner): Promise<void> {
    // The previous release reads detail only: fold the typed values into it first.
    await db.query(`
      UPDATE audit_log SET detail = detail || jsonb_strip_nulls(jsonb_build_object(
          'attempts', attempts, 'destinationRecordId', destination_record_id, 'error', error,
          'origin', origin, 'topic', topic, 'partition', topic_partition, 'offset', topic_offset,
          'capturedAt', captured_at))
       WHERE attempts IS NOT NULL OR destination_record_id IS NOT NULL OR error IS NOT NULL
          OR origin IS NOT NULL OR topic IS NOT NULL OR captured_at IS NOT NULL`);
    await db.query(`
      ALTER TABLE audit_log
        DROP COLUMN attempts, DROP COLUMN destination_record_id, DROP COLUMN error,
        DROP COLUMN origin, DROP COLUMN topic, DROP COLUMN topic_partition,
        DROP COLUMN topic_offset, DROP COLUMN captured_at`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How a customer was onboarded (issue 16): `onboarding_mode` is full_history, history_since,
 * from_now or poll_history, and `sync_from` is the moment its data starts (null: all of its
 * history). The reconciler's window check never reaches before `sync_from`, so a customer that
 * started "from now" is not sent its history by the backstop either.
 *
 * Additive only: two nullable columns without defaults (no table rewrite). Replicas of the
 * previous release neither read nor write them; a customer they create has neither (all of its
 * history, as before).
 *
 * Earlier releases left a customer created without a backfill in status `onboarding` for good,
 * where the reconciler never scheduled it. Such customers (no backfill of theirs pending or
 * running) were syncing all along: they become `live`, with mode poll_history.
 */
export class OnboardingModes1763800015000 implements MigrationInterface {
  name = 'OnboardingModes1763800015000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE customers
        ADD COLUMN onboarding_mode text
          CHECK (onboarding_mode IN ('full_history', 'history_since', 'from_now', 'poll_history')),
        ADD COLUMN sync_from timestamptz`);
    await db.query(`
      UPDATE customers c SET status = 'live', onboarding_mode = 'poll_history', updated_at = now()
       WHERE c.status = 'onboarding'
         AND NOT EXISTS (SELECT 1 FROM backfill_runs b
                          WHERE b.customer_id = c.id AND b.status IN ('pending', 'running'))`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE customers DROP COLUMN sync_from, DROP COLUMN onboarding_mode`);
  }
}

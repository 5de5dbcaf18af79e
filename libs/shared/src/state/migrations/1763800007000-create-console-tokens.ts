import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Read-only tokens for the sync-health console: each shows exactly one customer. Only a SHA-256
 * digest of the token is stored (the token itself is shown once, when it is issued), so a
 * database dump cannot be used to read a customer's console.
 */
export class CreateConsoleTokens1763800007000 implements MigrationInterface {
  name = 'CreateConsoleTokens1763800007000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE console_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        token_sha256 text NOT NULL UNIQUE,
        label text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      )`);
    await db.query(`CREATE INDEX ix_console_tokens_customer ON console_tokens (customer_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE console_tokens');
  }
}

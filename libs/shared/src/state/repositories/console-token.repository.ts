import { IsNull, type DataSource, type EntityManager } from 'typeorm';
import { ConsoleTokenEntity } from '../entities/console-token.entity';
import type { CustomerStatus } from '../entities/statuses';

/** A live (not revoked) console token found by its digest, with its customer's status. */
export interface LiveConsoleToken {
  id: string;
  customerId: string;
  customerStatus: CustomerStatus;
  lastUsedAt: Date | null;
}

/**
 * The console_tokens table's one owner: the submitter issues, lists, revokes and resolves console
 * tokens through it, and ingest's offboarding revokes a customer's tokens (in its transaction:
 * pass the EntityManager). Only SHA-256 digests are stored.
 */
export class ConsoleTokenRepository {
  constructor(private readonly db: DataSource | EntityManager) {}

  async issue(customerId: string, label: string, tokenSha256: string): Promise<ConsoleTokenEntity> {
    const repo = this.db.getRepository(ConsoleTokenEntity);
    return repo.save(repo.create({ customerId, label, tokenSha256 }));
  }

  async list(customerId: string): Promise<ConsoleTokenEntity[]> {
    return this.db
      .getRepository(ConsoleTokenEntity)
      .find({ where: { customerId }, order: { createdAt: 'ASC' } });
  }

  /** Revokes one token; false when it does not exist or was already revoked. */
  async revoke(tokenId: string): Promise<boolean> {
    const result = await this.db
      .getRepository(ConsoleTokenEntity)
      .update({ id: tokenId, revokedAt: IsNull() }, { revokedAt: new Date() });
    return (result.affected ?? 0) > 0;
  }

  /** Revokes every live token of a customer (offboarding); answers how many. */
  async revokeAllOf(customerId: string): Promise<number> {
    const result = await this.db
      .getRepository(ConsoleTokenEntity)
      .update({ customerId, revokedAt: IsNull() }, { revokedAt: new Date() });
    return result.affected ?? 0;
  }

  async exists(tokenId: string): Promise<boolean> {
    return this.db.getRepository(ConsoleTokenEntity).existsBy({ id: tokenId });
  }

  /** The live token with this digest and its customer's current status, or null. */
  async findLive(tokenSha256: string): Promise<LiveConsoleToken | null> {
    const [row] = await this.db.query<
      Array<{ id: string; customer_id: string; last_used_at: Date | null; status: CustomerStatus }>
    >(
      `SELECT t.id, t.customer_id, t.last_used_at, c.status
         FROM console_tokens t JOIN customers c ON c.id = t.customer_id
        WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL`,
      [tokenSha256],
    );
    return row
      ? {
          id: row.id,
          customerId: row.customer_id,
          customerStatus: row.status,
          lastUsedAt: row.last_used_at,
        }
      : null;
  }

  async touch(tokenId: string): Promise<void> {
    await this.db
      .getRepository(ConsoleTokenEntity)
      .update({ id: tokenId }, { lastUsedAt: new Date() });
  }
}

import { IsNull, type DataSource, type EntityManager } from 'typeorm';
import { ConsoleTokenEntity } from '../entities/console-token.entity';
import type { CustomerStatus } from '../entities/statuses';
import type { CustomerScope } from '../customer-scope';

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

  async issue(
    { customerId }: CustomerScope,
    label: string,
    tokenSha256: string,
  ): Promise<ConsoleTokenEntity> {
    const repo = this.db.getRepository(ConsoleTokenEntity);
    return repo.save(repo.create({ customerId, label, tokenSha256 }));
  }

  async list({ customerId }: CustomerScope): Promise<ConsoleTokenEntity[]> {
    return this.db
      .getRepository(ConsoleTokenEntity)
      .find({ where: { customerId }, order: { createdAt: 'ASC' } });
  }

  /** Revokes one of the customer's tokens; false when it has none by that ID or it was revoked. */
  async revoke({ customerId }: CustomerScope, tokenId: string): Promise<boolean> {
    const result = await this.db
      .getRepository(ConsoleTokenEntity)
      .update({ id: tokenId, customerId, revokedAt: IsNull() }, { revokedAt: new Date() });
    return (result.affected ?? 0) > 0;
  }

  /** Revokes every live token of a customer (offboarding); answers how many. */
  async revokeAllOf({ customerId }: CustomerScope): Promise<number> {
    const result = await this.db
      .getRepository(ConsoleTokenEntity)
      .update({ customerId, revokedAt: IsNull() }, { revokedAt: new Date() });
    return result.affected ?? 0;
  }

  /**
   * The customer a token (live or revoked) belongs to, or null. Across customers by design: the
   * operator's revoke call names only the token.
   */
  async ownerOfAcrossCustomers(tokenId: string): Promise<string | null> {
    const row = await this.db
      .getRepository(ConsoleTokenEntity)
      .findOne({ where: { id: tokenId }, select: { id: true, customerId: true } });
    return row?.customerId ?? null;
  }

  /**
   * The live token with this digest and its customer's current status, or null. Across customers
   * by design: the token is what tells which customer is asking.
   */
  async findLiveAcrossCustomers(tokenSha256: string): Promise<LiveConsoleToken | null> {
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

  async touch({ customerId }: CustomerScope, tokenId: string): Promise<void> {
    await this.db
      .getRepository(ConsoleTokenEntity)
      .update({ id: tokenId, customerId }, { lastUsedAt: new Date() });
  }
}

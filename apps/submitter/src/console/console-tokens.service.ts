import { createHash, randomBytes } from 'node:crypto';
import { Injectable, NotFoundException } from '@nestjs/common';
import { ConsoleTokenEntity, CustomerEntity } from '@raise-sync/shared/state';
import { DataSource, IsNull } from 'typeorm';

/** What a console token may see: every customer (the admin token) or exactly one. */
export type ConsoleViewer =
  { role: 'admin' } | { role: 'customer'; customerId: string; tokenId: string };

export interface IssuedConsoleToken {
  id: string;
  customerId: string;
  label: string;
  /** Shown once; only its SHA-256 digest is stored. */
  token: string;
  createdAt: Date;
}

export interface ConsoleTokenView {
  id: string;
  customerId: string;
  label: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const TOKEN_PREFIX = 'rsc_';
/** last_used_at is refreshed at most this often per token, so reads do not write on every request. */
const TOUCH_INTERVAL_MS = 60_000;

export const tokenDigest = (token: string): string =>
  createHash('sha256').update(token).digest('hex');

/** Per-customer read-only console tokens: issue, list, revoke, and resolve a presented token. */
@Injectable()
export class ConsoleTokens {
  constructor(private readonly db: DataSource) {}

  async issue(customerId: string, label: string): Promise<IssuedConsoleToken> {
    const customer = await this.db.getRepository(CustomerEntity).findOneBy({ id: customerId });
    if (!customer) {
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const repo = this.db.getRepository(ConsoleTokenEntity);
    const row = await repo.save(
      repo.create({ customerId, label, tokenSha256: tokenDigest(token) }),
    );
    return { id: row.id, customerId, label: row.label, token, createdAt: row.createdAt };
  }

  async list(customerId: string): Promise<ConsoleTokenView[]> {
    const rows = await this.db
      .getRepository(ConsoleTokenEntity)
      .find({ where: { customerId }, order: { createdAt: 'ASC' } });
    return rows.map(({ tokenSha256: _digest, ...view }) => view);
  }

  async revoke(tokenId: string): Promise<{ revoked: boolean }> {
    const result = await this.db
      .getRepository(ConsoleTokenEntity)
      .update({ id: tokenId, revokedAt: IsNull() }, { revokedAt: new Date() });
    return { revoked: (result.affected ?? 0) > 0 };
  }

  /** The customer a live (not revoked) token belongs to, or null. */
  async resolve(token: string): Promise<{ customerId: string; tokenId: string } | null> {
    if (!token.startsWith(TOKEN_PREFIX)) {
      return null;
    }
    const repo = this.db.getRepository(ConsoleTokenEntity);
    const row = await repo.findOneBy({ tokenSha256: tokenDigest(token), revokedAt: IsNull() });
    if (!row) {
      return null;
    }
    if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) {
      await repo.update({ id: row.id }, { lastUsedAt: new Date() });
    }
    return { customerId: row.customerId, tokenId: row.id };
  }
}

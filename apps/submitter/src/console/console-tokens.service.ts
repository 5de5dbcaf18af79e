import { createHash, randomBytes } from 'node:crypto';
import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import {
  ConsoleTokenRepository,
  CustomerRepository,
  customerScope,
  type CustomerEntity,
} from '@raise-sync/shared/state';

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

/** Who a presented token belongs to, or why it is refused. */
export type ResolvedConsoleToken =
  | { ok: true; customerId: string; tokenId: string }
  | { ok: false; reason: 'unknown_token' | 'customer_offboarded'; customerId: string | null };

/**
 * Per-customer read-only console tokens: issue, list, revoke, and resolve a presented token (the
 * rows belong to ConsoleTokenRepository). A token of an offboarded customer is refused even when
 * it was not revoked (offboarding revokes them; this holds if that was missed).
 */
@Injectable()
export class ConsoleTokens {
  constructor(
    private readonly tokens: ConsoleTokenRepository,
    private readonly customers: CustomerRepository,
  ) {}

  async issue(customerId: string, label: string): Promise<IssuedConsoleToken> {
    const customer = await this.requireCustomer(customerId);
    if (customer.status === 'offboarded') {
      throw new ConflictException(`customer ${customerId} is offboarded`);
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const row = await this.tokens.issue(customerScope(customerId), label, tokenDigest(token));
    return { id: row.id, customerId, label: row.label, token, createdAt: row.createdAt };
  }

  async list(customerId: string): Promise<ConsoleTokenView[]> {
    await this.requireCustomer(customerId);
    const rows = await this.tokens.list(customerScope(customerId));
    return rows.map(({ tokenSha256: _digest, ...view }) => view);
  }

  /** 404 for a token that never existed; `revoked: false` when it was already revoked. */
  async revoke(tokenId: string): Promise<{ revoked: boolean }> {
    const owner = await this.tokens.ownerOfAcrossCustomers(tokenId);
    if (owner === null) {
      throw new NotFoundException(`console token ${tokenId} does not exist`);
    }
    return { revoked: await this.tokens.revoke(customerScope(owner), tokenId) };
  }

  /** The customer a live (not revoked) token of a current (not offboarded) customer belongs to. */
  async resolve(token: string): Promise<ResolvedConsoleToken> {
    if (!token.startsWith(TOKEN_PREFIX)) {
      return { ok: false, reason: 'unknown_token', customerId: null };
    }
    const row = await this.tokens.findLiveAcrossCustomers(tokenDigest(token));
    if (!row) {
      return { ok: false, reason: 'unknown_token', customerId: null };
    }
    if (row.customerStatus === 'offboarded') {
      return { ok: false, reason: 'customer_offboarded', customerId: row.customerId };
    }
    if (!row.lastUsedAt || Date.now() - new Date(row.lastUsedAt).getTime() > TOUCH_INTERVAL_MS) {
      await this.tokens.touch(customerScope(row.customerId), row.id);
    }
    return { ok: true, customerId: row.customerId, tokenId: row.id };
  }

  private async requireCustomer(customerId: string): Promise<CustomerEntity> {
    const customer = await this.customers.get(customerScope(customerId));
    if (!customer) {
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
    return customer;
  }
}

import { isUuid } from '@raise-sync/shared/service';
import { Inject, Injectable } from '@nestjs/common';
import { SecretBox } from '@raise-sync/shared/crypto';
import {
  CustomerRepository,
  customerScope,
  type CustomerCredentials,
  type CustomerScope,
  type CustomerStatus,
} from '@raise-sync/shared/state';

/** What the hot paths need to know about a customer; credentials are decrypted in memory only. */
export interface CustomerView {
  id: string;
  /** The customer's repository scope, made once per load so hot paths allocate none per request. */
  scope: CustomerScope;
  name: string;
  status: CustomerStatus;
  credentials: CustomerCredentials;
}

const TTL_MS = 5000;

/**
 * Customer lookups for webhooks and pollers, cached for a few seconds so a burst of deliveries
 * costs one query per customer, not one per request. Unknown IDs are cached too, so a flood of
 * requests for made-up customers cannot hammer the database. Admin changes in this process
 * invalidate at once; other replicas see them within TTL_MS.
 */
@Injectable()
export class CustomerDirectory {
  private readonly cache = new Map<
    string,
    { expires: number; value: Promise<CustomerView | null> }
  >();

  constructor(
    private readonly repository: CustomerRepository,
    @Inject(SecretBox) private readonly box: SecretBox,
  ) {}

  static isCustomerId(value: string): boolean {
    return isUuid(value);
  }

  get(customerId: string): Promise<CustomerView | null> {
    if (!CustomerDirectory.isCustomerId(customerId)) {
      return Promise.resolve(null);
    }
    const now = Date.now();
    const hit = this.cache.get(customerId);
    if (hit && hit.expires > now) {
      return hit.value;
    }
    const value = this.load(customerId);
    this.cache.set(customerId, { expires: now + TTL_MS, value });
    value.catch(() => this.cache.delete(customerId));
    if (this.cache.size > 10_000) {
      for (const [key, entry] of this.cache) {
        if (entry.expires <= now) {
          this.cache.delete(key);
        }
      }
    }
    return value;
  }

  invalidate(customerId: string): void {
    this.cache.delete(customerId);
  }

  /** Only called with a checked ID (`isCustomerId`), so `customerScope` cannot throw here. */
  private async load(customerId: string): Promise<CustomerView | null> {
    const scope = customerScope(customerId);
    const row = await this.repository.get(scope);
    if (!row) {
      return null;
    }
    return {
      id: row.id,
      scope,
      name: row.name,
      status: row.status,
      credentials: row.credentials ? this.box.openJson<CustomerCredentials>(row.credentials) : {},
    };
  }
}

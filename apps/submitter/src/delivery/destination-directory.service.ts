import { DestinationRepository } from '@raise-sync/shared/state';
import { Inject, Injectable } from '@nestjs/common';
import { destinationContext, type DestinationContext } from '@raise-sync/destinations';
import { SecretBox } from '@raise-sync/shared/crypto';
import { customerScope } from '@raise-sync/shared/state';

const TTL_MS = 5000;

/**
 * Enabled destinations per customer (with decrypted adapter secrets, in memory only), cached for a
 * few seconds so a busy partition does not query them per batch. A change through the admin API
 * takes effect at once on the replica that took it (`invalidate`) and within TTL_MS elsewhere.
 */
@Injectable()
export class DestinationDirectory {
  private readonly cache = new Map<
    string,
    { expires: number; value: Promise<DestinationContext[]> }
  >();

  constructor(
    private readonly destinations: DestinationRepository,
    @Inject(SecretBox) private readonly box: SecretBox,
  ) {}

  forCustomer(customerId: string): Promise<DestinationContext[]> {
    const now = Date.now();
    const hit = this.cache.get(customerId);
    if (hit && hit.expires > now) {
      return hit.value;
    }
    const value = this.load(customerId);
    this.cache.set(customerId, { expires: now + TTL_MS, value });
    value.catch(() => this.cache.delete(customerId));
    return value;
  }

  /** Forgets the customer's cached destinations: the next batch reads them again. */
  invalidate(customerId: string): void {
    this.cache.delete(customerId);
  }

  /** One destination by ID, enabled or not (retries and dead-letter replays name it). */
  async byId(destinationId: string): Promise<(DestinationContext & { enabled: boolean }) | null> {
    const row = await this.destinations.byIdAcrossCustomers(destinationId);
    return row ? { ...destinationContext(row, this.box), enabled: row.enabled } : null;
  }

  private async load(customerId: string): Promise<DestinationContext[]> {
    const rows = await this.destinations.enabled(customerScope(customerId));
    return rows.map((row) => destinationContext(row, this.box));
  }
}

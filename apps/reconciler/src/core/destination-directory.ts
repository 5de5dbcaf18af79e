import { DestinationRepository } from '@raise-sync/shared/state';
import { Inject, Injectable } from '@nestjs/common';
import {
  AdapterRegistry,
  WarehouseAdapter,
  type DestinationAdapter,
  type DestinationContext,
} from '@raise-sync/destinations';
import { SecretBox } from '@raise-sync/shared/crypto';
import type { CustomerScope } from '@raise-sync/shared/state';

/** One enabled destination of a customer with the adapter that reaches it. */
export interface ReconcileTarget {
  ctx: DestinationContext;
  adapter: DestinationAdapter;
}

/**
 * The customer's enabled destinations (decrypted adapter secrets in memory only), read fresh for
 * every run, with one adapter instance per destination kind for the whole process.
 */
@Injectable()
export class DestinationDirectory {
  constructor(
    private readonly destinations: DestinationRepository,
    @Inject(SecretBox) private readonly box: SecretBox,
    private readonly adapters: AdapterRegistry,
  ) {}

  async enabled(customer: CustomerScope): Promise<ReconcileTarget[]> {
    const rows = await this.destinations.enabled(customer);
    return rows.flatMap((row) => {
      if (!this.adapters.has(row.kind)) {
        return [];
      }
      const adapter = this.adapters.get(row.kind);
      const ctx: DestinationContext = {
        customerId: row.customerId,
        destinationId: row.id,
        name: row.name,
        kind: row.kind,
        config: row.config,
        secrets: row.secrets ? this.box.openJson<Record<string, string>>(row.secrets) : {},
      };
      return [{ ctx, adapter }];
    });
  }

  /** The warehouse adapter, for its batched lookups. */
  warehouse(): WarehouseAdapter {
    const adapter = this.adapters.has('warehouse') ? this.adapters.get('warehouse') : null;
    if (!(adapter instanceof WarehouseAdapter)) {
      throw new Error('no warehouse adapter in this process');
    }
    return adapter;
  }
}

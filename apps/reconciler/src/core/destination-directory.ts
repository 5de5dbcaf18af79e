import { Inject, Injectable } from '@nestjs/common';
import {
  WarehouseAdapter,
  type DestinationAdapter,
  type DestinationContext,
} from '@raise-sync/destinations';
import { SecretBox } from '@raise-sync/shared/crypto';
import type { CustomerScope, DestinationKind } from '@raise-sync/shared/state';
import { DESTINATION_ADAPTERS, DestinationRepository } from './destination.repository';

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
  private readonly adapters: Map<DestinationKind, DestinationAdapter>;

  constructor(
    private readonly destinations: DestinationRepository,
    @Inject(SecretBox) private readonly box: SecretBox,
    @Inject(DESTINATION_ADAPTERS) adapters: DestinationAdapter[],
  ) {
    this.adapters = new Map(adapters.map((a) => [a.kind, a]));
  }

  async enabled(customer: CustomerScope): Promise<ReconcileTarget[]> {
    const rows = await this.destinations.enabled(customer);
    return rows.flatMap((row) => {
      const adapter = this.adapters.get(row.kind);
      if (!adapter) {
        return [];
      }
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
    const adapter = this.adapters.get('warehouse');
    if (!(adapter instanceof WarehouseAdapter)) {
      throw new Error('no warehouse adapter in this process');
    }
    return adapter;
  }
}

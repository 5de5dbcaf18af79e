import { Inject, Injectable } from '@nestjs/common';
import {
  AdapterRegistry,
  WarehouseAdapter,
  destinationContext,
  type DestinationAdapter,
  type DestinationContext,
} from '@raise-sync/destinations';
import { SecretBox } from '@raise-sync/shared/crypto';
import { DestinationRepository, type CustomerScope } from '@raise-sync/shared/state';

/** One enabled destination of a customer with the adapter that reaches it. */
export interface ReconcileTarget {
  ctx: DestinationContext;
  adapter: DestinationAdapter;
}

/**
 * What a reconciliation run compares against: the customer's enabled destinations that this
 * process has an adapter for, read fresh for every run (the submitter's DestinationDirectory
 * caches them for delivery instead), with one adapter instance per kind for the whole process.
 */
@Injectable()
export class ReconcileTargets {
  constructor(
    private readonly destinations: DestinationRepository,
    @Inject(SecretBox) private readonly box: SecretBox,
    private readonly adapters: AdapterRegistry,
  ) {}

  async enabled(customer: CustomerScope): Promise<ReconcileTarget[]> {
    const rows = await this.destinations.enabled(customer);
    return rows.flatMap((row) =>
      this.adapters.has(row.kind)
        ? [{ ctx: destinationContext(row, this.box), adapter: this.adapters.get(row.kind) }]
        : [],
    );
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

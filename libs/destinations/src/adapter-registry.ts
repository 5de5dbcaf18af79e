import type { DestinationKind } from '@raise-sync/shared/state';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { AccountingAdapter } from './accounting/accounting.adapter';
import { CrmPlusAdapter } from './crm-plus/crm-plus.adapter';
import type { DestinationHttpOptions } from './http/destination-http';
import { MarketingAdapter } from './marketing/marketing.adapter';
import type { DestinationAdapter } from './port';
import { WarehouseAdapter, type WarehouseAdapterOptions } from './warehouse/warehouse.adapter';
import { WebhookAdapter } from './webhook/webhook.adapter';

/** What the adapters of one process are built from. */
export interface AdapterDeps {
  /** The warehouse database (the state store's DataSource, or a pg Pool). Without it: no warehouse adapter. */
  dataSource?: DataSource;
  pool?: Pool;
  warehouse?: WarehouseAdapterOptions;
  /** Timeout, fetch, clock, User-Agent for the HTTP adapters. */
  http?: DestinationHttpOptions;
}

/** One adapter of the given kind; throws when its dependency is missing. */
export function createAdapter(kind: DestinationKind, deps: AdapterDeps = {}): DestinationAdapter {
  switch (kind) {
    case 'warehouse': {
      const db = deps.dataSource ?? deps.pool;
      if (!db) {
        throw new Error('the warehouse adapter needs a dataSource or a pool');
      }
      return new WarehouseAdapter(db, deps.warehouse);
    }
    case 'crm-plus':
      return new CrmPlusAdapter(deps.http);
    case 'accounting':
      return new AccountingAdapter(deps.http);
    case 'marketing':
      return new MarketingAdapter(deps.http);
    case 'webhook':
      return new WebhookAdapter(deps.http);
  }
}

/** Every adapter the deps allow (the warehouse only with a database), one per kind. */
export function createAdapters(deps: AdapterDeps = {}): DestinationAdapter[] {
  const kinds: DestinationKind[] = ['crm-plus', 'accounting', 'marketing', 'webhook'];
  if (deps.dataSource ?? deps.pool) {
    kinds.unshift('warehouse');
  }
  return kinds.map((kind) => createAdapter(kind, deps));
}

/** One adapter instance per destination kind for a process; they serve every customer. */
export class AdapterRegistry {
  private readonly adapters: Map<DestinationKind, DestinationAdapter>;

  constructor(adapters: readonly DestinationAdapter[]) {
    this.adapters = new Map(adapters.map((adapter) => [adapter.kind, adapter]));
  }

  static create(deps: AdapterDeps = {}): AdapterRegistry {
    return new AdapterRegistry(createAdapters(deps));
  }

  get(kind: DestinationKind): DestinationAdapter {
    const adapter = this.adapters.get(kind);
    if (!adapter) {
      throw new Error(`no adapter for destination kind '${kind}'`);
    }
    return adapter;
  }

  has(kind: DestinationKind): boolean {
    return this.adapters.has(kind);
  }

  kinds(): DestinationKind[] {
    return [...this.adapters.keys()];
  }
}

/**
 * The process's registry as a Nest provider (`providers: [adapterRegistryProvider]`, then inject
 * `AdapterRegistry`). The warehouse adapter writes its tables on the state store's DataSource,
 * which apps never hold themselves (their state access goes through repositories).
 */
export const adapterRegistryProvider = {
  provide: AdapterRegistry,
  inject: [DataSource],
  useFactory: (db: DataSource): AdapterRegistry =>
    new AdapterRegistry(createAdapters({ dataSource: db })),
};

import { Injectable } from '@nestjs/common';
import { createAdapters, type DestinationAdapter } from '@raise-sync/destinations';
import type { DestinationKind } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

/** One adapter instance per destination kind for this process (they serve every customer). */
@Injectable()
export class AdapterRegistry {
  private readonly adapters: Map<DestinationKind, DestinationAdapter>;

  constructor(db: DataSource) {
    this.adapters = new Map(createAdapters({ dataSource: db }).map((a) => [a.kind, a]));
  }

  get(kind: DestinationKind): DestinationAdapter {
    const adapter = this.adapters.get(kind);
    if (!adapter) {
      throw new Error(`no adapter for destination kind '${kind}'`);
    }
    return adapter;
  }
}

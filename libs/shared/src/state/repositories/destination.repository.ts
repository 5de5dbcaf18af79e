import type { DataSource } from 'typeorm';
import type { CustomerScope } from '../customer-scope';
import { DestinationEntity } from '../entities/destination.entity';
import type { DestinationKind } from '../entities/statuses';

/** One destination as the admin API sets it. Secrets come sealed. */
export interface DestinationSpec {
  name: string;
  kind: DestinationKind;
  /** Absent: keep the stored config (or `{}` for a new destination). */
  config: Record<string, unknown> | undefined;
  /** Sealed secrets; absent: keep the stored ones (or none for a new destination). */
  secrets: Buffer | undefined;
  enabled: boolean;
}

/** A destination as the admin APIs show it: its settings and whether it has secrets, never them. */
export interface DestinationView {
  id: string;
  kind: DestinationKind;
  name: string;
  enabled: boolean;
  config: Record<string, unknown>;
  hasSecrets: boolean;
}

export const destinationView = (row: DestinationEntity): DestinationView => ({
  id: row.id,
  kind: row.kind,
  name: row.name,
  enabled: row.enabled,
  config: row.config,
  hasSecrets: row.secrets !== null,
});

/**
 * The destinations table's one owner. The submitter's admin API replaces a customer's destinations
 * as a set (ingest's offboarding disables them in its own transaction); the submitter, reconciler
 * and backfiller read them. Rows carry the sealed secrets; only the code that calls out opens them.
 */
export class DestinationRepository {
  constructor(private readonly db: DataSource) {}

  /** Every destination of the customer, by name. */
  async list({ customerId }: CustomerScope): Promise<DestinationEntity[]> {
    return this.db
      .getRepository(DestinationEntity)
      .find({ where: { customerId }, order: { name: 'ASC' } });
  }

  /** The customer's enabled destinations, by name. */
  async enabled({ customerId }: CustomerScope): Promise<DestinationEntity[]> {
    return this.db
      .getRepository(DestinationEntity)
      .find({ where: { customerId, enabled: true }, order: { name: 'ASC' } });
  }

  /** Every destination of this kind of the customer, enabled or not. */
  async ofKind({ customerId }: CustomerScope, kind: DestinationKind): Promise<DestinationEntity[]> {
    return this.db.getRepository(DestinationEntity).find({ where: { customerId, kind } });
  }

  /** The customer's first enabled destination of this kind, by name, or null. */
  async firstEnabled(
    { customerId }: CustomerScope,
    kind: DestinationKind,
  ): Promise<DestinationEntity | null> {
    return this.db.getRepository(DestinationEntity).findOne({
      where: { customerId, kind, enabled: true },
      order: { name: 'ASC' },
    });
  }

  /** The customer's destination with that ID, or null (also when it is another customer's). */
  async find(
    { customerId }: CustomerScope,
    destinationId: string,
  ): Promise<DestinationEntity | null> {
    return this.db.getRepository(DestinationEntity).findOneBy({ id: destinationId, customerId });
  }

  /** Whether the customer still has the destination with that ID. */
  async exists({ customerId }: CustomerScope, destinationId: string): Promise<boolean> {
    return this.db.getRepository(DestinationEntity).existsBy({ id: destinationId, customerId });
  }

  /**
   * One destination by ID, enabled or not. Across customers: a retry message or a lane names
   * only the destination, and the caller checks the row's customer against the event's.
   */
  async byIdAcrossCustomers(destinationId: string): Promise<DestinationEntity | null> {
    return this.db.getRepository(DestinationEntity).findOneBy({ id: destinationId });
  }

  /**
   * Saves the given destinations (matched by name) in one transaction. Destinations left out are
   * disabled, not deleted: their sync history stays answerable.
   */
  async replace({ customerId }: CustomerScope, specs: DestinationSpec[]): Promise<void> {
    const names = new Set(specs.map((d) => d.name));
    await this.db.transaction(async (tx) => {
      const repo = tx.getRepository(DestinationEntity);
      const existing = await repo.findBy({ customerId });
      for (const d of specs) {
        const current = existing.find((e) => e.name === d.name);
        await repo.save(
          repo.create({
            ...(current ?? { customerId, name: d.name }),
            kind: d.kind,
            config: d.config ?? current?.config ?? {},
            secrets: d.secrets ?? current?.secrets ?? null,
            enabled: d.enabled,
          }),
        );
      }
      for (const e of existing.filter((x) => !names.has(x.name))) {
        await repo.update({ id: e.id, customerId }, { enabled: false });
      }
    });
  }
}

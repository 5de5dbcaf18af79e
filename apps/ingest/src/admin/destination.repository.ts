import { Injectable } from '@nestjs/common';
import {
  DestinationEntity,
  type CustomerScope,
  type DestinationKind,
} from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

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

/**
 * A customer's destinations (`destinations`) as the admin side sees them: listed, replaced as a
 * set, and looked up by kind. Offboarding disables them in OnboardingRepository's transaction.
 */
@Injectable()
export class DestinationRepository {
  constructor(private readonly db: DataSource) {}

  async list({ customerId }: CustomerScope): Promise<DestinationEntity[]> {
    return this.db
      .getRepository(DestinationEntity)
      .find({ where: { customerId }, order: { name: 'ASC' } });
  }

  /** The customer's first enabled destination of this kind, by name. */
  async firstEnabled(
    { customerId }: CustomerScope,
    kind: DestinationKind,
  ): Promise<DestinationEntity | null> {
    return this.db.getRepository(DestinationEntity).findOne({
      where: { customerId, kind, enabled: true },
      order: { name: 'ASC' },
    });
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
        await repo.update({ id: e.id }, { enabled: false });
      }
    });
  }
}

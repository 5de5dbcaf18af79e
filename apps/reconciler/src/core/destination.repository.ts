import { Injectable } from '@nestjs/common';
import { DestinationEntity, type CustomerScope } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

/**
 * The customer's destinations (the destinations table, read only here: the submitter's admin
 * API owns them). Rows carry the sealed secrets; DestinationDirectory opens them.
 */
@Injectable()
export class DestinationRepository {
  constructor(private readonly db: DataSource) {}

  /** The customer's enabled destinations, by name. */
  async enabled({ customerId }: CustomerScope): Promise<DestinationEntity[]> {
    return this.db
      .getRepository(DestinationEntity)
      .find({ where: { customerId, enabled: true }, order: { name: 'ASC' } });
  }

  /** Every CRM+ destination of the customer, enabled or not. */
  async crmPlus({ customerId }: CustomerScope): Promise<DestinationEntity[]> {
    return this.db
      .getRepository(DestinationEntity)
      .find({ where: { customerId, kind: 'crm-plus' } });
  }

  /** The customer's first enabled CRM+ destination by name, or null. */
  async firstEnabledCrmPlus({ customerId }: CustomerScope): Promise<DestinationEntity | null> {
    return this.db.getRepository(DestinationEntity).findOne({
      where: { customerId, kind: 'crm-plus', enabled: true },
      order: { name: 'ASC' },
    });
  }
}

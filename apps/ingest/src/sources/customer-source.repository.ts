import { Injectable } from '@nestjs/common';
import {
  CustomerSourceEntity,
  type CustomerScope,
  type SourceName,
} from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';

/**
 * A customer's sources (`customer_sources`): polling settings, the registered webhook and the
 * health of the source token. Rows are created and reconfigured in the onboarding transactions
 * (OnboardingRepository); this class reads them and records token health.
 */
@Injectable()
export class CustomerSourceRepository {
  constructor(private readonly db: DataSource) {}

  async get(
    { customerId }: CustomerScope,
    source: SourceName,
  ): Promise<CustomerSourceEntity | null> {
    return this.db.getRepository(CustomerSourceEntity).findOneBy({ customerId, source });
  }

  async list({ customerId }: CustomerScope): Promise<CustomerSourceEntity[]> {
    return this.db
      .getRepository(CustomerSourceEntity)
      .find({ where: { customerId }, order: { source: 'ASC' } });
  }

  async markFailing(
    { customerId }: CustomerScope,
    source: SourceName,
    reason: string,
  ): Promise<void> {
    await this.db
      .getRepository(CustomerSourceEntity)
      .update(
        { customerId, source },
        { credentialStatus: 'failing', credentialError: reason, credentialCheckedAt: new Date() },
      );
  }

  async markValid({ customerId }: CustomerScope, source: SourceName): Promise<void> {
    await this.db
      .getRepository(CustomerSourceEntity)
      .update(
        { customerId, source },
        { credentialStatus: 'valid', credentialError: null, credentialCheckedAt: new Date() },
      );
  }

  /**
   * Every customer's failing tokens. Across customers: at startup the alert gauge is restored
   * for all of them at once.
   */
  async failingAcrossCustomers(): Promise<CustomerSourceEntity[]> {
    return this.db.getRepository(CustomerSourceEntity).findBy({ credentialStatus: 'failing' });
  }
}

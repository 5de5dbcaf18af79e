import { Inject, Injectable } from '@nestjs/common';
import { SecretBox } from '@raise-sync/shared/crypto';
import { CustomerRepository, type SourceName, customerScope } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';
import type { SourceCredentials } from '../source/source-reader.service';
import { MissingTokenError } from './failure';

/** A customer's source token, opened from its sealed credentials when a worker needs it. */
@Injectable()
export class CustomerCredentialsReader {
  private readonly customers: CustomerRepository;

  constructor(db: DataSource, @Inject(SecretBox) box: SecretBox) {
    this.customers = new CustomerRepository(db, box);
  }

  async forSource(customerId: string, source: SourceName): Promise<SourceCredentials> {
    const token = (await this.customers.credentials(customerScope(customerId)))[source]?.apiToken;
    if (!token) {
      throw new MissingTokenError(customerId, source);
    }
    return { customerId, token };
  }
}

import { Injectable } from '@nestjs/common';
import { CustomerRepository, type SourceName, customerScope } from '@raise-sync/shared/state';
import type { SourceCredentials } from '../source/source-reader.service';
import { MissingTokenError } from './failure';

/** A customer's source token, opened from its sealed credentials when a worker needs it. */
@Injectable()
export class CustomerCredentialsReader {
  constructor(private readonly customers: CustomerRepository) {}

  async forSource(customerId: string, source: SourceName): Promise<SourceCredentials> {
    const token = (await this.customers.credentials(customerScope(customerId)))[source]?.apiToken;
    if (!token) {
      throw new MissingTokenError(customerId, source);
    }
    return { customerId, token };
  }
}

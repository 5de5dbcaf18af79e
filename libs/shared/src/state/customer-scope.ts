import { isUuid } from '../service/request-params';

declare const scoped: unique symbol;

/**
 * The tenant key every customer-scoped repository method takes first. It can only be made by
 * `customerScope`, which checks the ID with the same rule as every other path (a UUID), so a
 * query for one customer cannot be written with a bare string, and a query across customers has
 * to be a method named for it (`…AcrossCustomers`). The lint rule `raise-sync/customer-scope`
 * holds every repository to this.
 */
export interface CustomerScope {
  readonly customerId: string;
  readonly [scoped]: true;
}

/** Thrown for an ID that is not a customer ID; a caller that validated its input never sees it. */
export class InvalidCustomerIdError extends Error {
  constructor() {
    super('not a customer ID (a UUID is expected)');
    this.name = 'InvalidCustomerIdError';
  }
}

/** The scope of one customer, lower-cased as PostgreSQL returns UUIDs. The ID is never echoed. */
export function customerScope(customerId: string): CustomerScope {
  if (!isUuid(customerId)) {
    throw new InvalidCustomerIdError();
  }
  return Object.freeze({ customerId: customerId.toLowerCase() }) as CustomerScope;
}

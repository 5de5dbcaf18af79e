import type { DataSource } from 'typeorm';
import type { SecretBox } from '../../crypto/secret-box';
import { CustomerEntity } from '../entities/customer.entity';
import type { CustomerStatus } from '../entities/statuses';
import type { CustomerScope } from '../customer-scope';

/** Per-source secrets of a customer; stored sealed, returned only to code that needs to call out. */
export interface CustomerCredentials {
  raise?: { apiToken?: string; webhookSecret?: string };
  vomo?: { apiToken?: string; webhookSecret?: string };
  /**
   * The CRM+ webhook subscription ingest registered for the dual-webhook check: its signing
   * secret, the subscription ID at CRM+, and the source names that mark a CRM+ record as coming
   * from Raise (copied from the CRM+ destination when registering).
   */
  crmPlus?: {
    webhookSecret?: string;
    subscriptionId?: string;
    destinationId?: string;
    transactionSource?: string;
    referenceSource?: string;
  };
}

/** Customers and their sealed credentials. Plaintext secrets exist only in memory, briefly. */
export class CustomerRepository {
  constructor(
    private readonly db: DataSource,
    private readonly box: SecretBox,
  ) {}

  /** Creates the customer under the scope's ID (the caller makes a new one: `customerScope(randomUUID())`). */
  async create(
    { customerId }: CustomerScope,
    input: {
      name: string;
      status?: CustomerStatus;
      credentials?: CustomerCredentials;
    },
  ): Promise<CustomerEntity> {
    const credentials = input.credentials ? this.box.sealJson(input.credentials) : null;
    // The columns every release has, by name: a replica (or test harness) of this release works
    // on the previous release's schema too, before a rolling deploy's migration adds columns.
    const rows: Array<{ created_at: Date; updated_at: Date }> = await this.db.query(
      `INSERT INTO customers (id, name, status, credentials) VALUES ($1, $2, $3, $4)
       RETURNING created_at, updated_at`,
      [customerId, input.name, input.status ?? 'onboarding', credentials],
    );
    const row = rows[0] as { created_at: Date; updated_at: Date };
    return this.db.getRepository(CustomerEntity).create({
      id: customerId,
      name: input.name,
      status: input.status ?? 'onboarding',
      credentials,
      onboardingMode: null,
      syncFrom: null,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    });
  }

  async get({ customerId }: CustomerScope): Promise<CustomerEntity | null> {
    return this.db.getRepository(CustomerEntity).findOneBy({ id: customerId });
  }

  async setStatus({ customerId }: CustomerScope, status: CustomerStatus): Promise<void> {
    await this.db.getRepository(CustomerEntity).update({ id: customerId }, { status });
  }

  async setCredentials(
    { customerId }: CustomerScope,
    credentials: CustomerCredentials,
  ): Promise<void> {
    await this.db
      .getRepository(CustomerEntity)
      .update({ id: customerId }, { credentials: this.box.sealJson(credentials) });
  }

  /** Decrypted credentials, or an empty object when none were stored. */
  async credentials({ customerId }: CustomerScope): Promise<CustomerCredentials> {
    const row = await this.db.getRepository(CustomerEntity).findOne({
      where: { id: customerId },
      select: { id: true, credentials: true },
    });
    if (!row) {
      throw new Error(`customer ${customerId} does not exist`);
    }
    return row.credentials ? this.box.openJson<CustomerCredentials>(row.credentials) : {};
  }
}

import { Injectable } from '@nestjs/common';
import { SOURCE_RESOURCES } from '@raise-sync/shared/events';
import {
  CheckpointRepository,
  ConsoleTokenRepository,
  CustomerPurgeRepository,
  CustomerEntity,
  CustomerSourceEntity,
  DestinationEntity,
  type CustomerScope,
  type CustomerStatus,
  type OnboardingMode,
  type SourceName,
} from '@raise-sync/shared/state';
import { DataSource, type EntityManager } from 'typeorm';

/** A source to add to a customer, with its polling settings already resolved. */
export interface NewSource {
  source: SourceName;
  pollingEnabled: boolean;
  pollIntervalSeconds: number;
}

/** The onboarding backfill: one pending run per (source, resource), over an optional window. */
export interface BackfillRequest {
  modifiedFrom: string | null;
  modifiedTo: string | null;
  targets: Array<{ source: SourceName; resource: string }>;
}

/** A change to one source of a customer (`updateSource`). Credentials come sealed. */
export interface SourceChange {
  /** Added when the customer does not have the source yet; null: the source must exist. */
  addIfMissing: NewSource | null;
  /** Polling settings for an existing source; absent fields are left as they are. */
  polling: { enabled?: boolean; intervalSeconds?: number } | null;
  /** The customer's new sealed credentials, or null to leave them. */
  credentials: Buffer | null;
}

/**
 * The admin API's multi-table writes, each one transaction: creating a customer with its
 * sources, poll schedule, onboarding backfill runs or from-now checkpoints (`customers`,
 * `customer_sources`, `poll_schedule`, `backfill_runs`, `checkpoints`), reconfiguring a source, recording a registered Raise webhook,
 * and offboarding (`customers`, `customer_sources`, `destinations`, `console_tokens`). Secrets
 * arrive sealed: this class never sees plaintext.
 */
@Injectable()
export class OnboardingRepository {
  constructor(private readonly db: DataSource) {}

  /** Creates the customer under the scope's ID (the caller makes it: `customerScope(randomUUID())`). */
  async create(
    scope: CustomerScope,
    customer: {
      name: string;
      status: CustomerStatus;
      credentials: Buffer;
      onboardingMode: OnboardingMode;
      syncFrom: Date | null;
    },
    sources: NewSource[],
    backfill: BackfillRequest | null,
    checkpointsAt: Date | null,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.getRepository(CustomerEntity).insert({
        id: scope.customerId,
        name: customer.name,
        status: customer.status,
        credentials: customer.credentials,
        onboardingMode: customer.onboardingMode,
        syncFrom: customer.syncFrom,
      });
      for (const source of sources) {
        await this.addSource(tx, scope, source);
        if (checkpointsAt) {
          // From now on: every poll of the source starts at this moment, not at its history.
          const checkpoints = new CheckpointRepository(tx);
          for (const resource of SOURCE_RESOURCES[source.source]) {
            await checkpoints.advance(scope, source.source, resource, 'inbound', {
              at: checkpointsAt,
              id: '0',
            });
          }
        }
      }
      if (backfill) {
        await this.requestBackfill(tx, scope, backfill);
      }
    });
  }

  /**
   * Adds or reconfigures one source and stores new credentials, in one transaction. Answers
   * 'source_missing' (and writes nothing) when the source is new and `addIfMissing` is null.
   */
  async updateSource(
    scope: CustomerScope,
    source: SourceName,
    change: SourceChange,
  ): Promise<'updated' | 'source_missing'> {
    const { customerId } = scope;
    return this.db.transaction(async (tx) => {
      const existing = await tx
        .getRepository(CustomerSourceEntity)
        .findOneBy({ customerId, source });
      if (!existing) {
        if (!change.addIfMissing) {
          return 'source_missing';
        }
        await this.addSource(tx, scope, change.addIfMissing);
      } else if (change.polling) {
        const polling = change.polling;
        await tx.getRepository(CustomerSourceEntity).update(
          { customerId, source },
          {
            ...(polling.enabled !== undefined ? { pollingEnabled: polling.enabled } : {}),
            ...(polling.intervalSeconds !== undefined
              ? { pollIntervalSeconds: polling.intervalSeconds }
              : {}),
          },
        );
      }
      if (change.credentials) {
        await tx
          .getRepository(CustomerEntity)
          .update({ id: customerId }, { credentials: change.credentials });
      }
      return 'updated';
    });
  }

  /** Stores the credentials holding the webhook secret and the Raise subscription ID together. */
  async saveRaiseWebhook(
    { customerId }: CustomerScope,
    credentials: Buffer,
    subscriptionId: string,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.getRepository(CustomerEntity).update({ id: customerId }, { credentials });
      await tx
        .getRepository(CustomerSourceEntity)
        .update({ customerId, source: 'raise' }, { webhookSubscriptionId: subscriptionId });
    });
  }

  /**
   * Offboards: status offboarded with credentials erased, polling off and webhook forgotten,
   * destinations disabled with their secrets erased, console tokens revoked, the purge scheduled.
   */
  async offboard(scope: CustomerScope, purge: { after: Date; warehouse: boolean }): Promise<void> {
    const { customerId } = scope;
    await this.db.transaction(async (tx: EntityManager) => {
      await tx
        .getRepository(CustomerEntity)
        .update({ id: customerId }, { status: 'offboarded', credentials: null });
      await tx
        .getRepository(CustomerSourceEntity)
        .update({ customerId }, { pollingEnabled: false, webhookSubscriptionId: null });
      await tx
        .getRepository(DestinationEntity)
        .update({ customerId }, { enabled: false, secrets: null });
      // The customer's sync-health console goes dark with it.
      await new ConsoleTokenRepository(tx).revokeAllOf(scope);
      // Its state is kept until the purge (the purge job removes it from every table).
      await new CustomerPurgeRepository(tx).schedule(scope, purge.after, purge.warehouse);
    });
  }

  /** Every customer, oldest first. Across customers: the operator's customer list. */
  async listAcrossCustomers(): Promise<CustomerEntity[]> {
    return this.db.getRepository(CustomerEntity).find({ order: { createdAt: 'ASC' } });
  }

  private async addSource(
    tx: EntityManager,
    { customerId }: CustomerScope,
    { source, pollingEnabled, pollIntervalSeconds }: NewSource,
  ): Promise<void> {
    await tx.getRepository(CustomerSourceEntity).insert({
      customerId,
      source,
      pollingEnabled,
      pollIntervalSeconds,
      credentialStatus: 'valid',
      credentialCheckedAt: new Date(),
    });
    for (const resource of SOURCE_RESOURCES[source]) {
      await tx.query(
        `INSERT INTO poll_schedule (customer_id, source, resource) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
        [customerId, source, resource],
      );
    }
  }

  /**
   * One pending backfill run per resource (trigger 'onboarding'), for the backfiller to plan.
   * Polling of those resources is deferred (next_poll_at = infinity) until the backfiller hands
   * over: with no checkpoint yet, a poll would otherwise read the whole history a second time.
   * Webhooks are accepted throughout and flow into the same topics.
   */
  private async requestBackfill(
    tx: EntityManager,
    { customerId }: CustomerScope,
    backfill: BackfillRequest,
  ): Promise<void> {
    for (const { source, resource } of backfill.targets) {
      await tx.query(
        `INSERT INTO backfill_runs (customer_id, source, resource, modified_from, modified_to, trigger, status)
         VALUES ($1, $2, $3, $4, $5, 'onboarding', 'pending')`,
        [customerId, source, resource, backfill.modifiedFrom, backfill.modifiedTo],
      );
      await tx.query(
        `UPDATE poll_schedule SET next_poll_at = 'infinity'
          WHERE customer_id = $1 AND source = $2 AND resource = $3`,
        [customerId, source, resource],
      );
    }
  }
}

import { DestinationRepository } from '@raise-sync/shared/state';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SecretBox } from '@raise-sync/shared/crypto';
import { SOURCE_RESOURCES } from '@raise-sync/shared/events';
import { PinoLogger } from 'nestjs-pino';
import { RAISE_EVENT_TYPES, SourceAuthError, SourceRequestError } from '@raise-sync/sources';
import {
  CustomerEntity,
  CustomerPurgeRepository,
  CustomerRepository,
  type CustomerPurgeView,
  WriteIntentRepository,
  type CustomerCredentials,
  type CustomerStatus,
  type DestinationView,
  type OnboardingMode,
  destinationView,
  type SourceName,
  customerScope,
} from '@raise-sync/shared/state';
import { CustomerDirectory } from '../customers/customer-directory.service';
import { CredentialHealth } from '../sources/credential-health.service';
import { CustomerSourceRepository } from '../sources/customer-source.repository';
import { SourceClients } from '@raise-sync/sources/service';
import type {
  CreateCustomerDto,
  OffboardDto,
  PollingDto,
  PurgeDto,
  RegisterWebhookDto,
  UpdateSourceDto,
} from './admin.dto';
import { resolveOnboarding, type OnboardingPlan } from './onboarding-mode';
import { OnboardingRepository, type NewSource } from './onboarding.repository';
import { CrmPlusWebhookRegistration } from './crm-plus-webhook-registration.service';
import { PurgeJob } from '../lifecycle/purge.service';
import type { IngestConfig } from '../ingest.config';

/** A customer as the admin API shows it: state and settings, never a secret. */
export interface CustomerView {
  id: string;
  name: string;
  status: CustomerStatus;
  /** How the customer was onboarded (null: before modes existed). */
  onboardingMode: OnboardingMode | null;
  /** Where its data starts (null: all of its history). */
  syncFrom: Date | null;
  createdAt: Date;
  sources: Array<{
    source: SourceName;
    hasToken: boolean;
    hasWebhookSecret: boolean;
    credentialStatus: string;
    credentialError: string | null;
    credentialCheckedAt: Date | null;
    pollingEnabled: boolean;
    pollIntervalSeconds: number;
    webhookSubscriptionId: string | null;
    webhookUrl: string | null;
  }>;
  destinations: DestinationView[];
}

/** The offboard call's answer: the customer, its webhooks' removal, and its purge. */
export interface OffboardedView extends CustomerView {
  webhooks: { raise: 'removed' | 'none' | 'failed'; crmPlus: 'removed' | 'none' | 'failed' };
  purge: CustomerPurgeView;
}

/**
 * How long an immediate purge waits after the offboarding: the other services cache a customer's
 * destinations and status for a few seconds (5 s at most), and a purge must not run while one of
 * them may still deliver for the customer.
 */
const PURGE_SETTLE_MS = 15_000;

/** The create call's answer: the customer, and what came of its Raise webhook subscription. */
export interface CreatedCustomerView extends CustomerView {
  webhookSubscription: 'subscribed' | 'failed' | 'opted_out' | 'not_applicable';
  /** Why the subscription failed (no secret in it). */
  webhookError?: string;
}

/**
 * Onboarding and customer configuration behind the admin API: tokens are validated with a test
 * call to the source before they are stored (sealed with AES-256-GCM), webhooks are registered
 * with the source, polling is scheduled per resource, and customers are paused, resumed or
 * offboarded (offboarding removes the webhook at the source, erases the credentials and revokes
 * the customer's console tokens).
 */
@Injectable()
export class OnboardingService {
  private readonly defaultInterval: number;
  private readonly graceDays: number;
  private readonly publicUrl: string;

  constructor(
    private readonly onboarding: OnboardingRepository,
    private readonly customers: CustomerRepository,
    private readonly sources: CustomerSourceRepository,
    private readonly destinations: DestinationRepository,
    private readonly intents: WriteIntentRepository,
    @Inject(SecretBox) private readonly box: SecretBox,
    private readonly clients: SourceClients,
    private readonly directory: CustomerDirectory,
    private readonly health: CredentialHealth,
    private readonly purges: CustomerPurgeRepository,
    private readonly purgeJob: PurgeJob,
    private readonly crmPlusWebhooks: CrmPlusWebhookRegistration,
    config: ConfigService<IngestConfig, true>,
    private readonly log: PinoLogger,
  ) {
    const ingest = config.get('ingest', { infer: true });
    const http = config.get('http', { infer: true });
    this.defaultInterval = ingest.pollDefaultIntervalSeconds;
    this.graceDays = ingest.offboardGraceDays;
    this.publicUrl = ingest.webhookPublicUrl ?? `http://127.0.0.1:${http.port}`;
    this.log.setContext('onboarding');
  }

  async create(dto: CreateCustomerDto): Promise<CreatedCustomerView> {
    if (!dto.raise && !dto.vomo) {
      throw new BadRequestException('a customer needs at least one source: raise or vomo');
    }
    const plan = resolveOnboarding(dto, new Date());
    const backfill = plan.backfill ? this.backfillTargets(dto, plan.backfill) : [];
    if (dto.raise) {
      await this.verify('raise', 'new-customer', dto.raise.apiToken);
    }
    if (dto.vomo) {
      await this.verify('vomo', 'new-customer', dto.vomo.apiToken);
    }
    const credentials: CustomerCredentials = {};
    if (dto.raise) {
      credentials.raise = { apiToken: dto.raise.apiToken, webhookSecret: dto.raise.webhookSecret };
    }
    if (dto.vomo) {
      credentials.vomo = { apiToken: dto.vomo.apiToken };
    }
    const scope = customerScope(randomUUID());
    const id = scope.customerId;
    await this.onboarding.create(
      scope,
      {
        name: dto.name,
        status: plan.status,
        credentials: this.box.sealJson(credentials),
        onboardingMode: plan.mode,
        syncFrom: plan.syncFrom,
      },
      (['raise', 'vomo'] as const)
        .filter((source) => dto[source])
        .map((source) => this.newSource(source, dto.polling)),
      plan.backfill
        ? {
            modifiedFrom: plan.backfill.modifiedFrom,
            modifiedTo: plan.backfill.modifiedTo,
            targets: backfill,
          }
        : null,
      plan.checkpointsAt,
    );
    this.log.info(
      {
        customerId: id,
        sources: Object.keys(credentials),
        mode: plan.mode,
        backfill: backfill.map((t) => `${t.source}.${t.resource}`),
      },
      'customer created',
    );
    // The Raise webhook is part of onboarding. The customer exists whatever Raise answers: a
    // failed subscription is reported (polling still runs) and can be asked for again.
    let webhookSubscription: CreatedCustomerView['webhookSubscription'] = dto.raise
      ? 'opted_out'
      : 'not_applicable';
    let webhookError: string | undefined;
    if (dto.raise && dto.subscribeWebhooks !== false) {
      try {
        await this.registerWebhook(id, {});
        webhookSubscription = 'subscribed';
      } catch (error) {
        webhookSubscription = 'failed';
        webhookError = error instanceof Error ? error.message : String(error);
        this.log.warn(
          { customerId: id, err: webhookError },
          'could not subscribe the raise webhook at onboarding; retry with POST /admin/customers/:id/sources/raise/webhook',
        );
      }
    }
    return {
      ...(await this.view(id)),
      webhookSubscription,
      ...(webhookError ? { webhookError } : {}),
    };
  }

  /** The (source, resource) pairs an onboarding backfill covers; 400 when one has no source. */
  private backfillTargets(
    dto: CreateCustomerDto,
    backfill: NonNullable<OnboardingPlan['backfill']>,
  ): Array<{ source: SourceName; resource: string }> {
    const given = (['raise', 'vomo'] as const).filter((source) => dto[source]);
    const resources =
      backfill.resources ?? given.flatMap((source) => [...SOURCE_RESOURCES[source]]);
    const from = backfill.modifiedFrom ? Date.parse(backfill.modifiedFrom) : null;
    const to = backfill.modifiedTo ? Date.parse(backfill.modifiedTo) : null;
    if (from !== null && to !== null && to <= from) {
      throw new BadRequestException('backfill.modifiedTo must be after backfill.modifiedFrom');
    }
    return [...new Set(resources)].map((resource) => {
      const source = given.find((s) =>
        (SOURCE_RESOURCES[s] as readonly string[]).includes(resource),
      );
      if (!source) {
        throw new BadRequestException(
          `backfill resource '${resource}' needs its source (${resource === 'user' ? 'vomo' : 'raise'}) in this request`,
        );
      }
      return { source, resource };
    });
  }

  async list(): Promise<CustomerView[]> {
    const rows = await this.onboarding.listAcrossCustomers();
    return Promise.all(rows.map((r) => this.view(r.id)));
  }

  async view(customerId: string): Promise<CustomerView> {
    const scope = CustomerDirectory.isCustomerId(customerId) ? customerScope(customerId) : null;
    const customer = scope ? await this.customers.get(scope) : null;
    if (!scope || !customer) {
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
    const credentials = customer.credentials
      ? this.box.openJson<CustomerCredentials>(customer.credentials)
      : {};
    const sources = await this.sources.list(scope);
    const destinations = await this.destinations.list(scope);
    return {
      id: customer.id,
      name: customer.name,
      status: customer.status,
      onboardingMode: customer.onboardingMode,
      syncFrom: customer.syncFrom,
      createdAt: customer.createdAt,
      sources: sources.map((s) => ({
        source: s.source,
        hasToken: Boolean(credentials[s.source]?.apiToken),
        hasWebhookSecret: Boolean(credentials[s.source]?.webhookSecret),
        credentialStatus: s.credentialStatus,
        credentialError: s.credentialError,
        credentialCheckedAt: s.credentialCheckedAt,
        pollingEnabled: s.pollingEnabled,
        pollIntervalSeconds: s.pollIntervalSeconds,
        webhookSubscriptionId: s.webhookSubscriptionId,
        webhookUrl: s.source === 'raise' ? this.webhookUrl(this.publicUrl, customerId) : null,
      })),
      destinations: destinations.map(destinationView),
    };
  }

  async updateSource(
    customerId: string,
    source: SourceName,
    dto: UpdateSourceDto,
  ): Promise<CustomerView> {
    await this.requireCustomer(customerId);
    if (dto.webhookSecret && source !== 'raise') {
      throw new BadRequestException('only raise sends webhooks');
    }
    const scope = customerScope(customerId);
    const credentials = await this.customers.credentials(scope);
    if (dto.apiToken) {
      await this.verify(source, customerId, dto.apiToken);
    }
    let sealed: Buffer | null = null;
    if (dto.apiToken || dto.webhookSecret) {
      const next: CustomerCredentials = { ...credentials };
      next[source] = {
        ...credentials[source],
        ...(dto.apiToken ? { apiToken: dto.apiToken } : {}),
        ...(dto.webhookSecret ? { webhookSecret: dto.webhookSecret } : {}),
      };
      sealed = this.box.sealJson(next);
    }
    const updated = await this.onboarding.updateSource(scope, source, {
      addIfMissing: dto.apiToken ? this.newSource(source, dto.polling) : null,
      polling: dto.polling ?? null,
      credentials: sealed,
    });
    if (updated === 'source_missing') {
      throw new BadRequestException(
        `source ${source} is new for this customer: apiToken is required`,
      );
    }
    if (dto.apiToken) {
      await this.health.markValid(scope, source);
    }
    this.directory.invalidate(customerId);
    return this.view(customerId);
  }

  /** Subscribes the source's webhooks (all Raise event types we carry) to our URL for this customer. */
  async registerWebhook(customerId: string, dto: RegisterWebhookDto): Promise<CustomerView> {
    await this.requireCustomer(customerId);
    const scope = customerScope(customerId);
    const credentials = await this.customers.credentials(scope);
    const token = credentials.raise?.apiToken;
    if (!token) {
      throw new BadRequestException('set a raise apiToken before registering webhooks');
    }
    const secret = credentials.raise?.webhookSecret ?? randomBytes(32).toString('base64url');
    const row = await this.sources.get(scope, 'raise');
    if (row?.webhookSubscriptionId) {
      throw new ConflictException(`webhook ${row.webhookSubscriptionId} is already registered`);
    }
    const created = await this.callSource('raise', customerId, () =>
      this.clients.raise.createWebhook(
        { customerId, token },
        {
          name: `raise-sync ${customerId}`,
          notificationUrl: this.webhookUrl(dto.publicUrl ?? this.publicUrl, customerId),
          eventTypesList: Object.keys(RAISE_EVENT_TYPES).map(Number),
          format: 1,
          status: 1,
          securityToken: secret,
        },
      ),
    );
    await this.onboarding.saveRaiseWebhook(
      scope,
      this.box.sealJson({
        ...credentials,
        raise: { ...credentials.raise, apiToken: token, webhookSecret: secret },
      }),
      String(created.id),
    );
    this.directory.invalidate(customerId);
    this.log.info({ customerId, webhookId: created.id }, 'webhook registered with raise');
    return this.view(customerId);
  }

  /**
   * Two-way sync: writes donor fields back to Raise, recording the intent first so the webhook
   * Raise sends for this very change is recognised downstream as our echo and not synced out.
   */
  async writeBackDonor(
    customerId: string,
    donorId: number,
    fields: Record<string, unknown>,
  ): Promise<unknown> {
    await this.requireCustomer(customerId);
    const scope = customerScope(customerId);
    const token = (await this.customers.credentials(scope)).raise?.apiToken;
    if (!token) {
      throw new BadRequestException('this customer has no raise apiToken');
    }
    await this.intents.record(scope, 'donor', String(donorId), fields);
    return this.callSource('raise', customerId, () =>
      this.clients.raise.patchDonor({ customerId, token }, donorId, fields as never),
    );
  }

  async setStatus(customerId: string, action: 'pause' | 'resume'): Promise<CustomerView> {
    const customer = await this.requireCustomer(customerId);
    if (customer.status === 'offboarded') {
      throw new ConflictException('customer is offboarded');
    }
    await this.customers.setStatus(
      customerScope(customerId),
      action === 'pause' ? 'paused' : 'live',
    );
    this.directory.invalidate(customerId);
    this.log.info({ customerId, action }, 'customer status changed');
    return this.view(customerId);
  }

  /**
   * Offboards a customer: its webhooks are removed at Raise and CRM+, polling stops, its
   * credentials and destination secrets are erased, its console tokens revoked, and its state is
   * purged after the grace period (or at once). The backfiller cancels its backfills and replays,
   * the reconciler skips its runs (both see the status).
   */
  async offboard(customerId: string, dto: OffboardDto): Promise<OffboardedView> {
    const customer = await this.requireCustomer(customerId);
    if (customer.status === 'offboarded') {
      throw new ConflictException('customer is offboarded');
    }
    const scope = customerScope(customerId);
    const crmPlus = await this.crmPlusWebhooks.unregister(customerId);
    const raise = await this.unsubscribeRaise(customerId);
    const after = dto.purgeNow
      ? new Date(Date.now() + PURGE_SETTLE_MS)
      : new Date(Date.now() + (dto.graceDays ?? this.graceDays) * 86_400_000);
    await this.onboarding.offboard(scope, { after, warehouse: dto.purgeWarehouse === true });
    this.directory.invalidate(customerId);
    this.log.info(
      { customerId, raiseWebhook: raise, crmPlusWebhook: crmPlus, purgeAfter: after },
      'customer offboarded',
    );
    if (dto.purgeNow) {
      setTimeout(() => this.purgeJob.kick(), PURGE_SETTLE_MS + 100).unref();
    }
    return {
      ...(await this.view(customerId)),
      webhooks: { raise, crmPlus },
      purge: await this.purgeOf(customerId),
    };
  }

  /** Brings an offboarded customer's purge forward to now (its grace period is cut short). */
  async purgeNow(customerId: string, dto: PurgeDto): Promise<CustomerPurgeView> {
    const scope = CustomerDirectory.isCustomerId(customerId) ? customerScope(customerId) : null;
    const customer = scope ? await this.customers.get(scope) : null;
    if (!scope || !customer) {
      const done = scope ? await this.purges.get(scope) : null;
      if (done?.purgedAt) {
        return done;
      }
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
    if (customer.status !== 'offboarded') {
      throw new ConflictException('only an offboarded customer can be purged: offboard it first');
    }
    // Not before the other services' caches have seen the offboarding (see PURGE_SETTLE_MS).
    const offboardedAt = (await this.purges.get(scope))?.offboardedAt.getTime() ?? Date.now();
    const after = Math.max(Date.now(), offboardedAt + PURGE_SETTLE_MS);
    await this.purges.schedule(scope, new Date(after), dto.purgeWarehouse === true);
    setTimeout(() => this.purgeJob.kick(), after - Date.now() + 100).unref();
    return this.purgeOf(customerId);
  }

  /** The customer's purge record (also after the purge, when the customer itself is gone). */
  async purgeOf(customerId: string): Promise<CustomerPurgeView> {
    const purge = CustomerDirectory.isCustomerId(customerId)
      ? await this.purges.get(customerScope(customerId))
      : null;
    if (!purge) {
      throw new NotFoundException(`customer ${customerId} has no purge: it was not offboarded`);
    }
    return purge;
  }

  /** Removes the Raise webhook subscription; never throws (a failure is logged and returned). */
  private async unsubscribeRaise(customerId: string): Promise<'removed' | 'none' | 'failed'> {
    const scope = customerScope(customerId);
    const credentials = await this.customers.credentials(scope);
    const raise = await this.sources.get(scope, 'raise');
    const token = credentials.raise?.apiToken;
    if (!raise?.webhookSubscriptionId || !token) {
      return 'none';
    }
    try {
      await this.clients.raise.deleteWebhook(
        { customerId, token },
        Number(raise.webhookSubscriptionId),
      );
      return 'removed';
    } catch (error) {
      this.log.warn(
        { customerId, err: error instanceof Error ? error.message : String(error) },
        'could not remove the webhook at raise; deliveries will be refused with 404',
      );
      return 'failed';
    }
  }

  /** A source to add, with the request's polling settings or the defaults. */
  private newSource(source: SourceName, polling: PollingDto | undefined): NewSource {
    return {
      source,
      pollingEnabled: polling?.enabled ?? true,
      pollIntervalSeconds: polling?.intervalSeconds ?? this.defaultInterval,
    };
  }

  private async requireCustomer(customerId: string): Promise<CustomerEntity> {
    const customer = CustomerDirectory.isCustomerId(customerId)
      ? await this.customers.get(customerScope(customerId))
      : null;
    if (!customer) {
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
    return customer;
  }

  /** A test call with the token; a rejected token is a 422 naming the source, never the token. */
  private async verify(source: SourceName, customerId: string, token: string): Promise<void> {
    await this.callSource(source, customerId, () =>
      source === 'raise'
        ? this.clients.raise.verifyToken({ customerId, token })
        : this.clients.vomo.verifyToken({ customerId, token }),
    );
  }

  private async callSource<T>(
    source: SourceName,
    customerId: string,
    call: () => Promise<T>,
  ): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof SourceAuthError) {
        throw new UnprocessableEntityException(
          `${source} rejected the API token (HTTP ${error.status}); check it was created for this organization and is not revoked`,
        );
      }
      if (error instanceof SourceRequestError) {
        throw new UnprocessableEntityException(`${source} refused the request: ${error.message}`);
      }
      this.log.warn(
        { customerId, source, err: error instanceof Error ? error.message : String(error) },
        'source call failed',
      );
      throw new UnprocessableEntityException(
        `${source} could not be reached to validate the token; try again`,
      );
    }
  }

  private webhookUrl(base: string, customerId: string): string {
    return `${base.replace(/\/+$/, '')}/webhooks/raise/${customerId}`;
  }
}

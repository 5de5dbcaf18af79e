import { DestinationRepository } from '@raise-sync/shared/state';
import { randomBytes } from 'node:crypto';
import {
  BadGatewayException,
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import {
  crmPlusSettings,
  destinationContext,
  DestinationConfigError,
} from '@raise-sync/destinations';
import { SecretBox } from '@raise-sync/shared/crypto';
import { PinoLogger } from 'nestjs-pino';
import { CustomerRepository, customerScope } from '@raise-sync/shared/state';
import { CustomerDirectory } from '../customers/customer-directory.service';
import type { IngestConfig } from '../ingest.config';

/** What the admin API answers after registering (no secret). */
export interface CrmPlusWebhookView {
  customerId: string;
  destinationId: string;
  subscriptionId: string;
  payloadUrl: string;
  transactionSource: string;
  referenceSource: string;
}

/** The CRM+ events the dual-webhook check listens to. */
const TOGGLES = { giftCreate: true, giftUpdate: true, contactCreate: true, contactUpdate: true };
const TIMEOUT_MS = 10_000;

/**
 * Subscribes our `/webhooks/:customerId/crm-plus` URL at the customer's CRM+ (`POST /api/Webhook`
 * on the base URL and token of its enabled crm-plus destination, the first by name), with a fresh
 * signing secret. The secret and the subscription ID are sealed into the customer's credentials
 * (`crmPlus`), together with the transactionSource/referenceSource the destination writes under:
 * those names are how a CRM+ record is recognised as coming from Raise.
 */
@Injectable()
export class CrmPlusWebhookRegistration {
  private readonly publicUrl: string;

  constructor(
    private readonly customers: CustomerRepository,
    private readonly destinations: DestinationRepository,
    @Inject(SecretBox) private readonly box: SecretBox,
    private readonly directory: CustomerDirectory,
    config: ConfigService<IngestConfig, true>,
    private readonly log: PinoLogger,
  ) {
    const ingest = config.get('ingest', { infer: true });
    this.publicUrl =
      ingest.webhookPublicUrl ?? `http://127.0.0.1:${config.get('http', { infer: true }).port}`;
    this.log.setContext('crm-plus-webhook-registration');
  }

  async register(customerId: string, publicUrl?: string): Promise<CrmPlusWebhookView> {
    const scope = CustomerDirectory.isCustomerId(customerId) ? customerScope(customerId) : null;
    const customer = scope ? await this.customers.get(scope) : null;
    if (!scope || !customer || customer.status === 'offboarded') {
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
    const credentials = await this.customers.credentials(scope);
    if (credentials.crmPlus?.subscriptionId) {
      throw new ConflictException(
        `CRM+ webhook ${credentials.crmPlus.subscriptionId} is already registered`,
      );
    }
    const row = await this.destinations.firstEnabled(scope, 'crm-plus');
    if (!row) {
      throw new BadRequestException('the customer has no enabled CRM+ destination');
    }
    const ctx = destinationContext(row, this.box);
    let settings: ReturnType<typeof crmPlusSettings>;
    try {
      settings = crmPlusSettings(ctx);
    } catch (error) {
      if (error instanceof DestinationConfigError) {
        throw new BadRequestException(`CRM+ destination '${row.name}': ${error.message}`);
      }
      throw error;
    }
    const secret = randomBytes(32).toString('base64url');
    const payloadUrl = `${(publicUrl ?? this.publicUrl).replace(/\/+$/, '')}/webhooks/${customerId}/crm-plus`;
    const subscriptionId = await this.subscribe(customerId, settings, { payloadUrl, secret });
    await this.customers.setCredentials(scope, {
      ...credentials,
      crmPlus: {
        webhookSecret: secret,
        subscriptionId,
        destinationId: row.id,
        transactionSource: settings.transactionSource,
        referenceSource: settings.referenceSource,
      },
    });
    this.directory.invalidate(customerId);
    this.log.info(
      { customerId, destinationId: row.id, subscriptionId },
      'webhook registered with CRM+',
    );
    return {
      customerId,
      destinationId: row.id,
      subscriptionId,
      payloadUrl,
      transactionSource: settings.transactionSource,
      referenceSource: settings.referenceSource,
    };
  }

  /**
   * Removes the customer's CRM+ webhook subscription at CRM+ (offboarding), with the token of the
   * destination it was registered through. Never throws: the outcome is logged and returned
   * ('removed', 'none' when there was no subscription, or 'failed' with CRM+'s answer), since
   * a CRM+ that cannot be reached must not keep a customer from being offboarded; its deliveries
   * are refused from then on (the customer's secret is gone).
   */
  async unregister(customerId: string): Promise<'removed' | 'none' | 'failed'> {
    const scope = customerScope(customerId);
    const subscription = (await this.customers.credentials(scope)).crmPlus;
    if (!subscription?.subscriptionId) {
      return 'none';
    }
    const row = subscription.destinationId
      ? (await this.destinations.list(scope)).find((d) => d.id === subscription.destinationId)
      : undefined;
    try {
      if (!row) {
        throw new Error('the destination it was registered through is gone');
      }
      const settings = crmPlusSettings(destinationContext(row, this.box));
      const url = `${settings.baseUrl.replace(/\/+$/, '')}/api/Webhook/${encodeURIComponent(subscription.subscriptionId)}`;
      const response = await fetch(url, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${settings.token}` },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await response.arrayBuffer();
      if (!response.ok && response.status !== 404) {
        throw new Error(`CRM+ answered ${response.status}`);
      }
      this.log.info(
        { customerId, subscriptionId: subscription.subscriptionId },
        'webhook removed at CRM+',
      );
      return 'removed';
    } catch (error) {
      this.log.warn(
        { customerId, err: error instanceof Error ? error.message : String(error) },
        'could not remove the webhook at CRM+; its deliveries will be refused',
      );
      return 'failed';
    }
  }

  private async subscribe(
    customerId: string,
    settings: { baseUrl: string; token: string },
    body: { payloadUrl: string; secret: string },
  ): Promise<string> {
    const url = `${settings.baseUrl.replace(/\/+$/, '')}/api/Webhook`;
    let status: number;
    let answer: unknown;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${settings.token}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ ...body, ...TOGGLES }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      status = response.status;
      const text = await response.text();
      try {
        answer = text === '' ? undefined : JSON.parse(text);
      } catch {
        answer = undefined;
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.log.warn({ customerId, err: reason }, 'CRM+ webhook registration failed: unreachable');
      throw new BadGatewayException(`CRM+ could not be reached: ${reason}`);
    }
    const id =
      typeof answer === 'object' && answer !== null ? (answer as { id?: unknown }).id : undefined;
    if (status < 200 || status >= 300 || (typeof id !== 'number' && typeof id !== 'string')) {
      this.log.warn({ customerId, status }, 'CRM+ webhook registration refused');
      throw new BadGatewayException(`CRM+ answered ${status} to the webhook registration`);
    }
    return String(id);
  }
}

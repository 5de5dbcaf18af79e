import type { Resource, SourceEvent } from '@raise-sync/shared/events';
import { SOURCE_RESOURCES } from '@raise-sync/shared/events';
import { ConfigReader, LookupNotSupportedError, deliverWithSettings } from '../adapter-support';
import { DestinationHttp, type DestinationHttpOptions } from '../http/destination-http';
import {
  DestinationConfigError,
  type FieldMapConfig,
  parseFieldMapConfig,
} from '../mapping/field-map';
import type { DeliveryResult, DestinationAdapter, DestinationContext, LookupResult } from '../port';
import {
  WEBHOOK_HEADERS,
  webhookBodyOf,
  webhookIdempotencyKeyOf,
  webhookSignatureOf,
} from './webhook.mapping';

const NAME = 'webhook';
const ALL_RESOURCES: readonly string[] = Object.values(SOURCE_RESOURCES).flat();

export interface WebhookSettings {
  url: string;
  secret: string;
  /** Optional bearer token for receivers that want one as well. */
  token?: string;
  includeRaw: boolean;
  /** Resources sent; default all. */
  resources: readonly string[];
  fieldMap: FieldMapConfig;
}

export function webhookSettings(ctx: DestinationContext): WebhookSettings {
  const config = new ConfigReader(ctx, NAME);
  const resources = config.stringList('resources', ALL_RESOURCES);
  const unknown = resources.find((r) => !ALL_RESOURCES.includes(r));
  if (unknown !== undefined) {
    throw new DestinationConfigError(
      `webhook destination "${ctx.name}": config.resources has an unknown resource "${unknown}"`,
    );
  }
  const token = ctx.secrets.token;
  return {
    url: config.url('url'),
    secret: config.secret('secret'),
    ...(token ? { token } : {}),
    includeRaw: config.boolean('includeRaw', false),
    resources,
    fieldMap: parseFieldMapConfig(ctx.config.fieldMap),
  };
}

export interface WebhookAdapterOptions extends DestinationHttpOptions {
  /** Records posted at once per batch (one record's events stay in order). Default 4. */
  concurrency?: number;
}

/**
 * A partner's own endpoint. Every event is POSTed (an event feed: nothing is collapsed) as JSON
 * `{eventId, customerId, resource, operation, recordId, sourceModifiedAt, record}`, signed with
 * `X-RaiseSync-Timestamp` and `X-RaiseSync-Signature` = base64(HMAC-SHA256(secret,
 * "<timestamp>.<body>")), with `Idempotency-Key: <eventId>:<destinationId>`. Any 2xx counts.
 */
export class WebhookAdapter implements DestinationAdapter {
  readonly kind = 'webhook' as const;
  private readonly http: DestinationHttp;
  private readonly now: () => number;
  private readonly concurrency: number;

  constructor(options: WebhookAdapterOptions = {}) {
    this.http = new DestinationHttp(options);
    this.now = options.now ?? Date.now;
    this.concurrency = options.concurrency ?? 4;
  }

  accepts(resource: Resource, ctx: DestinationContext): boolean {
    const resources = ctx.config.resources;
    return !Array.isArray(resources) || resources.includes(resource);
  }

  async deliver(
    ctx: DestinationContext,
    events: SourceEvent[],
  ): Promise<Array<DeliveryResult | Error>> {
    return deliverWithSettings(
      events,
      () => webhookSettings(ctx),
      { concurrency: this.concurrency, collapse: false },
      (settings, event) => this.deliverOne(ctx, settings, event),
    );
  }

  intentionalSkip(ctx: DestinationContext, event: SourceEvent): string | null {
    return webhookSettings(ctx).resources.includes(event.resource)
      ? null
      : `this webhook does not take ${event.resource} records`;
  }

  private async deliverOne(
    ctx: DestinationContext,
    settings: WebhookSettings,
    event: SourceEvent,
  ): Promise<DeliveryResult> {
    if (!settings.resources.includes(event.resource)) {
      return { outcome: 'skipped', reason: `this webhook does not take ${event.resource} records` };
    }
    const fieldMap = settings.fieldMap[event.resource];
    const rawBody = JSON.stringify(
      webhookBodyOf(event, { includeRaw: settings.includeRaw, ...(fieldMap ? { fieldMap } : {}) }),
    );
    const timestamp = String(Math.floor(this.now() / 1000));
    await this.http.request({
      destination: NAME,
      method: 'POST',
      url: settings.url,
      route: 'POST <webhook url>',
      ...(settings.token ? { token: settings.token } : {}),
      secrets: [settings.secret],
      headers: {
        [WEBHOOK_HEADERS.timestamp]: timestamp,
        [WEBHOOK_HEADERS.signature]: webhookSignatureOf(settings.secret, timestamp, rawBody),
        [WEBHOOK_HEADERS.idempotencyKey]: webhookIdempotencyKeyOf(event.eventId, ctx.destinationId),
      },
      rawBody,
    });
    return { outcome: 'delivered', destinationRecordId: null };
  }

  /** A partner endpoint has no read API. */
  lookup(_ctx: DestinationContext, resource: Resource, _sourceId: string): Promise<LookupResult> {
    return Promise.reject(
      new LookupNotSupportedError(
        `a webhook receiver cannot be asked whether it holds a ${resource}`,
      ),
    );
  }

  /** Checks the settings only: probing a partner's endpoint would send it a fake event. */
  health(ctx: DestinationContext): Promise<void> {
    try {
      webhookSettings(ctx);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

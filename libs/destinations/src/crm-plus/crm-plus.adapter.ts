import { DestinationUnavailableError, RecordRejectedError } from '@raise-sync/shared';
import type { RaiseGift, Resource, SourceEvent } from '@raise-sync/shared/events';
import { ConfigReader, deliverWithSettings } from '../adapter-support';
import {
  DestinationHttp,
  type DestinationHttpMethod,
  type DestinationHttpOptions,
  parseRetryAfterMs,
} from '../http/destination-http';
import { parseFieldMapConfig } from '../mapping/field-map';
import type { DeliveryResult, DestinationAdapter, DestinationContext, LookupResult } from '../port';
import {
  CRM_PLUS_PROTECTED_FIELDS,
  type CrmPlusMappingSettings,
  donorToContact,
  giftToTransaction,
  isRefunded,
  refundToTransaction,
  userToContact,
} from './crm-plus.mapping';

const NAME = 'CRM+';

export interface CrmPlusSettings extends CrmPlusMappingSettings {
  baseUrl: string;
  token: string;
  /** Requests of the hourly budget kept for others (the CRM+ UI, other integrations). Default 50. */
  reserve: number;
  /** Send test-mode donors and gifts too. Default false. */
  includeTestMode: boolean;
  /** Sync VOMO users as contacts. Default true. */
  includeVolunteers: boolean;
}

/** Reads and validates the CRM+ settings of one destination (throws DestinationConfigError). */
export function crmPlusSettings(ctx: DestinationContext): CrmPlusSettings {
  const config = new ConfigReader(ctx, NAME);
  return {
    baseUrl: config.url('baseUrl'),
    token: config.secret('token'),
    reserve: config.integer('reserve', 50),
    includeTestMode: config.boolean('includeTestMode', false),
    includeVolunteers: config.boolean('includeVolunteers', true),
    transactionSource: config.string('transactionSource', 'raise'),
    referenceSource: config.string('referenceSource', 'raise'),
    volunteerReferenceSource: config.string('volunteerReferenceSource', 'vomo'),
    contactTags: config.stringList('contactTags'),
    volunteerTags: config.stringList('volunteerTags'),
    fieldMap: parseFieldMapConfig(ctx.config.fieldMap, CRM_PLUS_PROTECTED_FIELDS),
  };
}

interface Budget {
  remaining: number;
  resetAtMs: number;
}

export interface CrmPlusAdapterOptions extends DestinationHttpOptions {
  /** Records written at once per batch. Default 1: the hourly budget is the bottleneck anyway. */
  concurrency?: number;
}

const asRecord = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};

/**
 * A contact's email: a flat `email` (transaction and Find shapes), else the primary email among
 * `contactIndividuals[].contactMethods[]` (the full CRM+ contact model).
 */
export function emailOfContact(value: unknown): string | undefined {
  const contact = asRecord(value);
  if (typeof contact.email === 'string' && contact.email !== '') {
    return contact.email;
  }
  const individuals = Array.isArray(contact.contactIndividuals) ? contact.contactIndividuals : [];
  const methods = individuals
    .flatMap((individual) => {
      const list = asRecord(individual).contactMethods;
      return Array.isArray(list) ? list.map(asRecord) : [];
    })
    .filter(
      (method) =>
        typeof method.value === 'string' &&
        method.value.includes('@') &&
        (typeof method.type !== 'string' || /email/i.test(method.type)),
    );
  const chosen = methods.find((method) => method.isPrimary === true) ?? methods[0];
  return typeof chosen?.value === 'string' ? chosen.value : undefined;
}

const idOf = (value: unknown): string | null =>
  typeof value === 'number' || (typeof value === 'string' && value !== '') ? String(value) : null;

/**
 * Virtuous CRM+ through its transaction endpoints: donors and VOMO users become contacts
 * (`POST /api/Contact/Transaction`, matched by email), gifts become gift transactions
 * (`POST /api/v2/Gift/Transaction`, idempotent on transactionSource + transactionId). A refund is
 * a second, reversing transaction; a deleted gift is re-sent with `cancelDate`. Recurring gifts
 * and campaigns are not taken. The organisation's hourly request budget is read from the
 * `X-RateLimit-*` headers and the last `reserve` requests are never spent: the adapter fails fast
 * with `retryAfterMs` until the window resets.
 */
export class CrmPlusAdapter implements DestinationAdapter {
  readonly kind = 'crm-plus' as const;
  private readonly http: DestinationHttp;
  private readonly now: () => number;
  private readonly concurrency: number;
  /** Per customer + destination: what CRM+ last said about the hourly budget. */
  private readonly budgets = new Map<string, Budget>();

  constructor(options: CrmPlusAdapterOptions = {}) {
    this.http = new DestinationHttp(options);
    this.now = options.now ?? Date.now;
    this.concurrency = options.concurrency ?? 1;
  }

  accepts(resource: Resource, ctx: DestinationContext): boolean {
    switch (resource) {
      case 'donor':
      case 'gift':
        return true;
      case 'user':
        return ctx.config.includeVolunteers !== false;
      case 'recurring_gift':
      case 'campaign':
        return false;
    }
  }

  async deliver(
    ctx: DestinationContext,
    events: SourceEvent[],
  ): Promise<Array<DeliveryResult | Error>> {
    return deliverWithSettings(
      events,
      () => crmPlusSettings(ctx),
      { concurrency: this.concurrency, collapse: true },
      (settings, event) => this.deliverOne(ctx, settings, event),
    );
  }

  intentionalSkip(ctx: DestinationContext, event: SourceEvent): string | null {
    if (!this.accepts(event.resource, ctx)) {
      return `CRM+ does not take ${event.resource} records`;
    }
    if (event.resource === 'recurring_gift' || event.resource === 'campaign') {
      return `CRM+ does not take ${event.resource} records`;
    }
    if (event.operation === 'delete' || !event.record) {
      return null;
    }
    const testMode =
      (event.resource === 'donor' || event.resource === 'gift') &&
      (event.record as { isTestMode?: boolean | null }).isTestMode === true;
    if (testMode && !crmPlusSettings(ctx).includeTestMode) {
      return `test-mode ${event.resource}`;
    }
    return null;
  }

  private async deliverOne(
    ctx: DestinationContext,
    settings: CrmPlusSettings,
    event: SourceEvent,
  ): Promise<DeliveryResult> {
    if (!this.accepts(event.resource, ctx)) {
      return { outcome: 'skipped', reason: `CRM+ does not take ${event.resource} records` };
    }
    switch (event.resource) {
      case 'donor':
      case 'user': {
        if (event.operation === 'delete' || !event.record) {
          return {
            outcome: 'skipped',
            reason:
              'CRM+ contacts are never deleted by the sync (no delete in the transaction API)',
          };
        }
        let body: Record<string, unknown>;
        if (event.resource === 'donor') {
          if (event.record.isTestMode && !settings.includeTestMode) {
            return { outcome: 'skipped', reason: 'test-mode donor' };
          }
          body = donorToContact(event.record, settings);
        } else {
          body = userToContact(event.record, settings);
        }
        const response = await this.send(ctx, settings, 'POST', '/api/Contact/Transaction', body);
        return { outcome: 'delivered', destinationRecordId: idOf(asRecord(response).contactId) };
      }
      case 'gift':
        if (event.operation === 'delete' || !event.record) {
          return this.cancelGift(ctx, settings, event.recordId, event.sourceModifiedAt);
        }
        return this.sendGift(ctx, settings, event.record, event.sourceModifiedAt);
      case 'recurring_gift':
      case 'campaign':
        return { outcome: 'skipped', reason: `CRM+ does not take ${event.resource} records` };
    }
  }

  private async sendGift(
    ctx: DestinationContext,
    settings: CrmPlusSettings,
    gift: RaiseGift,
    modifiedAt: Date,
  ): Promise<DeliveryResult> {
    if (gift.isTestMode && !settings.includeTestMode) {
      return { outcome: 'skipped', reason: 'test-mode gift' };
    }
    const body = giftToTransaction(gift, settings);
    const response = asRecord(
      await this.send(ctx, settings, 'POST', '/api/v2/Gift/Transaction', body),
    );
    if (isRefunded(gift)) {
      // Always after the gift itself, so the reversal never precedes what it reverses.
      await this.send(
        ctx,
        settings,
        'POST',
        '/api/v2/Gift/Transaction',
        refundToTransaction(gift, body, modifiedAt),
      );
    }
    return { outcome: 'delivered', destinationRecordId: idOf(response.giftId) };
  }

  /** CRM+ has no gift delete: re-send the transaction as CRM+ holds it, with `cancelDate` set. */
  private async cancelGift(
    ctx: DestinationContext,
    settings: CrmPlusSettings,
    giftId: string,
    deletedAt: Date,
  ): Promise<DeliveryResult> {
    const existing = await this.findGift(ctx, settings, giftId);
    if (!existing) {
      return { outcome: 'skipped', reason: 'the gift is not in CRM+: nothing to cancel' };
    }
    const destinationRecordId = idOf(existing.id);
    if (existing.cancelDate !== null && existing.cancelDate !== undefined) {
      return { outcome: 'delivered', destinationRecordId };
    }
    const email =
      emailOfContact(existing.contact) ??
      emailOfContact(existing) ??
      (await this.contactEmail(ctx, settings, existing.contactId));
    if (email === undefined) {
      throw new RecordRejectedError(
        'CRM+ gift cannot be cancelled: CRM+ needs the contact email, and neither the delete ' +
          'event, the gift lookup nor GET /api/Contact/{id} provides it',
      );
    }
    const response = asRecord(
      await this.send(ctx, settings, 'POST', '/api/v2/Gift/Transaction', {
        transactionSource: settings.transactionSource,
        transactionId: giftId,
        contact: { email },
        giftDate: existing.giftDate,
        amount: existing.amount,
        currencyCode: existing.currencyCode,
        cancelDate: deletedAt.toISOString(),
      }),
    );
    return {
      outcome: 'delivered',
      destinationRecordId: idOf(response.giftId) ?? destinationRecordId,
    };
  }

  /** The email of a contact by its CRM+ id (`GET /api/Contact/{id}`), if CRM+ has one. */
  private async contactEmail(
    ctx: DestinationContext,
    settings: CrmPlusSettings,
    contactId: unknown,
  ): Promise<string | undefined> {
    const id = idOf(contactId);
    if (id === null) {
      return undefined;
    }
    const response = await this.request(
      ctx,
      settings,
      'GET',
      `/api/Contact/${encodeURIComponent(id)}`,
      'GET /api/Contact/{id}',
      undefined,
      [404],
    );
    return response.status === 404 ? undefined : emailOfContact(response.body);
  }

  private async findGift(
    ctx: DestinationContext,
    settings: CrmPlusSettings,
    giftId: string,
  ): Promise<Record<string, unknown> | undefined> {
    const query = new URLSearchParams({
      transactionSource: settings.transactionSource,
      transactionId: giftId,
    });
    const response = await this.request(
      ctx,
      settings,
      'GET',
      `/api/v2/Gift/Transaction?${query.toString()}`,
      'GET /api/v2/Gift/Transaction',
      undefined,
      [404],
    );
    return response.status === 404 ? undefined : asRecord(response.body);
  }

  async lookup(
    ctx: DestinationContext,
    resource: Resource,
    sourceId: string,
  ): Promise<LookupResult> {
    const settings = crmPlusSettings(ctx);
    if (resource === 'gift') {
      const gift = await this.findGift(ctx, settings, sourceId);
      return gift
        ? {
            exists: true,
            deleted: gift.cancelDate !== null && gift.cancelDate !== undefined,
            destinationRecordId: idOf(gift.id),
          }
        : { exists: false };
    }
    if (resource !== 'donor' && resource !== 'user') {
      return { exists: false };
    }
    const query = new URLSearchParams({
      referenceSource:
        resource === 'donor' ? settings.referenceSource : settings.volunteerReferenceSource,
      referenceId: sourceId,
    });
    const response = await this.request(
      ctx,
      settings,
      'GET',
      `/api/Contact/Find?${query.toString()}`,
      'GET /api/Contact/Find',
      undefined,
      [404],
    );
    return response.status === 404
      ? { exists: false }
      : { exists: true, deleted: false, destinationRecordId: idOf(asRecord(response.body).id) };
  }

  /** `GET /api/Organization/Current`: checks the URL and the token (costs one request of the budget). */
  async health(ctx: DestinationContext): Promise<void> {
    const settings = crmPlusSettings(ctx);
    await this.request(
      ctx,
      settings,
      'GET',
      '/api/Organization/Current',
      'GET /api/Organization/Current',
    );
  }

  /** The remaining hourly budget CRM+ last reported for this destination (for tests, metrics). */
  budgetOf(ctx: Pick<DestinationContext, 'customerId' | 'destinationId'>): Budget | undefined {
    const budget = this.budgets.get(this.budgetKey(ctx));
    return budget ? { ...budget } : undefined;
  }

  private budgetKey(ctx: Pick<DestinationContext, 'customerId' | 'destinationId'>): string {
    return `${ctx.customerId}:${ctx.destinationId}`;
  }

  private async send(
    ctx: DestinationContext,
    settings: CrmPlusSettings,
    method: DestinationHttpMethod,
    path: string,
    body: unknown,
  ): Promise<unknown> {
    return (await this.request(ctx, settings, method, path, `${method} ${path}`, body)).body;
  }

  private async request(
    ctx: DestinationContext,
    settings: CrmPlusSettings,
    method: DestinationHttpMethod,
    path: string,
    route: string,
    body?: unknown,
    acceptStatuses?: readonly number[],
  ): Promise<{ status: number; body: unknown }> {
    const key = this.budgetKey(ctx);
    const budget = this.budgets.get(key);
    const now = this.now();
    if (budget && now >= budget.resetAtMs) {
      this.budgets.delete(key);
    } else if (budget && budget.remaining <= settings.reserve) {
      throw DestinationUnavailableError.pacing(
        `CRM+ hourly request budget nearly spent (${budget.remaining} left, reserve ${settings.reserve}); waiting for the window to reset`,
        budget.resetAtMs - now,
      );
    } else if (budget) {
      // Claimed before it is sent, so requests in flight at once do not all spend the last one.
      budget.remaining -= 1;
    }
    return this.http.request({
      destination: NAME,
      method,
      url: `${settings.baseUrl}${path}`,
      route,
      token: settings.token,
      body,
      acceptStatuses,
      observe: (status, headers) => this.observeBudget(key, status, headers),
    });
  }

  private observeBudget(key: string, status: number, headers: Headers): void {
    const now = this.now();
    const remaining = Number(headers.get('x-ratelimit-remaining') ?? Number.NaN);
    const resetSeconds = Number(headers.get('x-ratelimit-reset') ?? Number.NaN);
    const resetAtMs = Number.isFinite(resetSeconds) ? resetSeconds * 1000 : undefined;
    if (status === 429) {
      const retryAfterMs = parseRetryAfterMs(headers.get('retry-after'), now);
      const until = Math.max(resetAtMs ?? 0, now + (retryAfterMs ?? 0));
      this.budgets.set(key, { remaining: 0, resetAtMs: until > now ? until : now + 60_000 });
      return;
    }
    if (Number.isFinite(remaining) && resetAtMs !== undefined) {
      this.budgets.set(key, { remaining, resetAtMs });
    }
  }
}

import { DestinationUnavailableError, RecordRejectedError } from '@raise-sync/shared';
import type { RaiseGift, Resource, SourceEvent } from '@raise-sync/shared/events';
import { ConfigReader, deliverWithSettings } from '../adapter-support';
import { DestinationHttp, type DestinationHttpOptions } from '../http/destination-http';
import { parseFieldMapConfig } from '../mapping/field-map';
import type { DeliveryResult, DestinationAdapter, DestinationContext, LookupResult } from '../port';
import {
  ACCOUNTING_PROTECTED_FIELDS,
  type AccountingMappingSettings,
  type GiftOperation,
  creditNoteFor,
  creditNoteReferenceFor,
  giftToInvoice,
  idempotencyKeyFor,
  invoiceReferenceFor,
  isInvoiceable,
  isRefundedGift,
} from './accounting.mapping';

const NAME = 'accounting';
export const VOID_REASON = 'deleted in Raise';

export interface AccountingSettings extends AccountingMappingSettings {
  baseUrl: string;
  token: string;
}

export function accountingSettings(ctx: DestinationContext): AccountingSettings {
  const config = new ConfigReader(ctx, NAME);
  const account = config.string('account');
  return {
    baseUrl: config.url('baseUrl'),
    token: config.secret('token'),
    invoiceStatuses: config.stringList('invoiceStatuses', ['Success', 'Refunded']),
    refundStatuses: config.stringList('refundStatuses', ['Refunded']),
    ...(account === undefined ? {} : { account }),
    fieldMap: parseFieldMapConfig(ctx.config.fieldMap, ACCOUNTING_PROTECTED_FIELDS),
  };
}

/** An invoice as the accounting API returns it (the fields we use). */
export interface AccountingInvoice {
  id: string;
  status: string;
  totalMinor: number;
  currency: string;
  reference: string | null;
  creditNotes: Array<{ id: string; reference: string | null; amountMinor: number }>;
}

const asRecord = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};

const idOf = (value: unknown): string | undefined =>
  typeof value === 'number' || (typeof value === 'string' && value !== '')
    ? String(value)
    : undefined;

function invoiceFrom(body: unknown): AccountingInvoice {
  const record = asRecord(body);
  const id = idOf(record.id);
  if (id === undefined || typeof record.totalMinor !== 'number') {
    throw new DestinationUnavailableError(
      'accounting answered with an invoice without id or total',
    );
  }
  const notes = Array.isArray(record.creditNotes) ? record.creditNotes.map(asRecord) : [];
  return {
    id,
    status: typeof record.status === 'string' ? record.status : 'UNKNOWN',
    totalMinor: record.totalMinor,
    currency: typeof record.currency === 'string' ? record.currency : '',
    reference: typeof record.reference === 'string' ? record.reference : null,
    creditNotes: notes.map((note) => ({
      id: idOf(note.id) ?? '',
      reference: typeof note.reference === 'string' ? note.reference : null,
      amountMinor: typeof note.amountMinor === 'number' ? note.amountMinor : 0,
    })),
  };
}

const isConflict = (body: unknown): boolean => asRecord(body).error === 'idempotency_key_reused';

export interface AccountingAdapterOptions extends DestinationHttpOptions {
  /** Gifts written at once per batch. Default 4. */
  concurrency?: number;
}

/**
 * An accounting system (Xero/QuickBooks-like) with strong idempotency. Gifts only; test-mode
 * gifts are skipped. The adapter drives state, not diffs: a gift event means "an invoice
 * exists" (`POST /invoices`, reference `raise-gift-<id>`), a refunded gift additionally "a credit
 * note for the full amount exists" (`POST /credit-notes`, always after the invoice), a deleted
 * gift "its invoice is voided" (`POST /invoices/{id}/void`, never a delete). Every POST carries
 * an idempotency key derived from customer, gift and operation, so retries never double-book.
 */
export class AccountingAdapter implements DestinationAdapter {
  readonly kind = 'accounting' as const;
  private readonly http: DestinationHttp;
  private readonly concurrency: number;

  constructor(options: AccountingAdapterOptions = {}) {
    this.http = new DestinationHttp(options);
    this.concurrency = options.concurrency ?? 4;
  }

  accepts(resource: Resource): boolean {
    return resource === 'gift';
  }

  async deliver(
    ctx: DestinationContext,
    events: SourceEvent[],
  ): Promise<Array<DeliveryResult | Error>> {
    return deliverWithSettings(
      events,
      () => accountingSettings(ctx),
      { concurrency: this.concurrency, collapse: true },
      (settings, event) => this.deliverOne(ctx, settings, event),
    );
  }

  intentionalSkip(ctx: DestinationContext, event: SourceEvent): string | null {
    if (event.resource !== 'gift') {
      return `accounting does not take ${event.resource} records`;
    }
    if (event.operation === 'delete' || !event.record) {
      return null;
    }
    return upsertSkipReason(event.record, accountingSettings(ctx));
  }

  private async deliverOne(
    ctx: DestinationContext,
    settings: AccountingSettings,
    event: SourceEvent,
  ): Promise<DeliveryResult> {
    if (event.resource !== 'gift') {
      return { outcome: 'skipped', reason: `accounting does not take ${event.resource} records` };
    }
    if (event.operation === 'delete' || !event.record) {
      return this.voidInvoice(ctx, settings, event.recordId);
    }
    const gift = event.record;
    const skip = upsertSkipReason(gift, settings);
    if (skip) {
      return { outcome: 'skipped', reason: skip };
    }
    const invoice = await this.ensureInvoice(ctx, settings, gift, event.sourceModifiedAt);
    if (isRefundedGift(gift, settings) && invoice.status !== 'VOIDED') {
      await this.ensureCreditNote(ctx, settings, gift.id, invoice);
    }
    return { outcome: 'delivered', destinationRecordId: invoice.id };
  }

  private async ensureInvoice(
    ctx: DestinationContext,
    settings: AccountingSettings,
    gift: RaiseGift,
    modifiedAt: Date,
  ): Promise<AccountingInvoice> {
    const body = giftToInvoice(gift, settings, modifiedAt);
    const response = await this.post(
      ctx,
      settings,
      '/invoices',
      'POST /invoices',
      gift.id,
      'invoice',
      body,
    );
    if (response.status !== 409) {
      return invoiceFrom(response.body);
    }
    // The key was used with another body: the gift changed after it was invoiced. Invoices are
    // immutable; the existing one stands if it books the same amount.
    const existing = await this.findInvoice(ctx, settings, gift.id);
    const lines = body.lines as Array<{ amountMinor: number }>;
    const totalMinor = lines.reduce((sum, line) => sum + line.amountMinor, 0);
    if (!existing) {
      throw new RecordRejectedError(
        `accounting refused the invoice of gift ${gift.id} (idempotency key reused) and holds no invoice ${invoiceReferenceFor(gift.id)}`,
      );
    }
    if (existing.totalMinor !== totalMinor || existing.currency !== body.currency) {
      throw new RecordRejectedError(
        `invoice ${invoiceReferenceFor(gift.id)} books ${existing.totalMinor} ${existing.currency} (minor units) but the gift is now ${totalMinor} ${String(body.currency)}: amend it in the accounting system`,
      );
    }
    return existing;
  }

  private async ensureCreditNote(
    ctx: DestinationContext,
    settings: AccountingSettings,
    giftId: string,
    invoice: AccountingInvoice,
  ): Promise<void> {
    const reference = creditNoteReferenceFor(giftId);
    if (invoice.creditNotes.some((note) => note.reference === reference)) {
      return;
    }
    const response = await this.post(
      ctx,
      settings,
      '/credit-notes',
      'POST /credit-notes',
      giftId,
      'credit-note',
      creditNoteFor(giftId, invoice),
    );
    if (response.status === 409) {
      const current = await this.findInvoice(ctx, settings, giftId);
      if (!current?.creditNotes.some((note) => note.reference === reference)) {
        throw new RecordRejectedError(
          `accounting refused the credit note of gift ${giftId} (idempotency key reused) and holds no credit note ${reference}`,
        );
      }
    }
  }

  private async voidInvoice(
    ctx: DestinationContext,
    settings: AccountingSettings,
    giftId: string,
  ): Promise<DeliveryResult> {
    const invoice = await this.findInvoice(ctx, settings, giftId);
    if (!invoice) {
      return { outcome: 'skipped', reason: 'no invoice exists for this gift: nothing to void' };
    }
    if (invoice.status !== 'VOIDED') {
      await this.post(
        ctx,
        settings,
        `/invoices/${encodeURIComponent(invoice.id)}/void`,
        'POST /invoices/{id}/void',
        giftId,
        'void',
        { reason: VOID_REASON },
      );
    }
    return { outcome: 'delivered', destinationRecordId: invoice.id };
  }

  private async post(
    ctx: DestinationContext,
    settings: AccountingSettings,
    path: string,
    route: string,
    giftId: string,
    operation: GiftOperation,
    body: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const response = await this.http.request({
      destination: NAME,
      method: 'POST',
      url: `${settings.baseUrl}${path}`,
      route,
      token: settings.token,
      headers: { 'idempotency-key': idempotencyKeyFor(ctx.customerId, giftId, operation) },
      body,
      acceptStatuses: [409],
    });
    if (response.status === 409 && !isConflict(response.body)) {
      throw new RecordRejectedError(`accounting ${route} answered 409 (conflict)`);
    }
    return response;
  }

  private async findInvoice(
    ctx: DestinationContext,
    settings: AccountingSettings,
    giftId: string,
  ): Promise<AccountingInvoice | undefined> {
    const query = new URLSearchParams({ reference: invoiceReferenceFor(giftId) });
    const response = await this.http.request({
      destination: NAME,
      method: 'GET',
      url: `${settings.baseUrl}/invoices?${query.toString()}`,
      route: 'GET /invoices?reference',
      token: settings.token,
    });
    const items = asRecord(response.body).items;
    if (!Array.isArray(items)) {
      throw new DestinationUnavailableError('accounting answered an invoice search without items');
    }
    const invoices = items.map(invoiceFrom);
    // Prefer a live invoice over a voided one if both carry the reference.
    return invoices.find((i) => i.status !== 'VOIDED') ?? invoices[0];
  }

  async lookup(
    ctx: DestinationContext,
    resource: Resource,
    sourceId: string,
  ): Promise<LookupResult> {
    if (resource !== 'gift') {
      return { exists: false };
    }
    const invoice = await this.findInvoice(ctx, accountingSettings(ctx), sourceId);
    return invoice
      ? { exists: true, deleted: invoice.status === 'VOIDED', destinationRecordId: invoice.id }
      : { exists: false };
  }

  async health(ctx: DestinationContext): Promise<void> {
    await this.findInvoice(ctx, accountingSettings(ctx), 'raise-sync-health-check');
  }
}

/** Why an accounting destination never invoices this gift version (null: it does). */
function upsertSkipReason(gift: RaiseGift, settings: AccountingSettings): string | null {
  if (gift.isTestMode) {
    return 'test-mode gift';
  }
  if (!isInvoiceable(gift, settings)) {
    return `gift status "${gift.statusText ?? 'none'}" is not invoiced`;
  }
  return null;
}

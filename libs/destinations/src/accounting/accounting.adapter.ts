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
/** Why an invoice was voided for a re-issue with the gift's new amount. */
export const AMENDED_REASON = 'amended in Raise';

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

/** One of a gift's invoices and its place among them (1 = the first booked). */
interface Revision {
  invoice: AccountingInvoice;
  revision: number;
}

/** The invoice's place among the gift's invoices, which the ledger lists oldest first. */
const revisionOf = (invoice: AccountingInvoice, revisions: readonly AccountingInvoice[]): number =>
  Math.max(1, revisions.findIndex((i) => i.id === invoice.id) + 1);

/** The live invoice if there is one (there is at most one after a re-issue), else the newest. */
const preferLive = (invoices: readonly AccountingInvoice[]): AccountingInvoice | undefined =>
  invoices.find((i) => i.status !== 'VOIDED') ?? invoices.at(-1);

const isConflict = (body: unknown): boolean => asRecord(body).error === 'idempotency_key_reused';

export interface AccountingAdapterOptions extends DestinationHttpOptions {
  /** Gifts written at once per batch. Default 4. */
  concurrency?: number;
}

/**
 * An accounting system (Xero/QuickBooks-like) with strong idempotency. Gifts only; test-mode
 * gifts are skipped. The adapter drives state, not diffs: a gift event means "an invoice
 * for its current amount exists" (`POST /invoices`, reference `raise-gift-<id>`; a changed amount
 * voids the old invoice and issues a new revision), a refunded gift additionally "a credit note
 * for the full amount exists" (`POST /credit-notes`, always after the invoice), a deleted gift
 * "its invoice is voided" (`POST /invoices/{id}/void`, never a delete). Every POST carries an
 * idempotency key derived from customer, gift, operation and revision, so retries never
 * double-book.
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
    const booked = await this.ensureInvoice(ctx, settings, gift, event.sourceModifiedAt);
    if (isRefundedGift(gift, settings) && booked.invoice.status !== 'VOIDED') {
      await this.ensureCreditNote(ctx, settings, gift.id, booked);
    }
    return { outcome: 'delivered', destinationRecordId: booked.invoice.id };
  }

  private async ensureInvoice(
    ctx: DestinationContext,
    settings: AccountingSettings,
    gift: RaiseGift,
    modifiedAt: Date,
  ): Promise<Revision> {
    const body = giftToInvoice(gift, settings, modifiedAt);
    const response = await this.post(ctx, settings, {
      path: '/invoices',
      route: 'POST /invoices',
      giftId: gift.id,
      operation: 'invoice',
      body,
    });
    if (response.status !== 409 && response.headers.get('idempotent-replayed') !== 'true') {
      // Booked just now under the first revision's key: the gift's first invoice.
      return { invoice: invoiceFrom(response.body), revision: 1 };
    }
    // A replay answers with the invoice as it was first booked (it may have been voided or
    // re-issued since), a 409 says the gift changed after it was invoiced: the ledger's current
    // documents decide.
    return this.reissueIfChanged(ctx, settings, gift, body);
  }

  /**
   * The gift's current invoice (its newest live one) if it books the gift's amount and currency.
   * Otherwise, since invoices are immutable, the changed amount is booked as a new revision under
   * the same reference, each write under its own revision's idempotency key: an uncredited
   * invoice is voided first ("amended in Raise"); a credited one (a refund, which nets to zero)
   * stands as settled history and the new revision gets its own credit note if the gift is still
   * refunded. Crash-safe: a retry after the void finds no live invoice of the old amount and
   * issues the same revision.
   */
  private async reissueIfChanged(
    ctx: DestinationContext,
    settings: AccountingSettings,
    gift: RaiseGift,
    body: Record<string, unknown>,
  ): Promise<Revision> {
    const revisions = await this.findInvoices(ctx, settings, gift.id);
    const totalMinor = (body.lines as Array<{ amountMinor: number }>).reduce(
      (sum, line) => sum + line.amountMinor,
      0,
    );
    const newest = revisions.filter((invoice) => invoice.status !== 'VOIDED').at(-1);
    if (newest && newest.totalMinor === totalMinor && newest.currency === body.currency) {
      return { invoice: newest, revision: revisionOf(newest, revisions) };
    }
    if (newest && newest.creditNotes.length === 0) {
      await this.voidRevision(ctx, settings, gift.id, newest, revisions, AMENDED_REASON);
    }
    const revision = revisions.length + 1;
    const response = await this.post(ctx, settings, {
      path: '/invoices',
      route: 'POST /invoices',
      giftId: gift.id,
      operation: 'invoice',
      revision,
      body,
    });
    if (response.status === 409) {
      throw new RecordRejectedError(
        `accounting refused revision ${revision} of invoice ${invoiceReferenceFor(gift.id)} (idempotency key reused)`,
      );
    }
    return { invoice: invoiceFrom(response.body), revision };
  }

  private async ensureCreditNote(
    ctx: DestinationContext,
    settings: AccountingSettings,
    giftId: string,
    { invoice, revision }: Revision,
  ): Promise<void> {
    const reference = creditNoteReferenceFor(giftId);
    if (invoice.creditNotes.some((note) => note.reference === reference)) {
      return;
    }
    const response = await this.post(ctx, settings, {
      path: '/credit-notes',
      route: 'POST /credit-notes',
      giftId,
      operation: 'credit-note',
      revision,
      body: creditNoteFor(giftId, invoice),
    });
    if (response.status === 409) {
      const current = (await this.findInvoices(ctx, settings, giftId)).find(
        (i) => i.id === invoice.id,
      );
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
    const revisions = await this.findInvoices(ctx, settings, giftId);
    const invoice = preferLive(revisions);
    if (!invoice) {
      return { outcome: 'skipped', reason: 'no invoice exists for this gift: nothing to void' };
    }
    for (const live of revisions.filter((i) => i.status !== 'VOIDED')) {
      await this.voidRevision(ctx, settings, giftId, live, revisions, VOID_REASON);
    }
    return { outcome: 'delivered', destinationRecordId: invoice.id };
  }

  private async voidRevision(
    ctx: DestinationContext,
    settings: AccountingSettings,
    giftId: string,
    invoice: AccountingInvoice,
    revisions: readonly AccountingInvoice[],
    reason: string,
  ): Promise<void> {
    await this.post(ctx, settings, {
      path: `/invoices/${encodeURIComponent(invoice.id)}/void`,
      route: 'POST /invoices/{id}/void',
      giftId,
      operation: 'void',
      revision: revisionOf(invoice, revisions),
      body: { reason },
    });
  }

  private async post(
    ctx: DestinationContext,
    settings: AccountingSettings,
    write: {
      path: string;
      route: string;
      giftId: string;
      operation: GiftOperation;
      revision?: number;
      body: unknown;
    },
  ): Promise<{ status: number; headers: Headers; body: unknown }> {
    const key = idempotencyKeyFor(ctx.customerId, write.giftId, write.operation, write.revision);
    const response = await this.http.request({
      destination: NAME,
      method: 'POST',
      url: `${settings.baseUrl}${write.path}`,
      route: write.route,
      token: settings.token,
      headers: { 'idempotency-key': key },
      body: write.body,
      acceptStatuses: [409],
    });
    if (response.status === 409 && !isConflict(response.body)) {
      throw new RecordRejectedError(`accounting ${write.route} answered 409 (conflict)`);
    }
    return response;
  }

  /** Every invoice booked under the gift's reference, oldest (revision 1) first. */
  private async findInvoices(
    ctx: DestinationContext,
    settings: AccountingSettings,
    giftId: string,
  ): Promise<AccountingInvoice[]> {
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
    return items.map(invoiceFrom);
  }

  async lookup(
    ctx: DestinationContext,
    resource: Resource,
    sourceId: string,
  ): Promise<LookupResult> {
    if (resource !== 'gift') {
      return { exists: false };
    }
    const invoice = preferLive(await this.findInvoices(ctx, accountingSettings(ctx), sourceId));
    return invoice
      ? { exists: true, deleted: invoice.status === 'VOIDED', destinationRecordId: invoice.id }
      : { exists: false };
  }

  async health(ctx: DestinationContext): Promise<void> {
    await this.findInvoices(ctx, accountingSettings(ctx), 'raise-sync-health-check');
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

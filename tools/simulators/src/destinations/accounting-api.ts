import { createHash } from 'node:crypto';
import { bearerToken, HttpError, parseBody, type Route, type RouteResult } from '../http/util';
import { AccountBase, EMAIL, isObject, isoNow, text } from './account';
import {
  retryHeaders,
  type DestinationApi,
  type DestinationRequest,
  type DestinationStyle,
  type FieldError,
} from './gate';
import type {
  AccountingCreditNote,
  AccountingInvoice,
  AccountingLine,
  AccountingLogEntry,
} from './types';

/** A write the ledger accepted: enough to rebuild the answer it got. */
type Written =
  { op: 'invoice' | 'void'; id: string } | { op: 'credit-note'; id: string; invoiceId: string };

/**
 * What a POST got the first time, kept per Idempotency-Key (successes only). The answer is rebuilt
 * from the document rather than stored: an invoice's creation answer is its initial state, a
 * credit note never changes, and a voided invoice changes no more.
 */
interface StoredWrite {
  /** Hash of method, path and canonical JSON body. */
  fingerprint: string;
  written: Written;
}

const pad = (n: number) => String(n).padStart(6, '0');

/** One simulated accounting ledger: invoices, credit notes and an operation log. */
export class AccountingAccount extends AccountBase {
  readonly kind = 'accounting' as const;
  private invoices = new Map<string, AccountingInvoice>();
  /** One invoice per reference, an array only when a reference was used more than once. */
  private byReference = new Map<string, AccountingInvoice | AccountingInvoice[]>();
  private creditNotes: AccountingCreditNote[] = [];
  private log: AccountingLogEntry[] = [];
  readonly idempotency = new Map<string, StoredWrite>();

  reset(): void {
    this.invoices = new Map();
    this.byReference = new Map();
    this.creditNotes = [];
    this.log = [];
    this.idempotency.clear();
  }

  invoice(id: string): AccountingInvoice | undefined {
    return this.invoices.get(id);
  }

  invoicesWithReference(reference: string): AccountingInvoice[] {
    const found = this.byReference.get(reference);
    return found === undefined ? [] : Array.isArray(found) ? found : [found];
  }

  /** The answer a write got (and gets again on replay), as a fresh copy. */
  answerFor(written: Written): unknown {
    const invoice = this.invoices.get(
      written.op === 'credit-note' ? written.invoiceId : written.id,
    )!;
    switch (written.op) {
      case 'invoice':
        return {
          ...structuredClone(invoice),
          status: 'AUTHORISED',
          creditedMinor: 0,
          voidReason: null,
          creditNotes: [],
          updatedAt: invoice.createdAt,
        };
      case 'credit-note':
        return structuredClone(invoice.creditNotes.find((note) => note.id === written.id));
      case 'void':
        return structuredClone(invoice);
    }
  }

  addInvoice(
    fields: Pick<AccountingInvoice, 'reference' | 'contact' | 'currency' | 'issueDate' | 'lines'>,
  ): AccountingInvoice {
    const n = this.invoices.size + 1;
    const at = isoNow();
    const invoice: AccountingInvoice = {
      id: `inv_${pad(n)}`,
      number: `INV-${pad(n)}`,
      status: 'AUTHORISED',
      ...fields,
      totalMinor: fields.lines.reduce((sum, line) => sum + line.amountMinor, 0),
      creditedMinor: 0,
      voidReason: null,
      creditNotes: [],
      createdAt: at,
      updatedAt: at,
    };
    this.invoices.set(invoice.id, invoice);
    const same = this.byReference.get(invoice.reference);
    if (same === undefined) {
      this.byReference.set(invoice.reference, invoice);
    } else if (Array.isArray(same)) {
      same.push(invoice);
    } else {
      this.byReference.set(invoice.reference, [same, invoice]);
    }
    this.record('invoice', invoice.id, invoice, invoice.reference, invoice.totalMinor, at);
    return invoice;
  }

  addCreditNote(
    invoice: AccountingInvoice,
    fields: Pick<AccountingCreditNote, 'reference' | 'amountMinor' | 'currency' | 'reason'>,
  ): AccountingCreditNote {
    const n = this.creditNotes.length + 1;
    const at = isoNow();
    const note: AccountingCreditNote = {
      id: `cn_${pad(n)}`,
      number: `CN-${pad(n)}`,
      invoiceId: invoice.id,
      ...fields,
      status: 'AUTHORISED',
      createdAt: at,
    };
    this.creditNotes.push(note);
    invoice.creditNotes.push(note);
    invoice.creditedMinor += note.amountMinor;
    invoice.updatedAt = at;
    this.record('credit-note', note.id, invoice, note.reference, note.amountMinor, at);
    return note;
  }

  voidInvoice(invoice: AccountingInvoice, reason: string | null): void {
    const at = isoNow();
    invoice.status = 'VOIDED';
    invoice.voidReason = reason;
    invoice.updatedAt = at;
    this.record('void', invoice.id, invoice, invoice.reference, null, at);
  }

  private record(
    op: AccountingLogEntry['op'],
    id: string,
    invoice: AccountingInvoice,
    reference: string,
    amountMinor: number | null,
    at: string,
  ): void {
    this.log.push({
      seq: this.log.length + 1,
      op,
      id,
      invoiceId: invoice.id,
      reference,
      invoiceReference: invoice.reference,
      amountMinor,
      at,
    });
  }

  invoiceList(): AccountingInvoice[] {
    return structuredClone([...this.invoices.values()]);
  }

  creditNoteList(): AccountingCreditNote[] {
    return structuredClone(this.creditNotes);
  }

  logList(): AccountingLogEntry[] {
    return structuredClone(this.log);
  }
}

const CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  422: 'validation',
  429: 'rate_limited',
  500: 'internal_error',
  503: 'service_unavailable',
};

/** `{ "error": "<code>", "message": "…" }`; 422 adds `details: [{ field, message }]`. */
export const accountingStyle: DestinationStyle = {
  error(status, message, details, headers = {}) {
    const code = CODES[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
    const body: Record<string, unknown> = { error: code, message };
    if (details) {
      body.details = details.map(({ field, message: text }) => ({ field, message: text }));
    }
    return new HttpError(status, body, { ...retryHeaders(status), ...headers });
  },
};

type Request = DestinationRequest<AccountingAccount>;
type Candidates = Array<[string, unknown]>;

/** JSON with object keys sorted, so key order does not change a request's fingerprint. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonical).join(',')}]`;
  }
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? '';
}

/**
 * The Idempotency-Key protocol around one write: 400 without a key; `statusFor` faults; a key
 * seen with the same request replays the first answer (200, `Idempotent-Replayed: true`); a key
 * seen with another request is 409. Only successful answers are kept, so a request that failed
 * (validation, fault) can be retried with its key.
 */
function idempotentWrite(
  context: Request,
  candidates: (input: Record<string, unknown>) => Candidates,
  execute: (input: Record<string, unknown>) => { status: number; written: Written },
): RouteResult {
  const key = text(context.request.headers['idempotency-key']);
  if (!key) {
    throw accountingStyle.error(
      400,
      'The Idempotency-Key header is required on every POST.',
      undefined,
    );
  }
  const parsed = parseBody(context.raw, context.request.headers['content-type'], (message) =>
    accountingStyle.error(400, message),
  );
  if (parsed !== undefined && !isObject(parsed)) {
    throw accountingStyle.error(400, 'The request body must be a JSON object.');
  }
  const input = parsed ?? {};
  context.rejectIfFaulted(candidates(input));
  const fingerprint = createHash('sha256')
    .update(`${context.request.method ?? ''} ${context.url.pathname}\n${canonical(input)}`)
    .digest()
    .toString('base64', 0, 18);
  const account = context.account;
  const store = account.idempotency;
  const stored = store.get(key);
  if (stored) {
    if (stored.fingerprint !== fingerprint) {
      throw new HttpError(409, {
        error: 'idempotency_key_reused',
        message: `Idempotency-Key '${key}' was already used with a different request.`,
      });
    }
    return {
      status: 200,
      body: account.answerFor(stored.written),
      headers: { 'idempotent-replayed': 'true' },
    };
  }
  // Failures throw, so whatever comes back was accepted.
  const { status, written } = execute(input);
  store.set(key, { fingerprint, written });
  return { status, body: account.answerFor(written) };
}

/** Collects `{ field, message }` problems, then answers 422 with all of them. */
class Validation {
  readonly errors: FieldError[] = [];

  add(field: string, message: string): undefined {
    this.errors.push({ field, code: 'INVALID', message });
    return undefined;
  }

  required(value: unknown, field: string): string | undefined {
    return text(value) ?? this.add(field, `${field} is required.`);
  }

  currency(value: unknown, field: string): string | undefined {
    const currency = this.required(value, field);
    if (currency !== undefined && !/^[A-Z]{3}$/.test(currency)) {
      return this.add(field, `${field} must be an ISO 4217 code in capitals, e.g. USD.`);
    }
    return currency;
  }

  amountMinor(value: unknown, field: string): number | undefined {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      return this.add(field, `${field} must be a positive integer (minor units).`);
    }
    return value;
  }

  check(): void {
    if (this.errors.length > 0) {
      throw accountingStyle.error(
        422,
        this.errors.length === 1
          ? this.errors[0]!.message
          : `${this.errors.length} fields are invalid.`,
        this.errors,
      );
    }
  }
}

function isDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    return false;
  }
  const ms = Date.parse(`${value}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(value);
}

function createInvoice(context: Request): RouteResult {
  return idempotentWrite(
    context,
    (input) => [['reference', input.reference]],
    (input) => {
      const check = new Validation();
      const reference = check.required(input.reference, 'reference');
      let contact: AccountingInvoice['contact'] | undefined;
      if (!isObject(input.contact)) {
        check.add('contact', 'contact is required: { email, name }.');
      } else {
        const email = text(input.contact.email) ?? null;
        const name = text(input.contact.name) ?? null;
        if (email === null && name === null) {
          check.add('contact', 'contact needs an email or a name.');
        } else if (email !== null && !EMAIL.test(email)) {
          check.add('contact.email', 'contact.email must be a valid email address.');
        }
        contact = { email, name };
      }
      const currency = check.currency(input.currency, 'currency');
      const issueDate = check.required(input.issueDate, 'issueDate');
      if (issueDate !== undefined && !isDate(issueDate)) {
        check.add('issueDate', 'issueDate must be a date, YYYY-MM-DD.');
      }
      const lines: AccountingLine[] = [];
      if (!Array.isArray(input.lines) || input.lines.length === 0) {
        check.add('lines', 'lines must hold at least one line.');
      } else {
        input.lines.forEach((raw: unknown, i) => {
          const line = isObject(raw) ? raw : {};
          const description = check.required(line.description, `lines[${i}].description`);
          const amountMinor = check.amountMinor(line.amountMinor, `lines[${i}].amountMinor`);
          const ledger = line.account;
          if (ledger !== undefined && ledger !== null && typeof ledger !== 'string') {
            check.add(`lines[${i}].account`, `lines[${i}].account must be a string.`);
          }
          lines.push({
            description: description ?? '',
            amountMinor: amountMinor ?? 0,
            account: typeof ledger === 'string' ? ledger : null,
          });
        });
      }
      check.check();
      const invoice = context.account.addInvoice({
        reference: reference!,
        contact: contact!,
        currency: currency!,
        issueDate: issueDate!,
        lines,
      });
      return { status: 201, written: { op: 'invoice', id: invoice.id } };
    },
  );
}

function createCreditNote(context: Request): RouteResult {
  const account = context.account;
  const invoiceOf = (input: Record<string, unknown>) =>
    typeof input.invoiceId === 'string' ? account.invoice(input.invoiceId) : undefined;
  return idempotentWrite(
    context,
    (input) => [
      ['reference', input.reference],
      ['invoiceId', input.invoiceId],
      ['invoice.reference', invoiceOf(input)?.reference],
    ],
    (input) => {
      const check = new Validation();
      const invoiceId = check.required(input.invoiceId, 'invoiceId');
      const reference = check.required(input.reference, 'reference');
      const amountMinor = check.amountMinor(input.amountMinor, 'amountMinor');
      const currency = check.currency(input.currency, 'currency');
      const reason = input.reason;
      if (reason !== undefined && reason !== null && typeof reason !== 'string') {
        check.add('reason', 'reason must be a string.');
      }
      check.check();
      const invoice = account.invoice(invoiceId!);
      if (!invoice) {
        throw accountingStyle.error(404, `Invoice '${invoiceId}' not found.`);
      }
      if (invoice.status === 'VOIDED') {
        check.add('invoiceId', `Invoice '${invoice.id}' is voided and cannot be credited.`);
      }
      if (currency !== invoice.currency) {
        check.add('currency', `currency must be the invoice's currency (${invoice.currency}).`);
      }
      const left = invoice.totalMinor - invoice.creditedMinor;
      if (amountMinor! > left) {
        check.add(
          'amountMinor',
          `amountMinor ${amountMinor} exceeds what is left to credit on the invoice (${left}).`,
        );
      }
      check.check();
      const note = account.addCreditNote(invoice, {
        reference: reference!,
        amountMinor: amountMinor!,
        currency: currency!,
        reason: typeof reason === 'string' ? reason : null,
      });
      return {
        status: 201,
        written: { op: 'credit-note', id: note.id, invoiceId: invoice.id },
      };
    },
  );
}

function voidInvoice(context: Request, [id]: string[]): RouteResult {
  const invoiceId = decodeURIComponent(id!);
  const invoice = context.account.invoice(invoiceId);
  return idempotentWrite(
    context,
    () => [
      ['id', invoiceId],
      ['reference', invoice?.reference],
    ],
    (input) => {
      if (!invoice) {
        throw accountingStyle.error(404, `Invoice '${invoiceId}' not found.`);
      }
      const reason = input.reason;
      if (reason !== undefined && reason !== null && typeof reason !== 'string') {
        const check = new Validation();
        check.add('reason', 'reason must be a string.');
        check.check();
      }
      // Voiding twice changes nothing: the invoice stays voided with its first reason.
      if (invoice.status !== 'VOIDED') {
        context.account.voidInvoice(invoice, typeof reason === 'string' ? reason : null);
      }
      return { status: 200, written: { op: 'void', id: invoice.id } };
    },
  );
}

function listInvoices(context: Request): RouteResult {
  const reference = context.url.searchParams.get('reference');
  context.rejectIfFaulted([['reference', reference]]);
  const items =
    reference === null
      ? context.account.invoiceList()
      : structuredClone(context.account.invoicesWithReference(reference));
  return { status: 200, body: { items } };
}

function getInvoice(context: Request, [id]: string[]): RouteResult {
  const invoiceId = decodeURIComponent(id!);
  const invoice = context.account.invoice(invoiceId);
  context.rejectIfFaulted([
    ['id', invoiceId],
    ['reference', invoice?.reference],
  ]);
  if (!invoice) {
    throw accountingStyle.error(404, `Invoice '${invoiceId}' not found.`);
  }
  return { status: 200, body: structuredClone(invoice) };
}

const routes: Array<Route<Request>> = [
  {
    method: 'POST',
    pattern: /^\/invoices\/?$/,
    template: 'POST /invoices',
    handler: createInvoice,
  },
  { method: 'GET', pattern: /^\/invoices\/?$/, template: 'GET /invoices', handler: listInvoices },
  {
    method: 'GET',
    pattern: /^\/invoices\/([^/]+)\/?$/,
    template: 'GET /invoices/{id}',
    handler: getInvoice,
  },
  {
    method: 'POST',
    pattern: /^\/invoices\/([^/]+)\/void\/?$/,
    template: 'POST /invoices/{id}/void',
    handler: voidInvoice,
  },
  {
    method: 'POST',
    pattern: /^\/credit-notes\/?$/,
    template: 'POST /credit-notes',
    handler: createCreditNote,
  },
];

export const accountingApi: DestinationApi<AccountingAccount> = {
  kind: 'accounting',
  routes,
  style: accountingStyle,
  resolve(host, request) {
    const account = host.accountWithToken(bearerToken(request));
    return account instanceof AccountingAccount ? account : undefined;
  },
  unknownAccount: () => accountingStyle.error(401, 'A valid bearer token is required.'),
  // Documents are voided or credited, never deleted.
  unsupportedMethods: { DELETE: 'Hard deletes are not supported: void the invoice instead.' },
};

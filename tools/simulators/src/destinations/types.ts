import type { RateLimitConfig } from '../faults';
import type {
  CrmWebhookAttempt,
  CrmWebhookDropped,
  CrmWebhookDrops,
  CrmWebhookSubscription,
} from './crm-plus-webhooks';

/** The destination systems the simulator plays (the warehouse is a real database instead). */
export const DESTINATION_ACCOUNT_KINDS = [
  'crm-plus',
  'accounting',
  'marketing',
  'webhook',
] as const;
export type DestinationAccountKind = (typeof DESTINATION_ACCOUNT_KINDS)[number];

export interface CreateDestinationAccountOptions {
  kind: DestinationAccountKind;
  /** Unique across every destination account, 1-64 characters of [A-Za-z0-9_.-]. */
  id: string;
  /** Bearer token (crm-plus, accounting, marketing). Default `<id>-token`. Unique. */
  token?: string;
  /** Webhook signing secret. Default `<id>-secret`. */
  secret?: string;
  /** Marketing list id (the only list the account has). Default `<id>-list`. */
  listId?: string;
  /** CRM+ requests per hour for this account. Default 5000 (the documented figure). */
  hourlyLimit?: number;
  /** Length of the CRM+ rate-limit window in ms. Default one hour; shorter for tests. */
  hourlyWindowMs?: number;
}

export interface DestinationAccountSummary {
  id: string;
  kind: DestinationAccountKind;
  /** Base URL of the account's API; for webhooks the endpoint itself (`${hooksUrl}/<id>`). */
  url: string;
  /** Bearer token; null for webhook endpoints (they verify a signature instead). */
  token: string | null;
  /** Webhook signing secret, null for the other kinds. */
  secret: string | null;
  /** Marketing list id, null for the other kinds. */
  listId: string | null;
  /** CRM+ hourly request limit, null for the other kinds. */
  hourlyLimit: number | null;
}

export interface DestinationFaultConfig {
  /** Added to every request of the account. */
  latencyMs?: number;
  /** Extra random latency in [0, latencyJitterMs). */
  latencyJitterMs?: number;
  /** Share of requests (0..1) answered 500 or 503 (503 with `Retry-After: 1`). */
  errorRate?: number;
  /** Every request of the account answers this status (429 and 503 with `Retry-After: 1`). */
  status?: number;
  /** The `Retry-After` (seconds) a forced `status` answers with instead of 1. */
  retryAfterSeconds?: number;
  /**
   * Requests about one record answer a status with the API's own error body. Keys are matched
   * case-insensitively against the CRM+ referenceId / transactionId / email, the accounting
   * `reference` / invoice id, the marketing email (or subscriber hash) and a webhook body's
   * `recordId`.
   */
  statusFor?: Record<string, number>;
  /** Token bucket for the account: 429 + `Retry-After` (whole seconds) when empty. */
  rateLimit?: RateLimitConfig;
}

/** Request counts of one account (control and webhook-less, like the source stats). */
export interface DestinationStats {
  requests: {
    total: number;
    /** Keyed `METHOD /path/template`, e.g. `POST /api/v2/Gift/Transaction`. */
    byRoute: Record<string, number>;
    /** Keyed by status code. */
    byStatus: Record<string, number>;
  };
  /** 429 answers sent (hourly limit, token bucket or a forced 429). */
  rateLimited: number;
}

// ------------------------------------------------------------------ CRM+

export interface CrmReference {
  referenceSource: string;
  referenceId: string;
}

export interface CrmContact {
  id: number;
  email: string;
  contactType: string | null;
  name: string | null;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  address1: string | null;
  city: string | null;
  state: string | null;
  postal: string | null;
  country: string | null;
  /** Tags accumulate: a transaction adds its tags, it never removes any. */
  tags: string[];
  emailLists: string[];
  customFields: Record<string, unknown>;
  /** The reference pair attached most recently (null when created through a gift). */
  referenceSource: string | null;
  referenceId: string | null;
  /** Every (referenceSource, referenceId) pair attached to this contact. */
  references: CrmReference[];
  createdAt: string;
  updatedAt: string;
}

export interface CrmGift {
  id: number;
  contactId: number;
  transactionSource: string;
  transactionId: string;
  amount: number;
  currencyCode: string;
  giftDate: string;
  giftType: string | null;
  frequency: string | null;
  recurringGiftTransactionId: string | null;
  segment: string | null;
  notes: string | null;
  isPrivate: boolean;
  cancelDate: string | null;
  /** How many transactions wrote this gift (1 = created, never updated). */
  writes: number;
  createdAt: string;
  updatedAt: string;
}

// ------------------------------------------------------------ accounting

export interface AccountingLine {
  description: string;
  amountMinor: number;
  account: string | null;
}

export interface AccountingCreditNote {
  id: string;
  number: string;
  invoiceId: string;
  reference: string;
  amountMinor: number;
  currency: string;
  reason: string | null;
  status: 'AUTHORISED';
  createdAt: string;
}

export interface AccountingInvoice {
  id: string;
  number: string;
  status: 'AUTHORISED' | 'VOIDED';
  reference: string;
  contact: { email: string | null; name: string | null };
  currency: string;
  issueDate: string;
  lines: AccountingLine[];
  totalMinor: number;
  /** Sum of the credit notes against this invoice. */
  creditedMinor: number;
  voidReason: string | null;
  creditNotes: AccountingCreditNote[];
  createdAt: string;
  updatedAt: string;
}

/** One accepted write, in the order the account accepted them. */
export interface AccountingLogEntry {
  /** 1, 2, ... per account. */
  seq: number;
  op: 'invoice' | 'credit-note' | 'void';
  /** The invoice id, or the credit note id for `credit-note`. */
  id: string;
  invoiceId: string;
  /** The reference of the document written (the credit note's own for `credit-note`). */
  reference: string;
  invoiceReference: string;
  /** Invoice total or credit note amount; null for `void`. */
  amountMinor: number | null;
  at: string;
}

// -------------------------------------------------------------- marketing

export const MARKETING_STATUSES = ['subscribed', 'unsubscribed', 'transactional'] as const;
export type MarketingStatus = (typeof MARKETING_STATUSES)[number];

export interface MarketingMember {
  /** md5 of the lower-cased email, hex. */
  id: string;
  list_id: string;
  email_address: string;
  status: MarketingStatus | 'archived';
  merge_fields: Record<string, unknown>;
  tags: string[];
  last_changed: string;
}

// ---------------------------------------------------------------- webhook

export interface HookDelivery {
  /** 1, 2, ... per account, counting duplicates too. */
  seq: number;
  idempotencyKey: string | null;
  /** The body's `recordId`, when it has one. */
  recordId: string | null;
  /** `X-RaiseSync-Timestamp` as sent. */
  timestamp: string;
  receivedAt: string;
  body: unknown;
}

/**
 * The destination simulators' control operations, in-process as `simulator.destinations` and
 * over HTTP under `/_sim/destinations/...`. Unknown accounts throw a SimulatorError (404), an
 * inspection of the wrong kind (e.g. `invoices` of a CRM+ account) or bad input one with 400.
 * Inspections return copies, in creation order.
 */
export interface DestinationControl {
  /** 409 when the id or the token is taken. */
  createAccount(options: CreateDestinationAccountOptions): DestinationAccountSummary;
  listAccounts(): DestinationAccountSummary[];
  /** Drops the account, its data, faults and stats. */
  removeAccount(accountId: string): void;
  /** Forgets the account's data, idempotency keys, hourly window and stats; keeps its faults. */
  reset(accountId: string): void;

  /** Replaces the fault config of one account, or of every account with '*'. */
  setDestinationFaults(accountId: string, faults: DestinationFaultConfig): void;
  /** Removes the config of one account (or of '*'), rate-limit bucket included. */
  clearDestinationFaults(accountId: string): void;
  getDestinationFaults(): Record<string, DestinationFaultConfig>;

  crmContacts(accountId: string): CrmContact[];
  crmGifts(accountId: string): CrmGift[];
  invoices(accountId: string): AccountingInvoice[];
  creditNotes(accountId: string): AccountingCreditNote[];
  accountingLog(accountId: string): AccountingLogEntry[];
  /** Every member, archived ones included (status 'archived'). */
  members(accountId: string): MarketingMember[];
  /** Stored deliveries: one per distinct Idempotency-Key (and every one without a key). */
  hookDeliveries(accountId: string): HookDelivery[];
  /** Deliveries that repeated an Idempotency-Key already stored (answered 200, not stored). */
  hookDuplicates(accountId: string): HookDelivery[];
  destinationStats(accountId: string): DestinationStats;

  /** The CRM+ account's webhook subscriptions (made with `POST /api/Webhook`; no secrets). */
  crmWebhooks(accountId: string): CrmWebhookSubscription[];
  /** Every CRM+ webhook delivery attempt, retries included, in order. */
  crmWebhookAttempts(accountId: string): CrmWebhookAttempt[];
  /** CRM+ webhook deliveries withheld by the drop switch. */
  crmDroppedWebhooks(accountId: string): CrmWebhookDropped[];
  /** Replaces the CRM+ account's drop switch (a share, and/or record keys); `{}` turns it off. */
  setCrmWebhookDrops(accountId: string, drops: CrmWebhookDrops): void;
  /** Resolves once no CRM+ webhook of any account is queued, in flight or awaiting a retry. */
  flushCrmWebhooks(): Promise<void>;
}

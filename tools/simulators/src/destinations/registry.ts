import { SimulatorError } from '../errors';
import { FaultRegistry } from '../faults';
import { StatsRecorder } from '../stats';
import { AccountingAccount } from './accounting-api';
import { CrmPlusAccount, CRM_DEFAULT_HOURLY_LIMIT } from './crm-plus-api';
import type { CrmWebhookDrops } from './crm-plus-webhooks';
import { validateDestinationFaults } from './faults';
import type { DestinationHost } from './gate';
import { MarketingAccount } from './marketing-api';
import {
  DESTINATION_ACCOUNT_KINDS,
  type CreateDestinationAccountOptions,
  type DestinationAccountKind,
  type DestinationAccountSummary,
  type DestinationControl,
  type DestinationFaultConfig,
  type DestinationStats,
} from './types';
import { WebhookAccount } from './hooks-api';

export type DestinationAccount =
  CrmPlusAccount | AccountingAccount | MarketingAccount | WebhookAccount;

type AccountOfKind<K extends DestinationAccountKind> = Extract<DestinationAccount, { kind: K }>;

const ACCOUNT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** URL prefixes of the destination APIs, relative to the simulator's base URL. */
export const DESTINATION_PREFIXES = {
  'crm-plus': '/crm',
  accounting: '/accounting',
  marketing: '/marketing',
  webhook: '/hooks',
} as const satisfies Record<DestinationAccountKind, string>;

function optionalText(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw new SimulatorError(400, `${name} must be a non-empty string`);
  }
  return value;
}

/** Every destination account, their faults and their request stats. */
export class DestinationRegistry implements DestinationHost {
  readonly accounts = new Map<string, DestinationAccount>();
  readonly byToken = new Map<string, DestinationAccount>();
  /** One token bucket per account: the API name is always 'api'. */
  readonly faults = new FaultRegistry<DestinationFaultConfig, 'api'>();
  readonly stats = new StatsRecorder();
  /** The simulator's base URL, set once it listens; used in account summaries. */
  baseUrl = '';

  account(id: string): DestinationAccount {
    const account = this.accounts.get(id);
    if (!account) {
      throw new SimulatorError(404, `unknown destination account '${id}'`);
    }
    return account;
  }

  /** The account, which must be of `kind` (400 otherwise). */
  accountOf<K extends DestinationAccountKind>(id: string, kind: K): AccountOfKind<K> {
    const account = this.account(id);
    if (account.kind !== kind) {
      throw new SimulatorError(
        400,
        `destination account '${id}' is a ${account.kind} account, not ${kind}`,
      );
    }
    return account as AccountOfKind<K>;
  }

  accountWithToken(token: string | undefined): DestinationAccount | undefined {
    return token === undefined ? undefined : this.byToken.get(token);
  }

  accountWithId(id: string): DestinationAccount | undefined {
    return this.accounts.get(id);
  }

  createAccount(options: CreateDestinationAccountOptions): DestinationAccountSummary {
    if (typeof options !== 'object' || options === null) {
      throw new SimulatorError(400, 'account options must be an object');
    }
    const { kind, id } = options;
    if (!(DESTINATION_ACCOUNT_KINDS as readonly unknown[]).includes(kind)) {
      throw new SimulatorError(
        400,
        `kind must be one of ${DESTINATION_ACCOUNT_KINDS.join(', ')} (got ${JSON.stringify(kind)})`,
      );
    }
    if (typeof id !== 'string' || !ACCOUNT_ID.test(id)) {
      throw new SimulatorError(400, 'id must be 1-64 characters of [A-Za-z0-9_.-]');
    }
    if (this.accounts.has(id)) {
      throw new SimulatorError(409, `destination account '${id}' already exists`);
    }
    const token =
      kind === 'webhook' ? null : (optionalText(options.token, 'token') ?? `${id}-token`);
    if (token !== null && this.byToken.has(token)) {
      throw new SimulatorError(409, 'token already used by another destination account');
    }
    let account: DestinationAccount;
    switch (kind) {
      case 'crm-plus': {
        const limit = options.hourlyLimit ?? CRM_DEFAULT_HOURLY_LIMIT;
        if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
          throw new SimulatorError(400, 'hourlyLimit must be a positive integer');
        }
        const windowMs = options.hourlyWindowMs ?? 3_600_000;
        if (typeof windowMs !== 'number' || !Number.isInteger(windowMs) || windowMs < 100) {
          throw new SimulatorError(400, 'hourlyWindowMs must be an integer of at least 100');
        }
        account = new CrmPlusAccount(id, token!, limit, windowMs);
        break;
      }
      case 'accounting':
        account = new AccountingAccount(id, token);
        break;
      case 'marketing':
        account = new MarketingAccount(
          id,
          token!,
          optionalText(options.listId, 'listId') ?? `${id}-list`,
        );
        break;
      case 'webhook':
        account = new WebhookAccount(id, optionalText(options.secret, 'secret') ?? `${id}-secret`);
        break;
    }
    this.accounts.set(id, account);
    if (token !== null) {
      this.byToken.set(token, account);
    }
    return this.summary(account);
  }

  removeAccount(id: string): void {
    const account = this.account(id);
    if (account.kind === 'crm-plus') {
      account.webhooks.stop();
    }
    this.accounts.delete(id);
    if (account.token !== null) {
      this.byToken.delete(account.token);
    }
    this.faults.forgetOrg(id);
    this.stats.forget(id);
  }

  reset(id: string): void {
    this.account(id).reset();
    this.stats.forget(id);
  }

  summary(account: DestinationAccount): DestinationAccountSummary {
    const base = `${this.baseUrl}${DESTINATION_PREFIXES[account.kind]}`;
    return {
      id: account.id,
      kind: account.kind,
      url: account.kind === 'webhook' ? `${base}/${encodeURIComponent(account.id)}` : base,
      token: account.token,
      secret: account.kind === 'webhook' ? account.secret : null,
      listId: account.kind === 'marketing' ? account.listId : null,
      hourlyLimit: account.kind === 'crm-plus' ? account.hourlyLimit : null,
    };
  }

  setFaults(scope: string, faults: DestinationFaultConfig): void {
    if (scope !== '*') {
      this.account(scope);
    }
    let valid: DestinationFaultConfig;
    try {
      valid = validateDestinationFaults(faults);
    } catch (error) {
      throw new SimulatorError(400, (error as Error).message);
    }
    this.faults.set(scope, valid);
  }

  clearFaults(scope: string): void {
    if (scope !== '*') {
      this.account(scope);
    }
    this.faults.forgetOrg(scope);
  }

  accountStats(id: string): DestinationStats {
    this.account(id);
    const { requests, rateLimited } = this.stats.snapshot(id, 0);
    return { requests, rateLimited };
  }

  setCrmWebhookDrops(id: string, drops: CrmWebhookDrops): void {
    const account = this.accountOf(id, 'crm-plus');
    if (typeof drops !== 'object' || drops === null) {
      throw new SimulatorError(400, 'drops must be an object');
    }
    const { rate, keys } = drops;
    if (rate !== undefined && (typeof rate !== 'number' || !(rate >= 0 && rate <= 1))) {
      throw new SimulatorError(400, 'rate must be a number between 0 and 1');
    }
    if (
      keys !== undefined &&
      !(Array.isArray(keys) && keys.every((k) => typeof k === 'string' && k !== ''))
    ) {
      throw new SimulatorError(400, 'keys must be an array of non-empty strings');
    }
    account.webhooks.setDrops({ rate, keys });
  }

  /** Resolves when no CRM+ account has a webhook delivery pending. */
  async flushCrmWebhooks(): Promise<void> {
    for (const account of this.accounts.values()) {
      if (account.kind === 'crm-plus') {
        await account.webhooks.flush();
      }
    }
  }

  /** Stops every outbox (timers cleared, pending deliveries forgotten). */
  stop(): void {
    for (const account of this.accounts.values()) {
      if (account.kind === 'crm-plus') {
        account.webhooks.stop();
      }
    }
  }

  control(): DestinationControl {
    return {
      createAccount: (options) => this.createAccount(options),
      listAccounts: () => [...this.accounts.values()].map((account) => this.summary(account)),
      removeAccount: (id) => this.removeAccount(id),
      reset: (id) => this.reset(id),
      setDestinationFaults: (id, faults) => this.setFaults(id, faults),
      clearDestinationFaults: (id) => this.clearFaults(id),
      getDestinationFaults: () => structuredClone(this.faults.all()),
      crmContacts: (id) => this.accountOf(id, 'crm-plus').contactList(),
      crmGifts: (id) => this.accountOf(id, 'crm-plus').giftList(),
      invoices: (id) => this.accountOf(id, 'accounting').invoiceList(),
      creditNotes: (id) => this.accountOf(id, 'accounting').creditNoteList(),
      accountingLog: (id) => this.accountOf(id, 'accounting').logList(),
      members: (id) => this.accountOf(id, 'marketing').memberList(),
      hookDeliveries: (id) => this.accountOf(id, 'webhook').deliveryList(),
      hookDuplicates: (id) => this.accountOf(id, 'webhook').duplicateList(),
      destinationStats: (id) => this.accountStats(id),
      crmWebhooks: (id) => this.accountOf(id, 'crm-plus').webhooks.list(),
      crmWebhookAttempts: (id) => this.accountOf(id, 'crm-plus').webhooks.attempts(),
      crmDroppedWebhooks: (id) => this.accountOf(id, 'crm-plus').webhooks.droppedList(),
      setCrmWebhookDrops: (id, drops) => this.setCrmWebhookDrops(id, drops),
      flushCrmWebhooks: () => this.flushCrmWebhooks(),
    };
  }
}

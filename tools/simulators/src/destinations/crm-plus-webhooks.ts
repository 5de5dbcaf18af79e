import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { hash32, hashString, Prng } from '../prng';

/**
 * CRM+ webhooks as the simulator plays them (source-apis.md §3.6): subscriptions made with
 * `POST /api/Webhook` ({payloadUrl, secret, one boolean per event}), deliveries of
 * `{"event":"GiftCreate","gift":{...}}` / `{"event":"ContactCreate","contact":{...}}` signed with
 * base64(HMAC-SHA256(secret, raw body)). The vendor documents the algorithm but not the header
 * name; `X-Virtuous-Signature` is the docs' own suggestion and therefore a guess.
 */
export const CRM_WEBHOOK_SIGNATURE_HEADER = 'x-virtuous-signature';

/** The event toggles a subscription may set; the documented list. */
export const CRM_WEBHOOK_TOGGLES = [
  'contactCreate',
  'contactUpdate',
  'giftCreate',
  'giftUpdate',
  'giftDelete',
  'projectCreate',
  'projectUpdate',
  'projectDelete',
  'formSubmission',
  'contactNoteCreate',
  'contactNoteUpdate',
  'contactNoteDelete',
  'eventCreate',
  'eventUpdate',
  'eventDelete',
] as const;
export type CrmWebhookToggle = (typeof CRM_WEBHOOK_TOGGLES)[number];

/** The events the simulator emits (a subset of the toggles, in the payload's PascalCase). */
export type CrmWebhookEvent = 'GiftCreate' | 'GiftUpdate' | 'ContactCreate' | 'ContactUpdate';

const TOGGLE_OF: Record<CrmWebhookEvent, CrmWebhookToggle> = {
  GiftCreate: 'giftCreate',
  GiftUpdate: 'giftUpdate',
  ContactCreate: 'contactCreate',
  ContactUpdate: 'contactUpdate',
};

/** base64(HMAC-SHA256(secret, body)): what the receiver recomputes over the raw bytes. */
export function signCrmWebhook(secret: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(body).digest('base64');
}

/** A subscription as the API shows it (the secret is never shown back). */
export interface CrmWebhookSubscription {
  id: number;
  payloadUrl: string;
  hasSecret: boolean;
  toggles: Record<CrmWebhookToggle, boolean>;
  createdDateTimeUtc: string;
}

/** Which deliveries the simulator withholds, to make an arrival one-sided on purpose. */
export interface CrmWebhookDrops {
  /** Share of deliveries (0..1) never sent, decided from the account's seed. */
  rate?: number;
  /**
   * Deliveries about these records are never sent. Matched case-insensitively against the
   * record's CRM+ id, a gift's transactionId, a contact's referenceId and email.
   */
  keys?: string[];
}

export interface CrmWebhookDropped {
  event: CrmWebhookEvent;
  recordId: number;
  /** The gift's transactionId or the contact's referenceId, when it has one. */
  reference: string | null;
  subscriptionId: number;
  reason: 'rate' | 'key';
}

export interface CrmWebhookAttempt {
  seq: number;
  event: CrmWebhookEvent;
  recordId: number;
  subscriptionId: number;
  url: string;
  attempt: number;
  /** The receiver's HTTP status; null when the connection failed. */
  status: number | null;
  error: string | null;
  at: string;
}

/** Attempts per delivery (the first included) and the delay before the first retry (doubles). */
const ATTEMPTS = 3;
const RETRY_BASE_MS = 200;
const TIMEOUT_MS = 5000;
const MAX_LOG = 10_000;

interface StoredSubscription {
  id: number;
  payloadUrl: string;
  secret: string | null;
  toggles: Record<CrmWebhookToggle, boolean>;
  createdDateTimeUtc: string;
}

/**
 * The webhook side of one CRM+ account: its subscriptions, the drop switch, and an outbox that
 * posts each event to every subscription listening for it, asynchronously (after the API call
 * that caused it has been answered), retrying failures a few times. `flush()` resolves once
 * nothing is queued, in flight or waiting for a retry.
 */
export class CrmWebhookOutbox {
  private subscriptions = new Map<number, StoredSubscription>();
  private nextId = 1;
  private drops: CrmWebhookDrops = {};
  private rng: Prng;
  private readonly dropped: CrmWebhookDropped[] = [];
  private readonly log: CrmWebhookAttempt[] = [];
  private seq = 0;
  private pending = 0;
  private waiters: Array<() => void> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly accountId: string) {
    this.rng = new Prng(hash32(hashString(accountId), 0xc4a));
  }

  subscribe(input: {
    payloadUrl: string;
    secret: string | null;
    toggles: Partial<Record<CrmWebhookToggle, boolean>>;
  }): CrmWebhookSubscription {
    const toggles = Object.fromEntries(
      CRM_WEBHOOK_TOGGLES.map((t) => [t, input.toggles[t] === true]),
    ) as Record<CrmWebhookToggle, boolean>;
    const stored: StoredSubscription = {
      id: this.nextId++,
      payloadUrl: input.payloadUrl,
      secret: input.secret,
      toggles,
      createdDateTimeUtc: new Date().toISOString(),
    };
    this.subscriptions.set(stored.id, stored);
    return view(stored);
  }

  unsubscribe(id: number): boolean {
    return this.subscriptions.delete(id);
  }

  list(): CrmWebhookSubscription[] {
    return [...this.subscriptions.values()].map(view);
  }

  setDrops(drops: CrmWebhookDrops): void {
    this.drops = { rate: drops.rate, keys: drops.keys?.map((k) => k.toLowerCase()) };
  }

  droppedList(): CrmWebhookDropped[] {
    return structuredClone(this.dropped);
  }

  attempts(): CrmWebhookAttempt[] {
    return structuredClone(this.log);
  }

  /** Forgets the logs and the drop switch (subscriptions stay, like credentials). */
  reset(): void {
    this.dropped.length = 0;
    this.log.length = 0;
    this.drops = {};
    this.rng = new Prng(hash32(hashString(this.accountId), 0xc4a));
  }

  /**
   * Queues `event` about `record` for every subscription that turned its toggle on. `keys` are
   * the record's identifiers the drop switch matches against.
   */
  emit(
    event: CrmWebhookEvent,
    record: { id: number } & Record<string, unknown>,
    keys: Array<string | null>,
  ): void {
    if (this.stopped) {
      return;
    }
    const toggle = TOGGLE_OF[event];
    const lowered = keys.filter((k): k is string => k !== null).map((k) => k.toLowerCase());
    const reference = keys[0] ?? null;
    for (const subscription of this.subscriptions.values()) {
      if (!subscription.toggles[toggle]) {
        continue;
      }
      // One draw per delivery, whether or not a rate is set, so a seed replays the same drops.
      const roll = this.rng.next();
      const keyed = lowered.some((k) => this.drops.keys?.includes(k));
      if (keyed || roll < (this.drops.rate ?? 0)) {
        this.dropped.push({
          event,
          recordId: record.id,
          reference,
          subscriptionId: subscription.id,
          reason: keyed ? 'key' : 'rate',
        });
        continue;
      }
      const key = event.startsWith('Gift') ? 'gift' : 'contact';
      const body = Buffer.from(JSON.stringify({ event, [key]: structuredClone(record) }));
      this.pending++;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.deliver(subscription, event, record.id, body, 1);
      }, 0);
      this.timers.add(timer);
    }
  }

  flush(): Promise<void> {
    if (this.pending === 0 || this.stopped) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) {
      clearTimeout(timer);
    }
    this.timers.clear();
    this.pending = 0;
    this.settle();
  }

  private async deliver(
    subscription: StoredSubscription,
    event: CrmWebhookEvent,
    recordId: number,
    body: Buffer,
    attempt: number,
  ): Promise<void> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'raise-sync-simulator (crm-plus)',
    };
    if (subscription.secret !== null) {
      headers[CRM_WEBHOOK_SIGNATURE_HEADER] = signCrmWebhook(subscription.secret, body);
    }
    const at = new Date().toISOString();
    const result = await post(subscription.payloadUrl, body, headers);
    if (this.stopped) {
      return;
    }
    if (this.log.length >= MAX_LOG) {
      this.log.splice(0, MAX_LOG / 10);
    }
    this.log.push({
      seq: ++this.seq,
      event,
      recordId,
      subscriptionId: subscription.id,
      url: subscription.payloadUrl,
      attempt,
      status: result.status,
      error: result.error,
      at,
    });
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    if (ok || attempt >= ATTEMPTS) {
      this.pending--;
      this.settle();
      return;
    }
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        void this.deliver(subscription, event, recordId, body, attempt + 1);
      },
      RETRY_BASE_MS * 2 ** (attempt - 1),
    );
    this.timers.add(timer);
  }

  private settle(): void {
    if (this.pending === 0 && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      waiters.forEach((resolve) => resolve());
    }
  }
}

function view(stored: StoredSubscription): CrmWebhookSubscription {
  return {
    id: stored.id,
    payloadUrl: stored.payloadUrl,
    hasSecret: stored.secret !== null,
    toggles: { ...stored.toggles },
    createdDateTimeUtc: stored.createdDateTimeUtc,
  };
}

function post(
  url: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number | null; error: string | null }> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve({ status: null, error: 'invalid URL' });
      return;
    }
    const request = (target.protocol === 'https:' ? https : http).request(
      target,
      { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? null, error: null }));
        response.on('error', (error) => resolve({ status: null, error: error.message }));
      },
    );
    request.setTimeout(TIMEOUT_MS, () => request.destroy(new Error('timed out')));
    request.on('error', (error) => resolve({ status: null, error: error.message }));
    request.end(body);
  });
}

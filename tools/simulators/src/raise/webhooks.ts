import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import {
  RAISE_WEBHOOK_HEADERS,
  signRaiseWebhook,
  type RaiseWebhookModel,
  type RaiseWebhookPayload,
} from '@raise-sync/sources';
import type { FaultConfig } from '../faults';
import { hash32, Prng } from '../prng';
import type { StatsRecorder } from '../stats';

/** A webhook subscription as stored (the secret is never returned by the API). */
export interface WebhookSubscription extends RaiseWebhookModel {
  securityToken: string;
  createdDate: string;
  modifiedDate: string;
}

/** Something that happened to a record, to be delivered to matching subscriptions. */
export interface WebhookEvent {
  eventType: number;
  contextId: number;
  /** The record's modified time for upserts, the deletion time for deletes (ms). */
  modifiedMs: number;
  /** Builds the payload; called once per delivery, at its first attempt. */
  render: () => RaiseWebhookPayload;
}

export interface DroppedWebhook {
  eventType: number;
  contextId: number;
  modifiedDate: string;
  webhookId: number;
  url: string;
  reason: 'dropRate' | 'disabled';
}

export interface WebhookDeliveryAttempt {
  /** Sequence number of this log entry within the org (1, 2, ...). */
  logId: number;
  deliveryId: string;
  webhookId: number;
  url: string;
  eventType: number;
  contextId: number;
  modifiedDate: string;
  attempt: number;
  /** HTTP status of the receiver's answer, null when the connection failed. */
  status: number | null;
  error: string | null;
  success: boolean;
  /** Start of the attempt. */
  at: string;
  durationMs: number;
  duplicate: boolean;
  /** First 512 characters of the receiver's answer. */
  response: string;
}

export interface WebhookRetryOptions {
  /** Attempts per delivery, the first included. Default 5. */
  attempts?: number;
  /** Delay before the first retry; doubles each time. Default 200 ms. */
  baseDelayMs?: number;
  /** Ceiling of the doubling delay. Default 5000 ms. */
  maxDelayMs?: number;
  /** A receiver's Retry-After (on 503/429) is honoured up to this. Default 5000 ms. */
  maxRetryAfterMs?: number;
  /** Per-attempt timeout. Default 10000 ms. */
  timeoutMs?: number;
  /** Deliveries in flight per org. Default 8. */
  concurrency?: number;
}

const DEFAULT_OPTIONS: Required<WebhookRetryOptions> = {
  attempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 5000,
  maxRetryAfterMs: 5000,
  timeoutMs: 10_000,
  concurrency: 8,
};

/** Attempts kept in the log per org; the oldest are discarded past this. */
const MAX_LOG = 200_000;

interface Delivery {
  deliveryId: string;
  webhookId: number;
  url: string;
  secret: string;
  event: WebhookEvent;
  modifiedDate: string;
  /** Per-record ordering key: events of one record leave one at a time, in order. */
  key: string;
  attempt: number;
  duplicate: boolean;
  body?: Buffer;
}

class OrgQueue {
  queue: Array<Delivery | undefined> = [];
  head = 0;
  retryReady: Delivery[] = [];
  inFlight = 0;
  pending = 0;
  readonly busy = new Map<string, string>();
  readonly log: WebhookDeliveryAttempt[] = [];
  nextLogId = 1;
  readonly dropped: DroppedWebhook[] = [];
  /** Drop/duplicate decisions, one pair of draws per delivery in event order. */
  readonly decisions: Prng;
  /** Shuffling under the out-of-order fault. */
  readonly shuffle: Prng;

  constructor(seed: number) {
    this.decisions = new Prng(hash32(seed, 0xd1));
    this.shuffle = new Prng(hash32(seed, 0x5f));
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  push(delivery: Delivery): void {
    this.queue.push(delivery);
  }

  /** Removes and returns the entry `offset` places after the head. */
  takeAt(offset: number): Delivery {
    const index = this.head + offset;
    const taken = this.queue[index]!;
    for (let i = index; i > this.head; i--) {
      this.queue[i] = this.queue[i - 1];
    }
    this.queue[this.head] = undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return taken;
  }
}

interface PostResult {
  status: number | null;
  error: string | null;
  retryAfterMs: number | null;
  response: string;
}

/**
 * Delivers webhook events the way a SaaS platform does: asynchronously, signed, with retries and
 * exponential backoff, bounded concurrency per org, and the fault knobs (drop, duplicate, shuffle,
 * disable) decided deterministically from the org's seed.
 */
export class WebhookDispatcher {
  private options = { ...DEFAULT_OPTIONS };
  private readonly orgs = new Map<string, OrgQueue>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private waiters: Array<() => void> = [];
  private stopped = false;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    private readonly stats: StatsRecorder,
    private readonly faultsFor: (org: string) => FaultConfig,
  ) {}

  configure(options: WebhookRetryOptions): void {
    const next = { ...this.options };
    for (const [name, value] of Object.entries(options) as Array<
      [keyof WebhookRetryOptions, unknown]
    >) {
      if (!(name in DEFAULT_OPTIONS)) {
        throw new Error(`unknown webhook option '${name}'`);
      }
      if (value === undefined) {
        continue;
      }
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new Error(`${name} must be a non-negative number`);
      }
      next[name] = value;
    }
    if (next.attempts < 1 || next.concurrency < 1) {
      throw new Error('attempts and concurrency must be at least 1');
    }
    this.options = next;
    for (const org of this.orgs.keys()) {
      this.pump(org);
    }
  }

  currentOptions(): Required<WebhookRetryOptions> {
    return { ...this.options };
  }

  addOrg(org: string, seed: number): void {
    this.orgs.set(org, new OrgQueue(seed));
  }

  removeOrg(org: string): void {
    const queue = this.orgs.get(org);
    if (queue) {
      this.orgs.delete(org);
      this.settle();
    }
  }

  /** Queues `event` for every active subscription listening to its type. */
  publish(org: string, event: WebhookEvent, subscriptions: Iterable<WebhookSubscription>): void {
    const queue = this.orgs.get(org);
    if (!queue || this.stopped) {
      return;
    }
    const faults = this.faultsFor(org);
    const modifiedDate = new Date(event.modifiedMs).toISOString();
    for (const subscription of subscriptions) {
      if (subscription.status !== 1 || !subscription.eventTypesList.includes(event.eventType)) {
        continue;
      }
      const dropRoll = queue.decisions.next();
      const duplicateRoll = queue.decisions.next();
      const base = {
        eventType: event.eventType,
        contextId: event.contextId,
        modifiedDate,
        webhookId: subscription.id,
        url: subscription.notificationUrl,
      };
      if (faults.webhooksEnabled === false) {
        queue.dropped.push({ ...base, reason: 'disabled' });
        this.stats.webhook(org, 'dropped');
        continue;
      }
      if (dropRoll < (faults.dropWebhookRate ?? 0)) {
        queue.dropped.push({ ...base, reason: 'dropRate' });
        this.stats.webhook(org, 'dropped');
        continue;
      }
      const copies = duplicateRoll < (faults.duplicateWebhookRate ?? 0) ? 2 : 1;
      for (let copy = 0; copy < copies; copy++) {
        queue.push({
          deliveryId: randomUUID(),
          webhookId: subscription.id,
          url: subscription.notificationUrl,
          secret: subscription.securityToken,
          event,
          modifiedDate,
          key: `${event.eventType - (event.eventType % 10)}:${event.contextId}`,
          attempt: 0,
          duplicate: copy > 0,
        });
        queue.pending++;
      }
      if (copies > 1) {
        this.stats.webhook(org, 'duplicated');
      }
    }
    this.pump(org);
  }

  dropped(org: string): DroppedWebhook[] {
    return [...(this.orgs.get(org)?.dropped ?? [])];
  }

  deliveries(org: string): WebhookDeliveryAttempt[] {
    return [...(this.orgs.get(org)?.log ?? [])];
  }

  pending(org: string): number {
    return this.orgs.get(org)?.pending ?? 0;
  }

  /** Resolves when nothing is queued, in flight or waiting for a retry, in any org. */
  flush(): Promise<void> {
    if (this.totalPending() === 0 || this.stopped) {
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
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((resolve) => resolve());
  }

  private totalPending(): number {
    let total = 0;
    for (const queue of this.orgs.values()) {
      total += queue.pending;
    }
    return total;
  }

  private settle(): void {
    if (this.waiters.length > 0 && this.totalPending() === 0) {
      const waiters = this.waiters;
      this.waiters = [];
      waiters.forEach((resolve) => resolve());
    }
  }

  private pump(org: string): void {
    const queue = this.orgs.get(org);
    if (!queue || this.stopped) {
      return;
    }
    while (queue.inFlight < this.options.concurrency) {
      const delivery = this.next(org, queue);
      if (!delivery) {
        return;
      }
      this.attempt(org, queue, delivery);
    }
  }

  private next(org: string, queue: OrgQueue): Delivery | undefined {
    const retry = queue.retryReady.shift();
    if (retry) {
      return retry;
    }
    const queued = queue.queued;
    if (queued === 0) {
      return undefined;
    }
    let picked: Delivery | undefined;
    if (this.faultsFor(org).outOfOrderWebhooks) {
      picked = queue.takeAt(queue.shuffle.int(Math.min(16, queued)));
    } else {
      // Strict event order: the head goes next, and waits while an earlier event of the same
      // record is still in flight or waiting for a retry.
      const head = queue.queue[queue.head]!;
      const holder = queue.busy.get(head.key);
      if (holder === undefined || holder === head.deliveryId) {
        picked = queue.takeAt(0);
      }
    }
    if (picked && !queue.busy.has(picked.key)) {
      queue.busy.set(picked.key, picked.deliveryId);
    }
    return picked;
  }

  private attempt(org: string, queue: OrgQueue, delivery: Delivery): void {
    queue.inFlight++;
    delivery.attempt++;
    let body: Buffer;
    try {
      body = delivery.body ??= Buffer.from(JSON.stringify(delivery.event.render()));
    } catch (error) {
      queue.inFlight--;
      this.finish(queue, delivery);
      this.stats.webhook(org, 'failed');
      this.record(queue, delivery, Date.now(), 0, {
        status: null,
        error: `render failed: ${(error as Error).message}`,
        retryAfterMs: null,
        response: '',
      });
      return;
    }
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'raise-sync-simulator',
      [RAISE_WEBHOOK_HEADERS.timestamp]: String(timestamp),
      [RAISE_WEBHOOK_HEADERS.signature]: signRaiseWebhook(delivery.secret, timestamp, body),
      [RAISE_WEBHOOK_HEADERS.deliveryId]: delivery.deliveryId,
    };
    const started = Date.now();
    void this.post(delivery.url, body, headers).then((result) => {
      queue.inFlight--;
      if (this.stopped || this.orgs.get(org) !== queue) {
        return;
      }
      this.stats.webhook(org, 'attempts');
      this.record(queue, delivery, started, Date.now() - started, result);
      const ok = result.status !== null && result.status >= 200 && result.status < 300;
      if (ok) {
        this.stats.webhook(org, 'delivered');
        this.finish(queue, delivery);
      } else if (delivery.attempt >= this.options.attempts) {
        this.stats.webhook(org, 'failed');
        this.finish(queue, delivery);
      } else {
        const backoff = Math.min(
          this.options.maxDelayMs,
          this.options.baseDelayMs * 2 ** (delivery.attempt - 1),
        );
        const delay =
          result.retryAfterMs !== null
            ? Math.min(this.options.maxRetryAfterMs, result.retryAfterMs)
            : backoff;
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          queue.retryReady.push(delivery);
          this.pump(org);
        }, delay);
        this.timers.add(timer);
      }
      this.pump(org);
    });
  }

  private finish(queue: OrgQueue, delivery: Delivery): void {
    if (queue.busy.get(delivery.key) === delivery.deliveryId) {
      queue.busy.delete(delivery.key);
    }
    queue.pending--;
    delivery.body = undefined;
    this.settle();
  }

  private record(
    queue: OrgQueue,
    delivery: Delivery,
    started: number,
    durationMs: number,
    result: PostResult,
  ): void {
    if (queue.log.length >= MAX_LOG) {
      queue.log.splice(0, Math.ceil(MAX_LOG / 10));
    }
    queue.log.push({
      logId: queue.nextLogId++,
      deliveryId: delivery.deliveryId,
      webhookId: delivery.webhookId,
      url: delivery.url,
      eventType: delivery.event.eventType,
      contextId: delivery.event.contextId,
      modifiedDate: delivery.modifiedDate,
      attempt: delivery.attempt,
      status: result.status,
      error: result.error,
      success: result.status !== null && result.status >= 200 && result.status < 300,
      at: new Date(started).toISOString(),
      durationMs,
      duplicate: delivery.duplicate,
      response: result.response,
    });
  }

  private post(url: string, body: Buffer, headers: Record<string, string>): Promise<PostResult> {
    return new Promise((resolve) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        resolve({ status: null, error: 'invalid URL', retryAfterMs: null, response: '' });
        return;
      }
      const secure = target.protocol === 'https:';
      const request = (secure ? https : http).request(
        target,
        {
          method: 'POST',
          agent: secure ? this.httpsAgent : this.httpAgent,
          headers: { ...headers, 'content-length': String(body.length) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            if (size < 512) {
              chunks.push(chunk);
              size += chunk.length;
            }
          });
          response.on('end', () => {
            const status = response.statusCode ?? null;
            resolve({
              status,
              error: null,
              retryAfterMs:
                status === 503 || status === 429
                  ? parseRetryAfter(response.headers['retry-after'])
                  : null,
              response: Buffer.concat(chunks).toString('utf8').slice(0, 512),
            });
          });
          response.on('error', (error) =>
            resolve({ status: null, error: error.message, retryAfterMs: null, response: '' }),
          );
        },
      );
      request.setTimeout(this.options.timeoutMs, () => {
        request.destroy(new Error(`timed out after ${this.options.timeoutMs} ms`));
      });
      request.on('error', (error) =>
        resolve({ status: null, error: error.message, retryAfterMs: null, response: '' }),
      );
      request.end(body);
    });
  }
}

/** Retry-After as seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') {
    return null;
  }
  const seconds = Number(value);
  if (Number.isFinite(seconds)) {
    return Math.max(0, seconds * 1000);
  }
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

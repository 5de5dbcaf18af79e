import { DestinationHttp, type DestinationHttpOptions } from '@raise-sync/destinations';
import { parseRetryAfterMs } from '@raise-sync/shared';
import type { CrmLookup } from './crm-classify';

/** Where and how to ask one customer's CRM+. The token never leaves this object. */
export interface CrmPlusTarget {
  baseUrl: string;
  token: string;
  /** transactionSource the gifts were written under (the crm-plus adapter's, default 'raise'). */
  transactionSource: string;
  /** Requests of the hourly budget left for others: lookups stop below this. */
  reserve: number;
}

export interface CrmPlusLookupOptions extends DestinationHttpOptions {
  /** Attempts per lookup when CRM+ answers 429 with a short Retry-After. Default 3. */
  attempts?: number;
  /** Longest Retry-After we wait for inside a run; a longer one stops the lookups. Default 30 s. */
  maxRetryWaitMs?: number;
  /** Consecutive unreachable answers (5xx, timeouts) after which the lookups stop. Default 10. */
  stopAfterFailures?: number;
  sleep?: (ms: number) => Promise<void>;
}

const ROUTES = {
  contact: 'GET /api/Contact/{id}',
  gift: 'GET /api/v2/Gift/Transaction',
} as const;

const idOf = (value: unknown): string | null =>
  typeof value === 'number' || (typeof value === 'string' && value !== '') ? String(value) : null;

const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Read-only CRM+ lookups for one run: a contact by its ID (a donor's crmKey) and a gift by its
 * transaction pair (the Raise gift ID). Every answer is one of found / not_found / unreachable;
 * nothing throws. It honours the CRM+ hourly budget (`X-RateLimit-Remaining`, keeping `reserve`
 * requests for others), waits out short 429s, and stops asking for the rest of the run after
 * 401/403, a long Retry-After or a run of consecutive failures: the remaining lookups come back
 * unreachable at once, so a dead CRM+ costs neither time nor budget.
 */
export class CrmPlusLookups {
  private readonly http: DestinationHttp;
  private readonly attempts: number;
  private readonly maxRetryWaitMs: number;
  private readonly stopAfterFailures: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private consecutiveFailures = 0;
  private stopped: string | null = null;
  private remaining: number | null = null;
  /** Requests actually sent (for logs and tests). */
  requests = 0;
  rateLimited = 0;

  constructor(
    private readonly target: CrmPlusTarget,
    options: CrmPlusLookupOptions = {},
  ) {
    this.http = new DestinationHttp({ timeoutMs: 10_000, ...options });
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? 30_000;
    this.stopAfterFailures = options.stopAfterFailures ?? 10;
    this.sleep = options.sleep ?? defaultSleep;
    this.now = options.now ?? Date.now;
  }

  /** Why lookups stopped for this run, or null while CRM+ is still asked. */
  get stopReason(): string | null {
    return this.stopped;
  }

  contact(crmKey: string): Promise<CrmLookup> {
    return this.lookup(`/api/Contact/${encodeURIComponent(crmKey.trim())}`, ROUTES.contact);
  }

  gift(raiseGiftId: string): Promise<CrmLookup> {
    const query = new URLSearchParams({
      transactionSource: this.target.transactionSource,
      transactionId: raiseGiftId,
    });
    return this.lookup(`/api/v2/Gift/Transaction?${query.toString()}`, ROUTES.gift);
  }

  private async lookup(path: string, route: string): Promise<CrmLookup> {
    for (let attempt = 1; ; attempt += 1) {
      if (this.stopped !== null) {
        return { outcome: 'unreachable', reason: `not asked: ${this.stopped}` };
      }
      if (this.remaining !== null && this.remaining < this.target.reserve) {
        this.stop(
          `CRM+ hourly request budget down to ${this.remaining} (reserve ${this.target.reserve})`,
        );
        continue;
      }
      let status: number;
      let headers: Headers;
      let body: unknown;
      try {
        this.requests += 1;
        ({ status, headers, body } = await this.http.request({
          destination: 'CRM+',
          method: 'GET',
          url: `${this.target.baseUrl}${path}`,
          route,
          token: this.target.token,
          acceptStatuses: [401, 403, 404, 429],
          observe: (_status, responseHeaders) => this.observeBudget(responseHeaders),
        }));
      } catch (error) {
        // 5xx, timeouts, network errors, redirects, odd 4xx: the message is already scrubbed.
        const reason = error instanceof Error ? error.message : String(error);
        this.consecutiveFailures += 1;
        if (this.consecutiveFailures >= this.stopAfterFailures) {
          this.stop(`${this.consecutiveFailures} consecutive failures, last: ${reason}`);
        }
        return { outcome: 'unreachable', reason };
      }
      if (status === 401 || status === 403) {
        const reason = `CRM+ ${route} credentials rejected (HTTP ${status})`;
        this.stop(reason);
        return { outcome: 'unreachable', reason };
      }
      if (status === 429) {
        this.rateLimited += 1;
        const waitMs = parseRetryAfterMs(headers.get('retry-after'), this.now()) ?? 1000;
        if (waitMs > this.maxRetryWaitMs) {
          this.stop(`CRM+ rate limited (HTTP 429) for ${Math.ceil(waitMs / 1000)} s`);
          continue;
        }
        if (attempt >= this.attempts) {
          return {
            outcome: 'unreachable',
            reason: `CRM+ ${route} still rate limited (HTTP 429) after ${attempt} attempts`,
          };
        }
        await this.sleep(waitMs);
        continue;
      }
      this.consecutiveFailures = 0;
      if (status === 404) {
        return { outcome: 'not_found' };
      }
      const record = typeof body === 'object' && body !== null ? (body as { id?: unknown }) : {};
      return { outcome: 'found', crmId: idOf(record.id) };
    }
  }

  private stop(reason: string): void {
    this.stopped ??= reason;
  }

  private observeBudget(headers: Headers): void {
    const remaining = Number(headers.get('x-ratelimit-remaining') ?? Number.NaN);
    if (Number.isFinite(remaining)) {
      this.remaining = remaining;
    }
  }
}

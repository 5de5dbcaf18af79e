/** Fault injection: what can go wrong between a client and the simulated APIs. */

export interface RateLimitConfig {
  /** Sustained rate (tokens added per second). */
  requestsPerSecond: number;
  /** Bucket size: requests allowed back to back after a quiet period. */
  burst: number;
}

export interface FaultConfig {
  /** Added to every API response. */
  latencyMs?: number;
  /** Extra random latency in [0, latencyJitterMs). */
  latencyJitterMs?: number;
  /** Share of API requests (0..1) answered 500 or 503 instead. */
  errorRate?: number;
  /** Token bucket per org per API; a request without a token gets 429 + Retry-After. */
  rateLimit?: RateLimitConfig;
  /** Share of webhook deliveries (0..1) never sent; recorded in droppedWebhooks(). */
  dropWebhookRate?: number;
  /** Share of webhook deliveries (0..1) sent twice, with two delivery ids. */
  duplicateWebhookRate?: number;
  /** Deliveries leave in a shuffled order instead of event order. */
  outOfOrderWebhooks?: boolean;
  /** false: no deliveries at all (every one is recorded as dropped). Default true. */
  webhooksEnabled?: boolean;
  /** Every API call answers 401, as after a revoked token. */
  unauthorized?: boolean;
}

export type ApiName = 'raise' | 'vomo';

/**
 * Classic token bucket. `now` is injectable so tests can drive time.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly config: RateLimitConfig,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.tokens = Math.max(1, config.burst);
    this.updatedAt = this.now();
  }

  private refill(): void {
    const now = this.now();
    const elapsed = Math.max(0, now - this.updatedAt) / 1000;
    this.tokens = Math.min(Math.max(1, this.config.burst), this.tokens + elapsed * this.rate());
    this.updatedAt = now;
  }

  private rate(): number {
    return Math.max(1e-9, this.config.requestsPerSecond);
  }

  /** Takes one token if there is one. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Whole seconds until a token will be available (at least 1), for Retry-After. */
  retryAfterSeconds(): number {
    this.refill();
    const missing = Math.max(0, 1 - this.tokens);
    return Math.max(1, Math.ceil(missing / this.rate()));
  }

  /** Tokens left right now (rounded down), for X-RateLimit-Remaining. */
  remaining(): number {
    this.refill();
    return Math.floor(this.tokens);
  }
}

/**
 * Fault configs for '*' and per org (or destination account); a scope's own config overrides '*'
 * field by field. `C` is the config shape, `A` names the APIs that get a token bucket each.
 */
export class FaultRegistry<
  C extends { rateLimit?: RateLimitConfig } = FaultConfig,
  A extends string = ApiName,
> {
  private readonly configs = new Map<string, C>();
  private readonly buckets = new Map<string, TokenBucket>();

  set(scope: string, config: C): void {
    this.configs.set(scope, { ...config });
    // New limits start with full buckets.
    for (const key of [...this.buckets.keys()]) {
      if (scope === '*' || key.startsWith(`${scope}\u0000`)) {
        this.buckets.delete(key);
      }
    }
  }

  reset(): void {
    this.configs.clear();
    this.buckets.clear();
  }

  all(): Record<string, C> {
    return Object.fromEntries(this.configs);
  }

  forOrg(org: string): C {
    return { ...this.configs.get('*'), ...this.configs.get(org) } as C;
  }

  /** The org's bucket for one API, or undefined without a rate limit. */
  bucket(org: string, api: A): TokenBucket | undefined {
    const limit = this.forOrg(org).rateLimit;
    if (!limit) {
      return undefined;
    }
    const key = `${org}\u0000${api}`;
    let bucket = this.buckets.get(key);
    if (
      !bucket ||
      bucket.config.burst !== limit.burst ||
      bucket.config.requestsPerSecond !== limit.requestsPerSecond
    ) {
      bucket = new TokenBucket({ ...limit });
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  forgetOrg(org: string): void {
    this.configs.delete(org);
    for (const key of [...this.buckets.keys()]) {
      if (key.startsWith(`${org}\u0000`)) {
        this.buckets.delete(key);
      }
    }
  }
}

/** Validates a fault config from JSON; throws with the offending field. */
export function validateFaults(input: unknown): FaultConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new Error('faults must be an object');
  }
  const raw = input as Record<string, unknown>;
  const out: FaultConfig = {};
  const num = (name: string, min: number, max: number): number | undefined => {
    const value = raw[name];
    if (value === undefined || value === null) {
      return undefined;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      throw new Error(`${name} must be a number in [${min}, ${max}]`);
    }
    return value;
  };
  const bool = (name: string): boolean | undefined => {
    const value = raw[name];
    if (value === undefined || value === null) {
      return undefined;
    }
    if (typeof value !== 'boolean') {
      throw new Error(`${name} must be a boolean`);
    }
    return value;
  };
  const known = new Set([
    'latencyMs',
    'latencyJitterMs',
    'errorRate',
    'rateLimit',
    'dropWebhookRate',
    'duplicateWebhookRate',
    'outOfOrderWebhooks',
    'webhooksEnabled',
    'unauthorized',
  ]);
  for (const name of Object.keys(raw)) {
    if (!known.has(name)) {
      throw new Error(`unknown fault '${name}'`);
    }
  }
  const assign = <K extends keyof FaultConfig>(name: K, value: FaultConfig[K] | undefined) => {
    if (value !== undefined) {
      out[name] = value;
    }
  };
  assign('latencyMs', num('latencyMs', 0, 120_000));
  assign('latencyJitterMs', num('latencyJitterMs', 0, 120_000));
  assign('errorRate', num('errorRate', 0, 1));
  assign('dropWebhookRate', num('dropWebhookRate', 0, 1));
  assign('duplicateWebhookRate', num('duplicateWebhookRate', 0, 1));
  assign('outOfOrderWebhooks', bool('outOfOrderWebhooks'));
  assign('webhooksEnabled', bool('webhooksEnabled'));
  assign('unauthorized', bool('unauthorized'));
  if (raw.rateLimit !== undefined && raw.rateLimit !== null) {
    const limit = raw.rateLimit as Record<string, unknown>;
    const rps = limit.requestsPerSecond;
    const burst = limit.burst;
    if (typeof rps !== 'number' || !(rps > 0) || typeof burst !== 'number' || !(burst >= 1)) {
      throw new Error('rateLimit needs requestsPerSecond > 0 and burst >= 1');
    }
    out.rateLimit = { requestsPerSecond: rps, burst };
  }
  return out;
}

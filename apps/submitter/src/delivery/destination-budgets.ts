/**
 * Optional per-customer, per-destination request budgets (`destinations.config.rateLimit =
 * { requestsPerSecond, burst }`): a destination over its budget is not waited for, its events go
 * to the retry topics like any other temporary refusal, so one customer's busy destination never
 * holds back other customers or that customer's other destinations.
 */
export class DestinationBudgets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes one token; returns 0 when granted, else the milliseconds until one is free. */
  take(destinationId: string, config: Record<string, unknown>): number {
    const limit = config['rateLimit'] as
      { requestsPerSecond?: unknown; burst?: unknown } | undefined;
    const rate = Number(limit?.requestsPerSecond);
    if (!limit || !Number.isFinite(rate) || rate <= 0) {
      return 0;
    }
    const burst = Math.max(1, Number(limit.burst) || 1);
    const now = this.now();
    const bucket = this.buckets.get(destinationId) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.buckets.set(destinationId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / rate) * 1000);
  }
}

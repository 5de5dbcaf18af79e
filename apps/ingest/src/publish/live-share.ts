/**
 * Each customer's fair share of the live topics, as a token bucket per customer (perSecond,
 * burst) in this process: a bulk import in Raise or a first poll of a whole history goes on
 * within the share, and the rest to the bulk lane, which the submitter works after everyone's
 * live events. Idle customers' buckets are dropped once full again, so memory follows the
 * customers that are sending.
 */
export class LiveShare {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  take(customerId: string, now = Date.now()): boolean {
    const bucket = this.buckets.get(customerId) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(
      this.burst,
      bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond,
    );
    bucket.at = now;
    const ok = bucket.tokens >= 1;
    if (ok) {
      bucket.tokens -= 1;
    }
    this.buckets.set(customerId, bucket);
    if (this.buckets.size > 10_000) {
      for (const [id, b] of this.buckets) {
        if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.burst) {
          this.buckets.delete(id);
        }
      }
    }
    return ok;
  }
}

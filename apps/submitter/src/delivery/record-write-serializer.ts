import type { DeliveryResult } from '@raise-sync/destinations';
import type { SourceEvent } from '@raise-sync/shared/events';

const MAX_REMEMBERED = 100_000;

/**
 * One write per record and destination at a time in this process, and never an older version
 * after a newer one: the source consumer and the retry consumers may hold events of the same
 * record at once, and HTTP destinations (unlike the warehouse's guarded upsert) keep the last
 * write. A version older than the newest written here is skipped as stale.
 */
export class RecordWriteSerializer {
  private readonly locks = new Map<string, Promise<void>>();
  /** Newest version written per destination and record (bounded; the most recent are kept). */
  private readonly newest = new Map<string, number>();

  async run(
    destinationId: string,
    event: SourceEvent,
    write: () => Promise<DeliveryResult | Error>,
  ): Promise<DeliveryResult | Error> {
    const key = `${destinationId}\u0000${event.resource}\u0000${event.recordId}`;
    const previous = this.locks.get(key) ?? Promise.resolve();
    let release = (): void => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const chain = previous.then(() => mine);
    this.locks.set(key, chain);
    await previous;
    try {
      const version = event.sourceModifiedAt.getTime();
      const newest = this.newest.get(key);
      if (newest !== undefined && newest > version) {
        return { outcome: 'skipped', reason: 'stale' };
      }
      const result = await write();
      if (!(result instanceof Error) && result.outcome === 'delivered') {
        this.newest.delete(key);
        this.newest.set(key, version);
        if (this.newest.size > MAX_REMEMBERED) {
          const oldest = this.newest.keys().next().value;
          if (oldest !== undefined) {
            this.newest.delete(oldest);
          }
        }
      }
      return result;
    } finally {
      release();
      if (this.locks.get(key) === chain) {
        this.locks.delete(key);
      }
    }
  }
}

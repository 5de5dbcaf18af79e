import { AsyncLocalStorage } from 'node:async_hooks';
import type { SlotLender } from '@raise-sync/shared/service';

/** Runs one replica works on at once. */
export const RUN_CONCURRENCY = 2;

/**
 * One run's claim on a working slot. The run takes a slot before its check starts and gives it
 * back when it ends; while it waits for its customer's destination lanes (push-back), it lends
 * the slot out, so another customer's run works meanwhile, and takes one back before going on.
 */
export class RunSlot implements SlotLender {
  holding = false;

  constructor(private readonly pool: RunSlots) {}

  /** Resolves once this run holds a slot, or when `signal` aborts (then without one). */
  async take(signal?: AbortSignal): Promise<void> {
    if (!this.holding) {
      this.holding = await this.pool.acquire(signal);
    }
  }

  lend(): void {
    if (this.holding) {
      this.holding = false;
      this.pool.release();
    }
  }

  reclaim(signal?: AbortSignal): Promise<void> {
    return this.take(signal);
  }

  /** The run ended: its slot (if it holds one) goes to the next run. */
  end(): void {
    this.lend();
  }
}

/**
 * The working slots of this replica (RUN_CONCURRENCY) and which run the current async context
 * belongs to, so the republisher deep inside a check can lend the run's slot while its customer
 * is held, without every check passing it along. Provided by a factory (`RUN_SLOTS_PROVIDER`).
 */
export class RunSlots {
  private free: number;
  private readonly waiting: Array<(taken: boolean) => void> = [];
  private readonly context = new AsyncLocalStorage<RunSlot>();

  constructor(readonly capacity: number = RUN_CONCURRENCY) {
    this.free = capacity;
  }

  /** Slots free now (runs to claim). */
  available(): number {
    return Math.max(0, this.free - this.waiting.length);
  }

  /** A run's slot handle; the slot is taken at once when one is free (see `RunSlot.take`). */
  open(): RunSlot {
    const slot = new RunSlot(this);
    if (this.free > 0 && this.waiting.length === 0) {
      this.free -= 1;
      slot.holding = true;
    }
    return slot;
  }

  /** Runs `work` as `slot`'s run: `current()` inside it answers that slot. */
  run<T>(slot: RunSlot, work: () => Promise<T>): Promise<T> {
    return this.context.run(slot, work);
  }

  /** The slot of the run the caller is part of; undefined outside a run. */
  current(): RunSlot | undefined {
    return this.context.getStore();
  }

  /** @internal First come, first served; false when `signal` aborted first. */
  acquire(signal?: AbortSignal): Promise<boolean> {
    if (this.free > 0 && this.waiting.length === 0) {
      this.free -= 1;
      return Promise.resolve(true);
    }
    if (signal?.aborted) {
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      const onAbort = (): void => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) {
          this.waiting.splice(index, 1);
        }
        resolve(false);
      };
      const grant = (taken: boolean): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(taken);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  /** @internal A slot comes free: to the longest waiter, else back to the pool. */
  release(): void {
    const next = this.waiting.shift();
    if (next) {
      next(true);
    } else {
      this.free = Math.min(this.capacity, this.free + 1);
    }
  }
}

/** One pool per process, shared by the runner (claims) and the republisher (push-back). */
export const RUN_SLOTS_PROVIDER = {
  provide: RunSlots,
  useFactory: (): RunSlots => new RunSlots(RUN_CONCURRENCY),
};

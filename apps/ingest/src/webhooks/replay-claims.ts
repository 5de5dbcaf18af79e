import type { Provider } from '@nestjs/common';
import type { CustomerScope } from '@raise-sync/shared/state';
import { WebhookDeliveryRepository } from './webhook-delivery.repository';

/** Claim statements one process keeps in flight at once (of the pool's connections). */
export const CLAIMS_IN_FLIGHT = 2;
/** Largest number of claims one statement carries. */
export const CLAIMS_PER_STATEMENT = 500;

interface Waiting {
  scope: CustomerScope;
  signatureHash: string;
  deliveryId: string | null;
  settle: (claimed: boolean) => void;
  fail: (error: unknown) => void;
}

/** The repository's two claim paths, all this class needs of it. */
export type ClaimStore = Pick<WebhookDeliveryRepository, 'claim' | 'claimAcrossCustomers'>;

const keyOf = (customerId: string, signatureHash: string): string =>
  `${customerId} ${signatureHash}`;

/**
 * The webhook replay check as a group commit. A claim is one row in `webhook_deliveries`, keyed
 * on the customer and the signed digest, and the primary key decides which of two identical
 * deliveries wins, in this process or any other replica. Claims that arrive while a statement is
 * in flight wait for the next one, which carries all of them: at a trickle each claim is its own
 * statement, as before; at thousands per second a statement and its commit (synchronous, so a
 * 2xx still means the claim is durable) serve hundreds of webhooks. No timer waits for a batch
 * to fill.
 *
 * One customer's claim cannot fail another's: when a shared statement fails (a customer purged
 * between its lookup and its claim breaks the foreign key), every claim in it is tried again on
 * its own, so the error reaches only the webhook it belongs to.
 */
export class ReplayClaims {
  private waiting: Waiting[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(private readonly store: ClaimStore) {}

  /** Resolves true when this delivery is new (claimed now), false when it was already accepted. */
  claim(scope: CustomerScope, signatureHash: string, deliveryId: string | null): Promise<boolean> {
    return new Promise<boolean>((settle, fail) => {
      this.waiting.push({ scope, signatureHash, deliveryId, settle, fail });
      this.schedule();
    });
  }

  /**
   * Starts a statement on the next turn of the event loop, so claims of requests whose bodies
   * completed in the same I/O phase share it.
   */
  private schedule(): void {
    if (this.scheduled || this.inFlight >= CLAIMS_IN_FLIGHT) {
      return;
    }
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.inFlight < CLAIMS_IN_FLIGHT && this.waiting.length > 0) {
        const batch = this.waiting.splice(0, CLAIMS_PER_STATEMENT);
        this.inFlight += 1;
        void this.write(batch).finally(() => {
          this.inFlight -= 1;
          if (this.waiting.length > 0) {
            this.schedule();
          }
        });
      }
    });
  }

  private async write(batch: Waiting[]): Promise<void> {
    // The same signed bytes twice in one batch: the first waiter takes the claim, the others
    // are replays, exactly as if they had come one statement later.
    const byKey = new Map<string, Waiting[]>();
    for (const claim of batch) {
      const key = keyOf(claim.scope.customerId, claim.signatureHash);
      const same = byKey.get(key);
      if (same) {
        same.push(claim);
      } else {
        byKey.set(key, [claim]);
      }
    }
    const firsts = [...byKey.values()].map((same) => same[0] as Waiting);
    const answer = (key: string, same: Waiting[], claimed: boolean): void => {
      same.forEach((claim, index) => claim.settle(index === 0 && claimed));
      byKey.delete(key);
    };
    if (firsts.length > 1) {
      try {
        const rows = await this.store.claimAcrossCustomers(firsts);
        const claimed = new Set(rows.map((row) => keyOf(row.customer_id, row.signature_hash)));
        for (const [key, same] of byKey) {
          answer(key, same, claimed.has(key));
        }
        return;
      } catch {
        // Fall through: each claim on its own, so only the one at fault sees the error.
      }
    }
    await Promise.all(
      [...byKey].map(async ([key, same]) => {
        const first = same[0] as Waiting;
        try {
          const rows = await this.store.claim(first.scope, first.signatureHash, first.deliveryId);
          answer(key, same, rows.length > 0);
        } catch (error) {
          same.forEach((claim) => claim.fail(error));
        }
      }),
    );
  }
}

/** ReplayClaims on the ingest's own WebhookDeliveryRepository. */
export const replayClaimsProvider: Provider = {
  provide: ReplayClaims,
  inject: [WebhookDeliveryRepository],
  useFactory: (deliveries: WebhookDeliveryRepository) => new ReplayClaims(deliveries),
};

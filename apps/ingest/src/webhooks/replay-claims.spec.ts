import { customerScope, type CustomerScope } from '@raise-sync/shared/state';
import {
  CLAIMS_IN_FLIGHT,
  CLAIMS_PER_STATEMENT,
  ReplayClaims,
  type ClaimStore,
} from './replay-claims';

const A = customerScope('6f1c1f0e-7a51-4b43-9d47-4d1b6f0a0001');
const B = customerScope('6f1c1f0e-7a51-4b43-9d47-4d1b6f0a0002');

type Claim = { scope: CustomerScope; signatureHash: string; deliveryId: string | null };

/**
 * A store in memory with the table's rule (one row per customer and digest). Statements can be
 * held open to see what waits behind them, and a customer can be made to fail.
 */
class MemoryStore implements ClaimStore {
  readonly rows = new Set<string>();
  readonly statements: Claim[][] = [];
  failing = new Set<string>();
  private gate: Promise<void> = Promise.resolve();
  private open: (() => void) | undefined;

  hold(): void {
    this.gate = new Promise((done) => (this.open = done));
  }

  release(): void {
    this.open?.();
  }

  private insert(claim: Claim): boolean {
    if (this.failing.has(claim.scope.customerId)) {
      throw new Error(`insert or update on table "webhook_deliveries" violates foreign key`);
    }
    const key = `${claim.scope.customerId}/${claim.signatureHash}`;
    if (this.rows.has(key)) {
      return false;
    }
    this.rows.add(key);
    return true;
  }

  claimAcrossCustomers: ClaimStore['claimAcrossCustomers'] = async (claims) => {
    this.statements.push([...claims]);
    await this.gate;
    // One statement: it fails whole, or inserts what is new.
    if (claims.some((c) => this.failing.has(c.scope.customerId))) {
      throw new Error('insert or update on table "webhook_deliveries" violates foreign key');
    }
    return claims
      .filter((c) => this.insert(c))
      .map((c) => ({ customer_id: c.scope.customerId, signature_hash: c.signatureHash }));
  };

  claim: ClaimStore['claim'] = async (scope, signatureHash, deliveryId) => {
    this.statements.push([{ scope, signatureHash, deliveryId }]);
    await this.gate;
    return this.insert({ scope, signatureHash, deliveryId }) ? [1] : [];
  };
}

describe('ReplayClaims (the replay check as a group commit)', () => {
  it('a lone claim is one statement, claimed once and refused the second time', async () => {
    const store = new MemoryStore();
    const claims = new ReplayClaims(store);
    await expect(claims.claim(A, 'h1', 'd1')).resolves.toBe(true);
    await expect(claims.claim(A, 'h1', 'd1')).resolves.toBe(false);
    // The same digest for another customer is that customer's own delivery.
    await expect(claims.claim(B, 'h1', null)).resolves.toBe(true);
    expect(store.statements.map((s) => s.length)).toEqual([1, 1, 1]);
  });

  it('claims arriving together share statements of at most CLAIMS_PER_STATEMENT', async () => {
    const store = new MemoryStore();
    const claims = new ReplayClaims(store);
    const count = CLAIMS_PER_STATEMENT + 100;
    const answers = await Promise.all(
      Array.from({ length: count }, (_, i) => claims.claim(i % 2 ? A : B, `h${i}`, null)),
    );
    expect(answers.every((a) => a)).toBe(true);
    expect(store.statements.map((s) => s.length)).toEqual([CLAIMS_PER_STATEMENT, 100]);
    expect(store.rows.size).toBe(count);
  });

  it('the same signed bytes twice in one statement: exactly one is claimed', async () => {
    const store = new MemoryStore();
    const claims = new ReplayClaims(store);
    const answers = await Promise.all([
      claims.claim(A, 'same', null),
      claims.claim(A, 'other', null),
      claims.claim(A, 'same', null),
    ]);
    expect(answers).toEqual([true, true, false]);
    // The statement carries distinct claims only.
    expect(store.statements).toHaveLength(1);
    expect(store.statements[0]?.map((c) => c.signatureHash)).toEqual(['same', 'other']);
  });

  it('claims that arrive while statements are in flight wait and then share one', async () => {
    const store = new MemoryStore();
    const claims = new ReplayClaims(store);
    store.hold();
    const turn = (): Promise<void> => new Promise((done) => setImmediate(done));
    const first: Array<Promise<boolean>> = [];
    for (let i = 0; i < CLAIMS_IN_FLIGHT; i += 1) {
      // Each on its own turn of the event loop, so each gets a statement of its own.
      first.push(claims.claim(A, `first${i}`, null));
      await turn();
    }
    const later = Array.from({ length: 50 }, (_, i) => claims.claim(B, `later${i}`, null));
    await turn();
    expect(store.statements.map((s) => s.length)).toEqual(
      Array.from({ length: CLAIMS_IN_FLIGHT }, () => 1),
    );
    store.release();
    await expect(Promise.all([...first, ...later])).resolves.toEqual(
      Array.from({ length: CLAIMS_IN_FLIGHT + 50 }, () => true),
    );
    expect(store.statements.map((s) => s.length)).toEqual([
      ...Array.from({ length: CLAIMS_IN_FLIGHT }, () => 1),
      50,
    ]);
  });

  it("one customer's failing claim fails only its own webhook, not the others in its statement", async () => {
    const store = new MemoryStore();
    const claims = new ReplayClaims(store);
    store.failing.add(B.customerId);
    const results = await Promise.allSettled([
      claims.claim(A, 'a1', null),
      claims.claim(B, 'b1', null),
      claims.claim(A, 'a2', null),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(results[0]).toEqual({ status: 'fulfilled', value: true });
    expect(store.rows).toEqual(new Set([`${A.customerId}/a1`, `${A.customerId}/a2`]));
    // The shared statement, then each claim on its own.
    expect(store.statements.map((s) => s.length)).toEqual([3, 1, 1, 1]);
  });
});

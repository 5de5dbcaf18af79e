import { Injectable } from '@nestjs/common';
import type { SourceProblem } from '@raise-sync/shared';
import type { CustomerScope } from '@raise-sync/shared/state';
import { DataSource, type EntityManager } from 'typeorm';

/** A hold as it is sent on again: its event and the message copy kept with it. */
export interface ReleasedHold {
  destinationId: string;
  eventId: string;
  resource: string;
  sourceId: string;
  problem: SourceProblem;
  payload: Buffer;
  messageKey: string | null;
  headers: Record<string, string>;
  heldAt: Date;
}

/** One cause at one destination: how many records wait, and for how many records to be fixed. */
export interface SourceFixGroupRow {
  destinationId: string;
  destination: string;
  problem: SourceProblem;
  /** The held records' resource (donor, user, gift). */
  resource: string;
  records: number;
  /** Distinct records whose fix releases them (a gift's donor, or the record itself). */
  waitingFor: number;
  oldest: Date;
}

/** One open hold, for the admin list (no payload). */
export interface SourceFixHoldRow {
  destinationId: string;
  eventId: string;
  resource: string;
  sourceId: string;
  problem: SourceProblem;
  waitingFor: string;
  errorMessage: string;
  heldAt: Date;
}

/** An open hold waiting for a donor the submitter knows, with that donor's stored version. */
export interface WaitingDonor {
  customerId: string;
  donorId: string;
  model: Record<string, unknown>;
}

interface RawHold {
  destination_id: string;
  event_id: string;
  resource: string;
  source_id: string;
  problem: SourceProblem;
  payload: Buffer;
  message_key: string | null;
  headers: Record<string, string>;
  held_at: Date;
}

/**
 * source_fix_holds after the delivery path wrote them (DeliveryRepository.record): releasing the
 * holds whose record was fixed (claimed with SKIP LOCKED, a retry entry each and the ledger moved
 * from needs_source_fix, in one transaction, so replicas and the sweep release a hold once),
 * resolving the ones a newer version superseded (ledger: to skipped), and the reads of the admin
 * API and the console. Tables: source_fix_holds, retry_entries, delivery_counts.
 */
@Injectable()
export class SourceFixRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Which of these records (`<resource>:<id>`) the customer's open holds wait for, and which its
   * open dead letters of earlier releases (`waiting_for`) wait for: one read for both, as every
   * chunk with fixed donors asks (a backfill of donors, chunk after chunk).
   */
  async awaited(
    { customerId }: CustomerScope,
    waitingFor: readonly string[],
  ): Promise<{ holds: string[]; deadLetters: string[] }> {
    const rows: Array<{ waiting_for: string; kind: 'hold' | 'dead_letter' }> = await this.db.query(
      `SELECT DISTINCT waiting_for, 'hold' AS kind FROM source_fix_holds
        WHERE customer_id = $1 AND status = 'open' AND waiting_for = ANY($2::text[])
       UNION
       SELECT DISTINCT waiting_for, 'dead_letter' AS kind FROM dead_letters
        WHERE customer_id = $1 AND status = 'open' AND waiting_for = ANY($2::text[])`,
      [customerId, [...waitingFor]],
    );
    return {
      holds: rows.filter((r) => r.kind === 'hold').map((r) => r.waiting_for),
      deadLetters: rows.filter((r) => r.kind === 'dead_letter').map((r) => r.waiting_for),
    };
  }

  /**
   * Claims up to `limit` open holds waiting for these records (`<resource>:<id>`) and puts each
   * in retry: status released, a retry entry (attempt 0, due now), ledger needs_source_fix -> in
   * retry. A hold whose event is in retry already (another copy of the same version) leaves the
   * ledger as skipped and is not returned. A record's hold waiting for itself is not released
   * here: that one is superseded by the record's fixed version (resolveSuperseded).
   */
  async release(
    { customerId }: CustomerScope,
    waitingFor: readonly string[],
    limit: number,
  ): Promise<ReleasedHold[]> {
    return this.db.transaction(async (tx) => {
      const [claimed] = await tx.query<[RawHold[], number]>(
        `UPDATE source_fix_holds h SET status = 'released', updated_at = now()
           FROM (SELECT destination_id, event_id FROM source_fix_holds
                  WHERE customer_id = $1 AND waiting_for = ANY($2::text[]) AND status = 'open'
                    AND waiting_for <> resource || ':' || source_id
                  ORDER BY held_at LIMIT $3 FOR UPDATE SKIP LOCKED) AS c
          WHERE h.destination_id = c.destination_id AND h.event_id = c.event_id
        RETURNING h.destination_id, h.event_id, h.resource, h.source_id, h.problem, h.payload, h.message_key,
                  h.headers, h.held_at`,
        [customerId, [...waitingFor], limit],
      );
      if (claimed.length === 0) {
        return [];
      }
      const entries: Array<{ destination_id: string; event_id: string }> = await tx.query(
        `INSERT INTO retry_entries (destination_id, customer_id, event_id, resource, source_id, attempt, due_at, last_error, first_failed_at)
         SELECT v.destination_id, $1, v.event_id, v.resource, v.source_id, 0, now(), 'released: fixed in the source', v.held_at
           FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
                AS v(destination_id, event_id, resource, source_id, held_at)
         ON CONFLICT (destination_id, event_id) DO NOTHING
         RETURNING destination_id, event_id`,
        [
          customerId,
          claimed.map((h) => h.destination_id),
          claimed.map((h) => h.event_id),
          claimed.map((h) => h.resource),
          claimed.map((h) => h.source_id),
          claimed.map((h) => h.held_at),
        ],
      );
      const inRetry = new Set(entries.map((e) => `${e.destination_id}\u0000${e.event_id}`));
      const moves = new Map<string, LedgerMove>();
      for (const h of claimed) {
        const move = moves.get(h.destination_id) ?? { fix: 0, skipped: 0 };
        move.fix -= 1;
        if (!inRetry.has(`${h.destination_id}\u0000${h.event_id}`)) {
          move.skipped += 1;
        }
        moves.set(h.destination_id, move);
      }
      await moveLedger(tx, customerId, moves);
      return claimed
        .filter((h) => inRetry.has(`${h.destination_id}\u0000${h.event_id}`))
        .map((h) => ({
          destinationId: h.destination_id,
          eventId: h.event_id,
          resource: h.resource,
          sourceId: h.source_id,
          problem: h.problem,
          payload: h.payload,
          messageKey: h.message_key,
          headers: h.headers,
          heldAt: h.held_at,
        }));
    });
  }

  /** Undoes a release whose retry message could not be published: open again, ledger back. */
  async unrelease({ customerId }: CustomerScope, hold: ReleasedHold): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `UPDATE source_fix_holds SET status = 'open', updated_at = now()
          WHERE destination_id = $1 AND event_id = $2 AND customer_id = $3 AND status = 'released'`,
        [hold.destinationId, hold.eventId, customerId],
      );
      await tx.query(
        `DELETE FROM retry_entries WHERE destination_id = $1 AND event_id = $2 AND customer_id = $3`,
        [hold.destinationId, hold.eventId, customerId],
      );
      await moveLedger(tx, customerId, new Map([[hold.destinationId, { fix: 1, skipped: 0 }]]));
    });
  }

  /**
   * Resolves the customer's open holds of these records (`resource`, `sourceIds`) that another
   * version at least as new has reached at the destination since (the held version is stale, as
   * any older version), or whose own version was delivered after all (a copy released earlier):
   * the ledger moves them to skipped. Answers how many.
   */
  async resolveSuperseded(
    { customerId }: CustomerScope,
    resource: string,
    sourceIds: readonly string[],
  ): Promise<number> {
    return this.resolve(customerId, resource, [...sourceIds], 10_000);
  }

  /** The same for every customer, at most `limit` holds: the sweep's backstop. */
  async resolveSupersededAcrossCustomers(limit: number): Promise<number> {
    return this.resolve(null, null, null, limit);
  }

  /**
   * Open holds waiting for a donor the submitter has stored (at most `limit`), with that donor's
   * version. Across customers: the sweep catches what a restart or a race between partitions
   * left (a donor fixed just before its gift was held).
   */
  async waitingForKnownDonorsAcrossCustomers(limit: number): Promise<WaitingDonor[]> {
    const rows: Array<{ customer_id: string; source_id: string; model: Record<string, unknown> }> =
      await this.db.query(
        `SELECT DISTINCT h.customer_id, r.source_id, r.model
           FROM source_fix_holds h
           JOIN related_records r
             ON r.customer_id = h.customer_id AND r.resource = 'donor' AND h.waiting_for = 'donor:' || r.source_id
          WHERE h.status = 'open' AND h.resource <> 'donor'
          LIMIT $1`,
        [limit],
      );
    return rows.map((r) => ({ customerId: r.customer_id, donorId: r.source_id, model: r.model }));
  }

  /** The customer's open holds grouped by destination and cause. */
  async groups({ customerId }: CustomerScope): Promise<SourceFixGroupRow[]> {
    const rows: Array<Record<string, string | Date>> = await this.db.query(
      `SELECT h.destination_id, d.name, h.problem, h.resource,
              count(DISTINCT (h.resource, h.source_id)) AS records,
              count(DISTINCT h.waiting_for) AS waiting_for, min(h.held_at) AS oldest
         FROM source_fix_holds h JOIN destinations d ON d.id = h.destination_id
        WHERE h.customer_id = $1 AND h.status = 'open'
        GROUP BY h.destination_id, d.name, h.problem, h.resource
        ORDER BY d.name, h.problem, h.resource`,
      [customerId],
    );
    return rows.map((r) => ({
      destinationId: String(r['destination_id']),
      destination: String(r['name']),
      problem: r['problem'] as SourceProblem,
      resource: String(r['resource']),
      records: Number(r['records']),
      waitingFor: Number(r['waiting_for']),
      oldest: new Date(r['oldest'] as Date),
    }));
  }

  /** The customer's open holds, oldest first (at most `limit`), optionally of one destination. */
  async list(
    { customerId }: CustomerScope,
    destinationId: string | null,
    limit: number,
  ): Promise<SourceFixHoldRow[]> {
    const rows: Array<Record<string, string | Date>> = await this.db.query(
      `SELECT destination_id, event_id, resource, source_id, problem, waiting_for, error_message, held_at
         FROM source_fix_holds
        WHERE customer_id = $1 AND status = 'open' AND ($2::uuid IS NULL OR destination_id = $2)
        ORDER BY held_at LIMIT $3`,
      [customerId, destinationId, limit],
    );
    return rows.map((r) => ({
      destinationId: String(r['destination_id']),
      eventId: String(r['event_id']),
      resource: String(r['resource']),
      sourceId: String(r['source_id']),
      problem: r['problem'] as SourceProblem,
      waitingFor: String(r['waiting_for']),
      errorMessage: String(r['error_message']),
      heldAt: new Date(r['held_at'] as Date),
    }));
  }

  /** $1 one customer or null for all; $2/$3 one resource's records or null for any. */
  private async resolve(
    customerId: string | null,
    resource: string | null,
    sourceIds: string[] | null,
    limit: number,
  ): Promise<number> {
    return this.db.transaction(async (tx) => {
      const [resolved] = await tx.query<
        [Array<{ customer_id: string; destination_id: string }>, number]
      >(
        `UPDATE source_fix_holds h SET status = 'resolved', updated_at = now()
           FROM (SELECT h2.destination_id, h2.event_id FROM source_fix_holds h2
                   JOIN sync_records s
                     ON s.customer_id = h2.customer_id AND s.resource = h2.resource AND s.source_id = h2.source_id
                    AND s.destination_id = h2.destination_id
                  WHERE h2.status = 'open' AND ($1::uuid IS NULL OR h2.customer_id = $1)
                    AND ($2::text IS NULL OR (h2.resource = $2 AND h2.source_id = ANY($3::text[])))
                    AND ((s.last_event_id IS DISTINCT FROM h2.event_id AND s.source_modified_at >= h2.source_modified_at)
                         OR (s.last_event_id = h2.event_id AND s.status = 'confirmed'))
                  LIMIT $4 FOR UPDATE OF h2 SKIP LOCKED) AS c
          WHERE h.destination_id = c.destination_id AND h.event_id = c.event_id
        RETURNING h.customer_id, h.destination_id`,
        [customerId, resource, sourceIds, limit],
      );
      const perCustomer = new Map<string, Map<string, LedgerMove>>();
      for (const r of resolved) {
        const moves = perCustomer.get(r.customer_id) ?? new Map<string, LedgerMove>();
        const move = moves.get(r.destination_id) ?? { fix: 0, skipped: 0 };
        move.fix -= 1;
        move.skipped += 1;
        moves.set(r.destination_id, move);
        perCustomer.set(r.customer_id, moves);
      }
      for (const [customer, moves] of perCustomer) {
        await moveLedger(tx, customer, moves);
      }
      return resolved.length;
    });
  }
}

/** What holds leaving (or returning to) needs_source_fix add to the ledger of one destination. */
interface LedgerMove {
  fix: number;
  skipped: number;
}

/**
 * Moves holds in the ledger: `fix` is added to needs_source_fix (negative: holds left it),
 * `skipped` to skipped, per destination of one customer, in the caller's transaction.
 */
async function moveLedger(
  tx: EntityManager,
  customerId: string,
  moves: ReadonlyMap<string, LedgerMove>,
): Promise<void> {
  const destinations: string[] = [];
  const outcomes: string[] = [];
  const deltas: number[] = [];
  for (const [destinationId, move] of moves) {
    for (const [outcome, n] of [
      ['needs_source_fix', move.fix],
      ['skipped', move.skipped],
    ] as const) {
      if (n !== 0) {
        destinations.push(destinationId);
        outcomes.push(outcome);
        deltas.push(n);
      }
    }
  }
  if (deltas.length === 0) {
    return;
  }
  await tx.query(
    `INSERT INTO delivery_counts AS d (customer_id, destination_id, outcome, n)
     SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::bigint[])
     ON CONFLICT (customer_id, destination_id, outcome) DO UPDATE SET n = d.n + EXCLUDED.n`,
    [customerId, destinations, outcomes, deltas],
  );
}

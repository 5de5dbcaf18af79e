import type { Resource, SourceEvent } from '@raise-sync/shared/events';
import type { DestinationKind } from '@raise-sync/shared/state';

/**
 * The port every destination adapter implements. The submitter owns ordering, retries, dead
 * letters and sync state; an adapter only turns events into idempotent writes at one system.
 *
 * Every event carries the record's FULL state as of `sourceModifiedAt` (or a delete), and the
 * submitter only hands an adapter events newer than what that destination last confirmed. So an
 * adapter writes desired state, never a diff: a later event supersedes an earlier one that is
 * still waiting in a retry topic (the earlier one is then skipped as stale). Order-dependent
 * destinations derive their sequence from the state (accounting: a refunded gift means
 * "invoice exists, then credit note exists", both idempotent), so a refund never lands before
 * its invoice.
 */
export interface DestinationContext {
  customerId: string;
  /** destinations.id */
  destinationId: string;
  /** Unique per customer, e.g. 'warehouse'. */
  name: string;
  kind: DestinationKind;
  /** Adapter settings and field mapping (destinations.config). */
  config: Record<string, unknown>;
  /** Decrypted adapter secrets (API keys); never logged. */
  secrets: Record<string, string>;
}

/** The outcome of one event at one destination. Failures are thrown/returned as SyncError. */
export type DeliveryResult =
  | {
      outcome: 'delivered';
      /** The record's ID in the destination (contact ID, invoice ID, row key), when known. */
      destinationRecordId: string | null;
    }
  | {
      /** The destination does not take this event (e.g. marketing never gets test-mode donors). */
      outcome: 'skipped';
      reason: string;
    };

export interface LookupResult {
  exists: boolean;
  deleted?: boolean;
  destinationRecordId?: string | null;
  /** The source-modified time the destination holds for the record, when it stores one. */
  sourceModifiedAt?: Date | null;
}

export interface DestinationAdapter {
  readonly kind: DestinationKind;
  /** Whether this destination takes this resource at all (others are skipped, not failed). */
  accepts(resource: Resource, ctx: DestinationContext): boolean;
  /**
   * Writes a batch of events (one customer, one destination, in key order; several events of one
   * record may appear, newest last). Returns one result per event, same order: a DeliveryResult
   * or an Error: `DestinationUnavailableError` (retriable: 5xx, 429 with retryAfterMs, timeouts)
   * or `RecordRejectedError` (permanent: 4xx validation; message says why). Throwing instead of
   * returning fails the whole batch as retriable.
   */
  deliver(ctx: DestinationContext, events: SourceEvent[]): Promise<Array<DeliveryResult | Error>>;
  /**
   * Whether `deliver` would skip this upsert on purpose (test mode, no email, not invoiced, a
   * resource this destination does not take): the reason, else null. The same rules as deliver,
   * no I/O. Reconciliation uses it so a record a destination never takes is not a daily "gap".
   */
  intentionalSkip?(ctx: DestinationContext, event: SourceEvent): string | null;
  /** For reconciliation: does the destination hold this record? */
  lookup(ctx: DestinationContext, resource: Resource, sourceId: string): Promise<LookupResult>;
  /** Throws when the destination cannot be reached with this context's settings. */
  health(ctx: DestinationContext): Promise<void>;
  /**
   * Erasure of one person (GDPR): removes, archives or marks for deletion what the destination
   * holds of them, found by the donor's source ID or any of the emails the pipeline knew for
   * them. Answers what it did in a word or two ('archived', 'not_found'); never the data.
   * Idempotent. Throws a retriable error when the destination cannot be reached (the erasure
   * is then run again). Destinations without it cannot erase anyone through their API.
   */
  erasePerson?(ctx: DestinationContext, person: ErasedPerson): Promise<string>;
}

/** Who to erase at a destination: the donor's source ID and the emails known for them. */
export interface ErasedPerson {
  sourceId: string;
  emails: readonly string[];
}

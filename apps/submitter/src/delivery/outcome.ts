import type { SourceProblem } from '@raise-sync/shared';
import type { SourceEvent } from '@raise-sync/shared/events';
import type { ConsumedMessage } from '@raise-sync/shared/kafka';
import type { ParkReason } from './delivery-lanes.service';

/** One event on its way to one destination: from a source topic (attempt 0) or a retry topic. */
export interface WorkItem {
  event: SourceEvent;
  message: ConsumedMessage;
  /** Attempts already made for this event at this destination (0 for a live event). */
  attemptsMade: number;
  firstFailedAt: Date | null;
  fromRetry: boolean;
  /** The echo of our own write to the source (two-way sync): not synced out again. */
  echo?: boolean;
  /** A donor event of an erased donor (ErasedDonors): never synced out again. */
  erased?: boolean;
  /** A gift of an erased donor: its donor data is removed, and never completed from Raise. */
  donorErased?: boolean;
  /** A replay aimed at one destination (its header): the others skip it as not_targeted. */
  targetDestinationId?: string;
  /**
   * Set by RecordCompletion when a record the event needs (a webhook gift's donor) could not be
   * read right now: the event is retried at every destination instead of being delivered without it.
   */
  unavailable?: Error;
  /**
   * Taken by the drainer from its destination's lane (a parked retry entry; fromRetry is set
   * too). A lane event the destination cannot take right now stays parked, spending no attempt.
   */
  fromLane?: boolean;
}

/** What one deliver() call achieved, for the lane drainer's pacing. */
export interface DeliverySummary {
  /** Items settled: delivered, skipped, dead-lettered or sent to a retry tier (not parked). */
  settled: number;
  /** Set when the destination asked to wait (429, used-up budget): not before this time. */
  pacedUntil: number;
}

/** What every outcome carries, whatever became of the item. */
interface OutcomeBase {
  item: WorkItem;
  reason: string;
  /** Delivery attempts made for the event at this destination, this one included if it was one. */
  attempts: number;
  error?: string;
}

/** The destination confirmed the write. */
export interface DeliveredOutcome extends OutcomeBase {
  status: 'delivered';
  destinationRecordId: string | null;
}

/** Nothing to write (stale, duplicate, not_targeted, not_applicable, echo, or the adapter's reason). */
export interface SkippedOutcome extends OutcomeBase {
  status: 'skipped';
}

/** Goes to retry tier `tier`, not to be tried again before `dueAt`. */
export interface RetryOutcome extends OutcomeBase {
  status: 'retry';
  error: string;
  dueAt: Date;
  tier: number;
}

/** Given up on: goes to the dead-letter topic and its index. */
export interface DeadLetteredOutcome extends OutcomeBase {
  status: 'dead_lettered';
  error: string;
  /** When dead-lettered for another record's missing data: `<resource>:<id>` of that record. */
  waitingFor?: string;
}

/**
 * The destination can never take the record as the source has it (a CRM+ contact without an
 * email): held in source_fix_holds, not dead-lettered, until `waitingFor` is fixed in the source.
 */
export interface NeedsSourceFixOutcome extends OutcomeBase {
  status: 'needs_source_fix';
  error: string;
  /** What the source lacks (the reason). */
  problem: SourceProblem;
  /** `<resource>:<id>` of the record whose fix releases it: the record itself, or a gift's donor. */
  waitingFor: string;
}

/** Waits in the destination's lane (reason: why), with no attempt spent. */
export interface ParkedOutcome extends OutcomeBase {
  status: 'parked';
  reason: ParkReason;
  /**
   * Its write may still be in flight (left running when the task budget ended): the lane sends
   * it again no earlier than this, when that request has surely ended, so no replica's copy can
   * overtake it.
   */
  notBefore?: Date;
}

/** What became of one work item; the engine routes it, the recorder writes it down. */
export type Outcome =
  | DeliveredOutcome
  | SkippedOutcome
  | RetryOutcome
  | DeadLetteredOutcome
  | NeedsSourceFixOutcome
  | ParkedOutcome;

export function parked(item: WorkItem, reason: ParkReason): ParkedOutcome {
  return { item, status: 'parked', reason, attempts: item.attemptsMade };
}

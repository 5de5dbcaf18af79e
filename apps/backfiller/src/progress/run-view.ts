/**
 * What the admin API answers about a backfill run (JSON). Shared by the API and the CLI, so it
 * holds types only: the CLI stays a plain script without Nest or database imports.
 */
export const RANGE_STATUSES = ['pending', 'running', 'done', 'failed'] as const;
export type RangeStatus = (typeof RANGE_STATUSES)[number];

export interface RunProgressView {
  recordsDone: number;
  /** Estimated at planning from the source's count; null until the run is planned. */
  recordsTotal: number | null;
  /** 0-100, one decimal; 100 once the run is done. */
  percent: number;
  /** Records per second over the last ~30 s (all replicas), else since the start; null when unknown. */
  ratePerSecond: number | null;
  /** Seconds left at that rate; 0 when finished, -1 when unknown. */
  etaSeconds: number;
  pagesDone: number;
  ranges: Record<RangeStatus, number>;
}

/**
 * Push-back: the run waits because more than `limit` (BACKFILL_MAX_WAITING) of the customer's
 * events wait in its destination lanes (`waiting` is counted up to limit + 1). Nothing failed:
 * the run goes on by itself once the lanes drain below the limit.
 */
export interface PushbackView {
  waiting: number;
  limit: number;
}

export interface RangeView {
  id: string;
  rangeStart: string;
  /** null: open-ended (a source that cannot be split by ID). */
  rangeEnd: string | null;
  /** Last source ID published and checkpointed; null before the first page. */
  cursor: string | null;
  status: RangeStatus;
  recordsDone: number;
  recordsTotal: number | null;
  pagesDone: number;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  lastError: string | null;
}

export interface RunView {
  id: string;
  customerId: string;
  source: string;
  resource: string;
  trigger: string;
  status: 'pending' | 'running' | 'done' | 'failed' | 'cancelled';
  modifiedFrom: string | null;
  modifiedTo: string | null;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  lastError: string | null;
  /** Newest (modified time, ID) published; seeds the poll checkpoint when the run is done. */
  highWater: { at: string; id: string } | null;
  progress: RunProgressView;
  /** Set while the run is held by push-back (its ranges wait, pending); else null. */
  pushback: PushbackView | null;
  /** Only on GET /admin/backfills/:runId. */
  rangesDetail?: RangeView[];
}

export const ACTIVE_RUN_STATUSES: ReadonlyArray<RunView['status']> = ['pending', 'running'];

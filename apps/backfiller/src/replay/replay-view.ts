import { bar, formatCount, heldText } from '../progress/progress-bar';
import type { PushbackView } from '../progress/run-view';
import { offsetsDone, positionKey, positionsOf, replayPercent } from './replay-bounds';
import type { ReplayRunRow } from './replay-run.repository';

/** A replay run as the admin API answers it (and the CLI draws it). */
export interface ReplayView {
  id: string;
  customerId: string;
  /** The topic asked for; for a replay by resource its live topic. */
  topic: string;
  /** The topics read: `[topic]`, or for a replay by resource its live and its bulk topic. */
  topics: string[];
  source: string;
  resource: string;
  destinationId: string | null;
  status: 'pending' | 'running' | 'done' | 'failed' | 'cancelled';
  trigger: string;
  requestedBy: string | null;
  from: string | null;
  to: string | null;
  /** Per partition read (with its `topic` when the run reads several). */
  partitions: Array<{
    topic?: string;
    partition: number;
    from: number;
    to: number;
    position: number;
  }>;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  lastError: string | null;
  leaseOwner: string | null;
  attempts: number;
  /** Set while the run waits for the customer's destination lanes (push-back); else null. */
  pushback: PushbackView | null;
  progress: {
    /** Offsets in the range, all partitions (every message of the topic, any customer). */
    offsetsTotal: number;
    offsetsDone: number;
    percent: number;
    scanned: number;
    /** The customer's (and resource's) events found. */
    matched: number;
    /** Copies acknowledged by Kafka (origin replay); equals matched once done. */
    published: number;
    /** Skipped: they are in the dead-letter index already. */
    undecodable: number;
    pagesDone: number;
  };
}

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

export function toReplayView(row: ReplayRunRow, pushback: PushbackView | null = null): ReplayView {
  const positions = positionsOf(row.bounds, row.positions);
  const total = Number(row.messages_total);
  const done = row.status === 'done' ? total : offsetsDone(row.bounds, row.positions);
  return {
    id: row.id,
    customerId: row.customer_id,
    topic: row.topic,
    topics: [...new Set([row.topic, ...row.bounds.map((b) => b.topic ?? row.topic)])],
    source: row.source,
    resource: row.resource,
    destinationId: row.destination_id,
    status: row.status,
    trigger: row.trigger,
    requestedBy: row.requested_by,
    from: iso(row.from_time),
    to: iso(row.to_time),
    partitions: row.bounds.map((b) => ({
      ...b,
      position: positions.get(positionKey(b)) ?? b.from,
    })),
    requestedAt: row.requested_at.toISOString(),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    lastError: row.last_error,
    leaseOwner: row.lease_owner,
    attempts: row.attempts,
    pushback: replayFinished(row) ? null : pushback,
    progress: {
      offsetsTotal: total,
      offsetsDone: done,
      percent: replayPercent(done, total, row.status === 'done'),
      scanned: Number(row.messages_scanned),
      matched: Number(row.messages_matched),
      published: Number(row.messages_published),
      undecodable: Number(row.messages_undecodable),
      pagesDone: Number(row.pages_done),
    },
  };
}

export const replayFinished = (run: Pick<ReplayView, 'status'>): boolean =>
  run.status === 'done' || run.status === 'failed' || run.status === 'cancelled';

/**
 * One line of a replay's progress. On a terminal with a drawn bar; otherwise plain words:
 *
 *   replay 0b8e41c2 gift running 42.0%: 4,200/10,000 offsets scanned, 1,000 matched, 1,000 published, 0 undecodable
 */
export function renderReplayLine(run: ReplayView, options: { tty: boolean }): string {
  const p = run.progress;
  const id = run.id.slice(0, 8);
  const target = run.destinationId ? ` → ${run.destinationId.slice(0, 8)}` : '';
  const counts = `${formatCount(p.matched)} matched, ${formatCount(p.published)} published, ${formatCount(p.undecodable)} undecodable`;
  const error = run.lastError ? `, error: ${run.lastError}` : '';
  const held = run.pushback ? `, ${heldText(run.pushback)}` : '';
  if (options.tty) {
    return [
      `replay ${id}`,
      `${run.resource}${target}`.padEnd(14),
      bar(p.percent, 24, true),
      `${p.percent.toFixed(1)}%`.padStart(6),
      `${formatCount(p.offsetsDone)}/${formatCount(p.offsetsTotal)}`.padStart(19),
      run.status.padEnd(9),
      counts + held + error,
    ].join('  ');
  }
  return `replay ${id} ${run.resource}${target} ${run.status} ${p.percent.toFixed(1)}%: ${formatCount(p.offsetsDone)}/${formatCount(p.offsetsTotal)} offsets scanned, ${counts}${held}${error}`;
}

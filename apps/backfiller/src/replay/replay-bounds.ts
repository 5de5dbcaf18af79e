import type { ReplayPartitionBounds } from '@raise-sync/shared/state';

/** A partition's offsets as Kafka reports them: `low` = first retained, `high` = next to be written. */
export interface PartitionOffsets {
  partition: number;
  low: number;
  high: number;
}

/** How the start or the end of a replay was asked for, per side: all partitions, some, or none. */
export interface OffsetSide {
  /** One offset for every partition. */
  all?: number;
  /** Offsets by partition; partitions not named use the default of that side. */
  byPartition?: Record<string, number>;
  /** Offsets a timestamp resolved to (first message at or after it; `high` when none). */
  fromTimestamp?: Record<string, number>;
}

/** A request the API refuses (400) with this message. */
export class BoundsError extends Error {}

const isOffset = (n: unknown): n is number =>
  typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

function pick(side: OffsetSide, partition: number, fallback: number, name: string): number {
  const explicit = side.byPartition?.[String(partition)] ?? side.all;
  if (explicit !== undefined) {
    if (!isOffset(explicit)) {
      throw new BoundsError(`${name} of partition ${partition} must be a non-negative integer`);
    }
    return explicit;
  }
  return side.fromTimestamp?.[String(partition)] ?? fallback;
}

/**
 * The range of every partition a replay reads: from the requested start (default: the first
 * retained offset) up to the requested end (default: the high-water mark now, so a replay never
 * chases the messages it publishes itself). Starts below the first retained offset are raised to
 * it (older messages are gone); an end beyond the high-water mark, a start after the end, or a
 * partition the topic does not have is refused.
 */
export function resolveBounds(
  partitions: PartitionOffsets[],
  from: OffsetSide,
  to: OffsetSide,
): { bounds: ReplayPartitionBounds[]; total: number } {
  const known = new Set(partitions.map((p) => String(p.partition)));
  for (const [name, side] of [
    ['fromOffsets', from],
    ['toOffsets', to],
  ] as const) {
    for (const key of Object.keys(side.byPartition ?? {})) {
      if (!known.has(key)) {
        throw new BoundsError(
          `${name} names partition ${key}; the topic has partitions 0-${partitions.length - 1}`,
        );
      }
    }
  }
  const bounds = [...partitions]
    .sort((a, b) => a.partition - b.partition)
    .map((p): ReplayPartitionBounds => {
      const start = pick(from, p.partition, p.low, 'the start offset');
      const end = pick(to, p.partition, p.high, 'the end offset');
      if (end > p.high) {
        throw new BoundsError(
          `the end offset ${end} of partition ${p.partition} is beyond its high-water mark ${p.high}`,
        );
      }
      const explicitStart = from.byPartition?.[String(p.partition)] ?? from.all;
      const explicitEnd = to.byPartition?.[String(p.partition)] ?? to.all;
      if (explicitStart !== undefined && explicitEnd !== undefined && explicitStart > explicitEnd) {
        throw new BoundsError(
          `the start offset ${explicitStart} of partition ${p.partition} is after its end offset ${explicitEnd}`,
        );
      }
      const first = Math.max(start, p.low);
      // A start resolved from a time can lie after an end given as an offset: nothing to read.
      return { partition: p.partition, from: Math.min(first, end), to: end };
    });
  return { bounds, total: bounds.reduce((n, b) => n + (b.to - b.from), 0) };
}

/**
 * `120` (every partition) or `0:120,3:400` (by partition), as the CLI takes offsets; undefined
 * for an empty value; throws BoundsError on anything else.
 */
export function parseOffsetsOption(
  value: string | undefined,
): { all: number } | { byPartition: Record<string, number> } | undefined {
  if (value === undefined || value.trim() === '') {
    return undefined;
  }
  if (/^\d+$/.test(value.trim())) {
    return { all: Number(value.trim()) };
  }
  const byPartition: Record<string, number> = {};
  for (const part of value.split(',')) {
    const match = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(part);
    if (!match) {
      throw new BoundsError(`offsets must look like 120 or 0:120,3:400 (got '${value}')`);
    }
    byPartition[String(Number(match[1]))] = Number(match[2]);
  }
  return { byPartition };
}

/**
 * The key a partition's position is checkpointed under in `positions`: `<partition>` for a run
 * of one topic (as every run before replays by resource), `<topic>:<partition>` for a partition
 * whose bounds name their topic (a run of several topics).
 */
export function positionKey(bounds: Pick<ReplayPartitionBounds, 'topic' | 'partition'>): string {
  return bounds.topic === undefined
    ? String(bounds.partition)
    : `${bounds.topic}:${bounds.partition}`;
}

/** Where each partition is (by `positionKey`): its checkpointed position, else its start. */
export function positionsOf(
  bounds: ReplayPartitionBounds[],
  positions: Record<string, number>,
): Map<string, number> {
  return new Map(
    bounds.map((b) => [
      positionKey(b),
      Math.max(b.from, Math.min(b.to, positions[positionKey(b)] ?? b.from)),
    ]),
  );
}

/** Offsets covered so far (read and checkpointed) out of the whole range. */
export function offsetsDone(
  bounds: ReplayPartitionBounds[],
  positions: Record<string, number>,
): number {
  const at = positionsOf(bounds, positions);
  return bounds.reduce((n, b) => n + ((at.get(positionKey(b)) ?? b.from) - b.from), 0);
}

/** A partition with something left to read, from `position`; `topic` as in its bounds. */
export interface RemainingPartition {
  topic?: string;
  partition: number;
  position: number;
  to: number;
}

/** Partitions with something left to read, with the offset to start at, in bounds order. */
export function remainingPartitions(
  bounds: ReplayPartitionBounds[],
  positions: Record<string, number>,
): RemainingPartition[] {
  const at = positionsOf(bounds, positions);
  return bounds
    .map((b) => ({
      ...(b.topic === undefined ? {} : { topic: b.topic }),
      partition: b.partition,
      position: at.get(positionKey(b)) ?? b.from,
      to: b.to,
    }))
    .filter((p) => p.position < p.to);
}

/** 0-100 with one decimal; 100 once done (an empty range included). */
export function replayPercent(done: number, total: number, finished: boolean): number {
  if (finished) {
    return 100;
  }
  if (total <= 0) {
    return 0;
  }
  return Math.min(100, Math.round((done / total) * 1000) / 10);
}

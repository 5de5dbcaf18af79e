import { compareSourceIds } from '@raise-sync/sources';

/**
 * Merge-join of two ID lists sorted in source order (numeric for Raise/VOMO IDs): one pass, two
 * cursors, no set built. Deletion detection feeds it one source page and the destination IDs of
 * the same ID range at a time, so memory stays at one page per side.
 */
export interface IdDiff {
  onlyInSource: string[];
  onlyInDestination: string[];
  both: number;
}

export function diffSortedIds(source: readonly string[], destination: readonly string[]): IdDiff {
  const diff: IdDiff = { onlyInSource: [], onlyInDestination: [], both: 0 };
  let i = 0;
  let j = 0;
  while (i < source.length || j < destination.length) {
    const a = source[i];
    const b = destination[j];
    if (b === undefined || (a !== undefined && compareSourceIds(a, b) < 0)) {
      diff.onlyInSource.push(a as string);
      i += 1;
    } else if (a === undefined || compareSourceIds(a, b) > 0) {
      diff.onlyInDestination.push(b);
      j += 1;
    } else {
      diff.both += 1;
      i += 1;
      j += 1;
    }
  }
  return diff;
}

/** Throws unless `ids` is strictly ascending in source order (the merge relies on it). */
export function assertAscending(ids: readonly string[], what: string): void {
  for (let k = 1; k < ids.length; k += 1) {
    if (compareSourceIds(ids[k - 1] as string, ids[k] as string) >= 0) {
      throw new Error(`${what} are not in ascending ID order at ${ids[k - 1]}, ${ids[k]}`);
    }
  }
}

/** A canonical non-negative integer ID (no sign, no leading zeros): what the range SQL handles. */
export const isCanonicalId = (id: string): boolean => /^(0|[1-9]\d{0,18})$/.test(id);

/**
 * A numeric ID range (lo, hi] over a text column, written so that PostgreSQL can use the
 * (customer_id, resource, source_id) btree: canonical integer IDs of one length sort the same as
 * text in any collation, so the range becomes one text range per ID length, each filtered to
 * that length. `lo` null = from the smallest ID, `hi` null = up to the largest.
 */
export interface IdRangeSegment {
  length: number;
  /** Exclusive text lower bound, or null for all IDs of this length. */
  after: string | null;
  /** Inclusive text upper bound, or null for all IDs of this length. */
  upTo: string | null;
}

const MAX_ID_LENGTH = 19;

export function idRangeSegments(lo: string | null, hi: string | null): IdRangeSegment[] {
  if (lo !== null && !isCanonicalId(lo)) {
    throw new RangeError(`range bound '${lo}' is not a canonical integer ID`);
  }
  if (hi !== null && !isCanonicalId(hi)) {
    throw new RangeError(`range bound '${hi}' is not a canonical integer ID`);
  }
  if (lo !== null && hi !== null && compareSourceIds(lo, hi) >= 0) {
    return [];
  }
  const first = lo === null ? 1 : lo.length;
  const last = hi === null ? MAX_ID_LENGTH : hi.length;
  const segments: IdRangeSegment[] = [];
  for (let length = first; length <= last; length += 1) {
    segments.push({
      length,
      after: lo !== null && length === lo.length ? lo : null,
      upTo: hi !== null && length === hi.length ? hi : null,
    });
  }
  return segments;
}

/**
 * SQL for `column` in the range, numbering parameters from `firstParam`; returns the condition
 * and its parameters.
 */
export function idRangeSql(
  column: string,
  lo: string | null,
  hi: string | null,
  firstParam: number,
): { sql: string; params: unknown[] } {
  const segments = idRangeSegments(lo, hi);
  if (segments.length === 0) {
    return { sql: 'false', params: [] };
  }
  const params: unknown[] = [];
  const parts = segments.map((s) => {
    const conditions = [`length(${column}) = ${s.length}`];
    // Text bounds for the whole length class keep every segment an index range scan.
    params.push(s.after ?? '0'.repeat(s.length));
    conditions.push(
      `${column} ${s.after === null ? '>=' : '>'} $${firstParam + params.length - 1}`,
    );
    params.push(s.upTo ?? '9'.repeat(s.length));
    conditions.push(`${column} <= $${firstParam + params.length - 1}`);
    return `(${conditions.join(' AND ')})`;
  });
  return { sql: `(${parts.join(' OR ')})`, params };
}

/** One planned ID range, both ends included, with its share of the estimated record count. */
export interface PlannedRange {
  start: number;
  end: number;
  recordsTotal: number;
}

export interface SplitInput {
  /** Smallest and largest source ID the backfill's query matches. */
  minId: number;
  maxId: number;
  /** Records the source counted for the query (its `total`). */
  total: number;
  /** Aim for about this many records per range. */
  rangeRecords: number;
  /** Never more ranges than this. */
  maxRanges: number;
}

/**
 * Splits the ID span [minId, maxId] into non-overlapping, contiguous ranges that together cover
 * it exactly: about total / rangeRecords of them (at least one, at most maxRanges), of equal
 * width (to within one ID). Each range gets an estimate of its records proportional to its width, the estimates
 * summing to `total` (largest remainders), since IDs are not necessarily dense.
 *
 * The state store requires range_end > range_start, so every range is at least two IDs wide; a
 * span of a single ID becomes [id, id + 1] (reading one ID too many is harmless: a record created
 * there meanwhile is simply published as well).
 */
export function splitIdSpan(input: SplitInput): PlannedRange[] {
  const { minId, total } = input;
  if (!Number.isSafeInteger(minId) || !Number.isSafeInteger(input.maxId) || input.maxId < minId) {
    throw new RangeError(`invalid ID span [${minId}, ${input.maxId}]`);
  }
  if (!(input.rangeRecords >= 1) || !(input.maxRanges >= 1)) {
    throw new RangeError('rangeRecords and maxRanges must be at least 1');
  }
  const maxId = Math.max(input.maxId, minId + 1);
  const width = maxId - minId + 1;
  const wanted = Math.ceil(Math.max(0, total) / input.rangeRecords);
  const count = Math.max(1, Math.min(wanted, input.maxRanges, Math.floor(width / 2)));
  // Widths differ by at most one ID; with count <= width / 2 each is at least two IDs.
  const base = Math.floor(width / count);
  const wider = width % count;
  const ranges: Array<{ start: number; end: number }> = [];
  let start = minId;
  for (let i = 0; i < count; i += 1) {
    const size = base + (i < wider ? 1 : 0);
    ranges.push({ start, end: start + size - 1 });
    start += size;
  }
  return withEstimates(ranges, Math.max(0, Math.round(total)), width);
}

/** Shares `total` among the ranges by width, rounding so the shares add up to `total` exactly. */
function withEstimates(
  ranges: Array<{ start: number; end: number }>,
  total: number,
  width: number,
): PlannedRange[] {
  const exact = ranges.map((r) => ((r.end - r.start + 1) * total) / width);
  const floors = exact.map(Math.floor);
  let left = total - floors.reduce((sum, n) => sum + n, 0);
  const byRemainder = exact
    .map((value, index) => ({ index, remainder: value - Math.floor(value) }))
    .sort((a, b) => b.remainder - a.remainder || a.index - b.index);
  for (const { index } of byRemainder) {
    if (left <= 0) {
      break;
    }
    floors[index] = (floors[index] ?? 0) + 1;
    left -= 1;
  }
  return ranges.map((r, i) => ({ ...r, recordsTotal: floors[i] ?? 0 }));
}

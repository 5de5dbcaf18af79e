import { splitIdSpan, type PlannedRange } from './range-split';

/** Every ID of the span is in exactly one range, ranges ascend without gaps or overlaps. */
function expectExactCover(ranges: PlannedRange[], minId: number, maxId: number): void {
  expect(ranges[0]?.start).toBe(minId);
  expect(ranges[ranges.length - 1]?.end).toBe(maxId);
  ranges.forEach((range, i) => {
    expect(range.end).toBeGreaterThan(range.start);
    if (i > 0) {
      expect(range.start).toBe((ranges[i - 1]?.end ?? NaN) + 1);
    }
  });
}

describe('splitIdSpan', () => {
  it('splits about total / rangeRecords ranges of equal width covering the span exactly', () => {
    const ranges = splitIdSpan({
      minId: 1_000_001,
      maxId: 1_200_000,
      total: 200_000,
      rangeRecords: 50_000,
      maxRanges: 16,
    });
    expect(ranges.map((r) => [r.start, r.end, r.recordsTotal])).toEqual([
      [1_000_001, 1_050_000, 50_000],
      [1_050_001, 1_100_000, 50_000],
      [1_100_001, 1_150_000, 50_000],
      [1_150_001, 1_200_000, 50_000],
    ]);
  });

  it('never makes more than maxRanges ranges', () => {
    const ranges = splitIdSpan({
      minId: 1,
      maxId: 1_000_000,
      total: 1_000_000,
      rangeRecords: 1000,
      maxRanges: 16,
    });
    expect(ranges).toHaveLength(16);
    expectExactCover(ranges, 1, 1_000_000);
  });

  it('estimates records per range by width and the estimates add up to the total', () => {
    // Sparse IDs: 7 records spread over 100 IDs, split in 3.
    const ranges = splitIdSpan({ minId: 10, maxId: 109, total: 7, rangeRecords: 2, maxRanges: 3 });
    expect(ranges).toHaveLength(3);
    expectExactCover(ranges, 10, 109);
    expect(ranges.reduce((sum, r) => sum + r.recordsTotal, 0)).toBe(7);
    expect(ranges.map((r) => r.recordsTotal)).toEqual([3, 2, 2]);
  });

  it('uses one range for a small backfill and widens a single-ID span to two IDs', () => {
    expect(
      splitIdSpan({ minId: 5, maxId: 900, total: 40, rangeRecords: 50_000, maxRanges: 8 }),
    ).toEqual([{ start: 5, end: 900, recordsTotal: 40 }]);
    expect(
      splitIdSpan({ minId: 42, maxId: 42, total: 1, rangeRecords: 1000, maxRanges: 8 }),
    ).toEqual([{ start: 42, end: 43, recordsTotal: 1 }]);
  });

  it('keeps every range at least two IDs wide when the span is narrower than the wanted split', () => {
    const ranges = splitIdSpan({
      minId: 1,
      maxId: 7,
      total: 7000,
      rangeRecords: 1000,
      maxRanges: 16,
    });
    expect(ranges).toHaveLength(3);
    expectExactCover(ranges, 1, 7);
  });

  it('spreads an uneven span so widths differ by at most one ID', () => {
    const ranges = splitIdSpan({ minId: 1, maxId: 11, total: 11, rangeRecords: 2, maxRanges: 5 });
    expectExactCover(ranges, 1, 11);
    expect(ranges.map((r) => r.end - r.start + 1)).toEqual([3, 2, 2, 2, 2]);
    expect(ranges.reduce((sum, r) => sum + r.recordsTotal, 0)).toBe(11);
  });

  it('rejects an inverted span', () => {
    expect(() =>
      splitIdSpan({ minId: 10, maxId: 9, total: 1, rangeRecords: 1, maxRanges: 1 }),
    ).toThrow(RangeError);
  });
});

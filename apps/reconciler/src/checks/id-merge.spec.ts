import { compareSourceIds } from '@raise-sync/sources';
import { assertAscending, diffSortedIds, idRangeSegments, idRangeSql } from './id-merge';

describe('merge-join of sorted ID lists', () => {
  it('finds the IDs on one side only, in numeric (not text) order', () => {
    const diff = diffSortedIds(
      ['9', '10', '11', '100', '1000'],
      ['2', '9', '11', '99', '1000', '1001'],
    );
    expect(diff.onlyInSource).toEqual(['10', '100']);
    expect(diff.onlyInDestination).toEqual(['2', '99', '1001']);
    expect(diff.both).toBe(3);
  });

  it('handles empty sides', () => {
    expect(diffSortedIds([], ['1', '2'])).toEqual({
      onlyInSource: [],
      onlyInDestination: ['1', '2'],
      both: 0,
    });
    expect(diffSortedIds(['1'], [])).toEqual({
      onlyInSource: ['1'],
      onlyInDestination: [],
      both: 0,
    });
  });

  it('page by page over aligned ID ranges gives the same answer as one merge of the whole lists', () => {
    const before = Array.from({ length: 300 }, (_, i) => String(1_000_001 + i * 3));
    const deleted = [before[0], before[77], before[298], before[299]] as string[];
    const sourceNow = before.filter((id) => !deleted.includes(id));
    const destination = [...before];
    const found: string[] = [];
    let previous: string | null = null;
    for (let i = 0; i < sourceNow.length; i += 40) {
      const page = sourceNow.slice(i, i + 40);
      const last = page[page.length - 1] as string;
      const inRange = destination.filter(
        (id) =>
          (previous === null || compareSourceIds(id, previous) > 0) &&
          compareSourceIds(id, last) <= 0,
      );
      found.push(...diffSortedIds(page, inRange).onlyInDestination);
      previous = last;
    }
    // The tail: destination IDs after the last source ID.
    found.push(
      ...destination.filter((id) => previous === null || compareSourceIds(id, previous) > 0),
    );
    expect(found).toEqual(deleted);
    expect(diffSortedIds(sourceNow, destination).onlyInDestination).toEqual(deleted);
  });

  it('refuses lists that are not ascending', () => {
    expect(() => assertAscending(['1', '3', '2'], 'ids')).toThrow(/ascending/);
    expect(() => assertAscending(['9', '10'], 'ids')).not.toThrow();
  });
});

describe('numeric ID ranges as index-friendly text ranges', () => {
  it('one length class when both bounds have the same length', () => {
    expect(idRangeSegments('1000100', '1000200')).toEqual([
      { length: 7, after: '1000100', upTo: '1000200' },
    ]);
  });

  it('one segment per length when the range crosses lengths', () => {
    expect(idRangeSegments('98', '1005')).toEqual([
      { length: 2, after: '98', upTo: null },
      { length: 3, after: null, upTo: null },
      { length: 4, after: null, upTo: '1005' },
    ]);
  });

  it('open ends reach the shortest and the longest IDs', () => {
    expect(idRangeSegments(null, '15')[0]).toEqual({ length: 1, after: null, upTo: null });
    const tail = idRangeSegments('15', null);
    expect(tail[0]).toEqual({ length: 2, after: '15', upTo: null });
    expect(tail[tail.length - 1]?.length).toBe(19);
  });

  it('an empty range and bad bounds', () => {
    expect(idRangeSegments('20', '20')).toEqual([]);
    expect(idRangeSql('source_id', '20', '10', 3)).toEqual({ sql: 'false', params: [] });
    expect(() => idRangeSegments('007', null)).toThrow(/canonical/);
  });

  it('renders numbered parameters', () => {
    const { sql, params } = idRangeSql('s.source_id', '98', '100', 4);
    expect(sql).toBe(
      '((length(s.source_id) = 2 AND s.source_id > $4 AND s.source_id <= $5) OR (length(s.source_id) = 3 AND s.source_id >= $6 AND s.source_id <= $7))',
    );
    expect(params).toEqual(['98', '99', '000', '100']);
  });
});

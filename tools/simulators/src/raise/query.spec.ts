import type { RaiseGiftModel, RaiseGroup, RaiseQueryBody } from '@raise-sync/sources';
import { Dataset } from '../data/dataset';
import { Prng } from '../prng';
import { scan } from '../store/scan';
import { parseQuery, QueryError } from './query';

const ANCHOR = Date.parse('2026-11-20T00:00:00.000Z');

function makeDataset(gifts = 3000) {
  return new Dataset({
    seed: 77,
    anchorMs: ANCHOR,
    testModeFraction: 0.1,
    counts: { donor: 200, gift: gifts, recurring_gift: 20, campaign: 5, user: 0 },
  });
}

function run(ds: Dataset, body: RaiseQueryBody) {
  const parsed = parseQuery('gift', ds.tables.gift, body);
  const result = scan(parsed.request);
  return { ids: result.slots.map((slot) => ds.tables.gift.idOf(slot)), total: result.total };
}

/** Straightforward reference: materialize everything, filter, sort, slice. */
function reference(gifts: RaiseGiftModel[], body: RaiseQueryBody) {
  const value = (gift: RaiseGiftModel, parameter: string): number => {
    switch (parameter.toLowerCase()) {
      case 'id':
        return gift.id;
      case 'modifieddate':
        return Date.parse(gift.modifiedDate);
      case 'createddate':
        return Date.parse(gift.createdDate);
      case 'date':
        return Date.parse(gift.date!);
      case 'istestmode':
        return gift.isTestMode ? 1 : 0;
      default:
        throw new Error(parameter);
    }
  };
  const parse = (parameter: string, raw: string) =>
    parameter.toLowerCase() === 'id'
      ? Number(raw)
      : parameter.toLowerCase() === 'istestmode'
        ? raw === 'true'
          ? 1
          : 0
        : Date.parse(raw);
  const groupMatches = (gift: RaiseGiftModel, group: RaiseGroup) =>
    group.conditions.every((c) => {
      const k = value(gift, c.parameter);
      const v = c.value === undefined ? NaN : parse(c.parameter, c.value);
      switch (c.operator) {
        case 'Equals':
          return k === v;
        case 'GreaterThan':
          return k > v;
        case 'GreaterThanOrEqual':
          return k >= v;
        case 'LessThan':
          return k < v;
        case 'LessThanOrEqual':
          return k <= v;
        case 'Between':
          return k >= v && k <= parse(c.parameter, c.secondaryValue!);
        case 'In':
          return c.values!.map((x) => parse(c.parameter, x)).includes(k);
      }
    });
  const matches = gifts.filter((gift) => {
    const groups = body.groups ?? [];
    if (groups.length === 0) {
      return true;
    }
    let result = groupMatches(gift, groups[0]!);
    for (const group of groups.slice(1)) {
      result =
        group.conjunct === 'And'
          ? result && groupMatches(gift, group)
          : result || groupMatches(gift, group);
    }
    return result;
  });
  const sortBy = (body.sortBy ?? 'id').toLowerCase();
  const key = (gift: RaiseGiftModel) =>
    sortBy === 'id'
      ? gift.id
      : sortBy === 'amount'
        ? gift.amount
        : value(gift, sortBy === 'createdate' ? 'createddate' : sortBy);
  const direction = body.descending ? -1 : 1;
  matches.sort((a, b) => (key(a) - key(b)) * direction || a.id - b.id);
  const skip = body.skip ?? 0;
  const take = Math.min(1000, body.take ?? 100);
  return { ids: matches.slice(skip, skip + take).map((g) => g.id), total: matches.length };
}

function allGifts(ds: Dataset) {
  return Array.from({ length: ds.tables.gift.size }, (_, slot) => slot)
    .filter((slot) => ds.tables.gift.isLive(slot))
    .map((slot) => ds.materialize('gift', slot));
}

describe('Raise query engine', () => {
  const ds = makeDataset();
  const gifts = allGifts(ds);
  const sortedByModified = [...gifts].sort(
    (a, b) => Date.parse(a.modifiedDate) - Date.parse(b.modifiedDate) || a.id - b.id,
  );

  it('pages by id with total = all matches, default take 100', () => {
    const first = run(ds, {});
    expect(first.total).toBe(3000);
    expect(first.ids).toHaveLength(100);
    expect(first.ids[0]).toBe(gifts[0]!.id);
    const page = run(ds, { skip: 2950, take: 100 });
    expect(page.ids).toHaveLength(50);
    expect(page.ids.at(-1)).toBe(gifts.at(-1)!.id);
  });

  it('clamps take to RAISE_MAX_TAKE', () => {
    expect(run(ds, { take: 5000 }).ids).toHaveLength(1000);
  });

  it('sorts by modified date with ties broken by ascending id', () => {
    const { ids } = run(ds, { sortBy: 'ModifiedDate', take: 1000 });
    expect(ids).toEqual(sortedByModified.slice(0, 1000).map((g) => g.id));
    const tied = sortedByModified.filter(
      (g, i, list) => i > 0 && g.modifiedDate === list[i - 1]!.modifiedDate,
    );
    expect(tied.length).toBeGreaterThan(0);
  });

  it('keeps ties in ascending id order when sorting descending', () => {
    const { ids } = run(ds, { sortBy: 'modifieddate', descending: true, take: 1000 });
    expect(ids).toEqual(
      reference(gifts, { sortBy: 'modifieddate', descending: true, take: 1000 }).ids,
    );
  });

  it('walks a (modifiedDate, id) keyset cursor with OR groups and sees every record exactly once', () => {
    const seen: number[] = [];
    let cursor: { modified: string; id: number } | undefined;
    for (;;) {
      const groups: RaiseGroup[] = cursor
        ? [
            {
              conditions: [
                { parameter: 'modifieddate', operator: 'GreaterThan', value: cursor.modified },
              ],
            },
            {
              conditions: [
                { parameter: 'modifieddate', operator: 'Equals', value: cursor.modified },
                { parameter: 'id', operator: 'GreaterThan', value: String(cursor.id) },
              ],
            },
          ]
        : [];
      const { ids } = run(ds, { sortBy: 'modifieddate', take: 250, groups });
      if (ids.length === 0) {
        break;
      }
      seen.push(...ids);
      const last = gifts.find((g) => g.id === ids.at(-1))!;
      cursor = { modified: last.modifiedDate, id: last.id };
    }
    expect(seen).toEqual(sortedByModified.map((g) => g.id));
  });

  it('honours conjunct And between groups', () => {
    const body: RaiseQueryBody = {
      take: 1000,
      groups: [
        { conditions: [{ parameter: 'isTestMode', operator: 'Equals', value: 'true' }] },
        {
          conjunct: 'And',
          conditions: [{ parameter: 'id', operator: 'LessThan', value: String(gifts[1500]!.id) }],
        },
      ],
    };
    const result = run(ds, body);
    expect(result).toEqual(reference(gifts, body));
    expect(result.total).toBeGreaterThan(0);
  });

  it('matches a brute-force reference on random queries', () => {
    const rng = new Prng(2024);
    const operators = [
      'Equals',
      'GreaterThan',
      'GreaterThanOrEqual',
      'LessThan',
      'LessThanOrEqual',
      'Between',
      'In',
    ] as const;
    const parameters = ['id', 'modifieddate', 'createddate', 'date', 'istestmode'];
    const sample = (parameter: string): string => {
      const gift = gifts[rng.int(gifts.length)]!;
      switch (parameter) {
        case 'id':
          return String(gift.id + rng.between(-1, 1));
        case 'modifieddate':
          return gift.modifiedDate;
        case 'createddate':
          return gift.createdDate;
        case 'date':
          return gift.date!;
        default:
          return rng.chance(0.5) ? 'true' : 'false';
      }
    };
    for (let q = 0; q < 300; q++) {
      const groups: RaiseGroup[] = Array.from({ length: rng.int(4) }, (_, g) => ({
        conjunct: g > 0 && rng.chance(0.3) ? 'And' : undefined,
        conditions: Array.from({ length: rng.between(1, 3) }, () => {
          const parameter = rng.pick(parameters);
          const operator = rng.pick(operators);
          const [a, b] = [sample(parameter), sample(parameter)];
          return {
            parameter: rng.chance(0.5) ? parameter.toUpperCase() : parameter,
            operator,
            value: a,
            secondaryValue: b,
            values: [a, b, sample(parameter)],
          };
        }),
      }));
      const body: RaiseQueryBody = {
        groups,
        sortBy: rng.pick(['id', 'modifieddate', 'createdate', 'amount', 'date']),
        descending: rng.chance(0.3),
        skip: rng.chance(0.3) ? rng.int(200) : 0,
        take: rng.pick([1, 10, 100, 1000]),
      };
      expect({ q, ...run(ds, body) }).toEqual({ q, ...reference(gifts, body) });
    }
  });

  it('follows deletions and changes made after the order index was built', () => {
    const local = makeDataset(500);
    const table = local.tables.gift;
    run(local, { sortBy: 'modifieddate' }); // builds the index
    table.remove(3, ANCHOR + 1);
    table.set(10, 'modified', ANCHOR + 5); // moves to the end: appended
    table.set(20, 'modified', ANCHOR - 29 * 86_400_000); // moves back: re-sort
    const body: RaiseQueryBody = { sortBy: 'modifieddate', take: 1000 };
    expect(run(local, body)).toEqual(reference(allGifts(local), body));
    expect(run(local, { ...body, descending: true }).ids[0]).toBe(table.idOf(10));
  });

  it('stays correct through random interleaved appends, moves and deletions', () => {
    const local = makeDataset(400);
    const table = local.tables.gift;
    const rng = new Prng(31);
    let now = ANCHOR;
    const bodies: RaiseQueryBody[] = [
      { sortBy: 'modifieddate', take: 1000 },
      { sortBy: 'modifieddate', descending: true, take: 50, skip: 20 },
      { sortBy: 'date', take: 1000 },
      {
        sortBy: 'modifieddate',
        take: 1000,
        groups: [
          {
            conditions: [
              {
                parameter: 'modifieddate',
                operator: 'GreaterThanOrEqual',
                value: new Date(ANCHOR - 10 * 86_400_000).toISOString(),
              },
            ],
          },
        ],
      },
    ];
    const actual: unknown[] = [];
    const expected: unknown[] = [];
    for (let step = 0; step < 200; step++) {
      const slot = rng.int(table.size);
      const roll = rng.next();
      if (roll < 0.3) {
        table.append({
          created: ++now,
          modified: now,
          date: now - rng.int(1000),
          amount: 5,
          test: false,
        });
      } else if (table.isLive(slot)) {
        if (roll < 0.6) {
          table.set(slot, 'modified', ++now);
        } else if (roll < 0.8) {
          table.set(slot, 'modified', ANCHOR - rng.int(30) * 86_400_000);
        } else if (roll < 0.9) {
          table.set(slot, 'date', ANCHOR - rng.int(1000));
        } else {
          table.remove(slot, ++now);
        }
      }
      if (step % 10 === 0) {
        const gifts = allGifts(local);
        for (const body of bodies) {
          actual.push({ step, ...run(local, body) });
          expected.push({ step, ...reference(gifts, body) });
        }
      }
    }
    expect(actual).toEqual(expected);
  });

  it.each([
    [
      { groups: [{ conditions: [{ parameter: 'colour', operator: 'Equals', value: '1' }] }] },
      'colour',
    ],
    [{ groups: [{ conditions: [{ parameter: 'id', operator: 'Like', value: '1' }] }] }, 'Like'],
    [
      {
        groups: [
          { conditions: [{ parameter: 'modifieddate', operator: 'Equals', value: 'soon' }] },
        ],
      },
      'soon',
    ],
    [{ groups: [{ conditions: [{ parameter: 'id', operator: 'In', values: [] }] }] }, 'values'],
    [{ sortBy: 'colour' }, 'colour'],
    [{ take: -1 }, 'take'],
  ])('rejects %j naming the problem', (body, named) => {
    expect(() => parseQuery('gift', ds.tables.gift, body)).toThrow(QueryError);
    expect(() => parseQuery('gift', ds.tables.gift, body)).toThrow(named);
  });

  it('does not accept the date parameter on donors', () => {
    expect(() =>
      parseQuery('donor', ds.tables.donor, {
        groups: [{ conditions: [{ parameter: 'date', operator: 'Equals', value: '2026-01-01' }] }],
      }),
    ).toThrow('date');
  });
});

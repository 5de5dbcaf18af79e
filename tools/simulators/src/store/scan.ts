import type { NumericColumn, Table } from './table';

/** Inclusive bounds on the sort key; +-Infinity when open. */
export interface KeyRange {
  lo: number;
  hi: number;
}

export const OPEN_RANGE: KeyRange = { lo: Number.NEGATIVE_INFINITY, hi: Number.POSITIVE_INFINITY };

export type SlotPredicate = (slot: number) => boolean;

export interface ScanRequest {
  table: Table;
  /** `id` walks slots directly; a column walks that column's order index. Ties go by id. */
  sort: 'id' | NumericColumn;
  descending: boolean;
  /** Records outside this range on the sort key cannot match (a superset of the matches). */
  range: KeyRange;
  /** Remaining test per record; null when `range` alone decides the match. */
  predicate: SlotPredicate | null;
  skip: number;
  take: number;
}

export interface ScanResult {
  slots: number[];
  /** Number of matches across all pages. */
  total: number;
}

/**
 * Returns one page of matching slots and the total match count. Walks only the part of the sort
 * order inside `range` (binary search on the order index), and with no predicate left it stops
 * as soon as the page is full because the total is then known from the range alone.
 */
export function scan(request: ScanRequest): ScanResult {
  const { table, range, predicate, skip, take, descending } = request;
  const slots: number[] = [];
  let matched = 0;

  const visit = (slot: number): boolean => {
    if (predicate !== null && !predicate(slot)) {
      return true;
    }
    if (matched >= skip && slots.length < take) {
      slots.push(slot);
    }
    matched++;
    return predicate !== null || slots.length < take;
  };

  if (request.sort === 'id') {
    const lo = Math.max(0, ceilSafe(range.lo - table.idBase));
    const hi = Math.min(table.size, floorSafe(range.hi - table.idBase) + 1);
    if (hi <= lo) {
      return { slots, total: 0 };
    }
    const flags = table.flags;
    if (descending) {
      for (let slot = hi - 1; slot >= lo; slot--) {
        if ((flags[slot]! & 1) === 0 && !visit(slot)) {
          break;
        }
      }
    } else {
      for (let slot = lo; slot < hi; slot++) {
        if ((flags[slot]! & 1) === 0 && !visit(slot)) {
          break;
        }
      }
    }
    const total = predicate === null ? liveBetween(table, lo, hi) : matched;
    return { slots, total };
  }

  const index = table.order(request.sort);
  const order = index.order;
  const keys = index.keys();
  const lo = range.lo === Number.NEGATIVE_INFINITY ? 0 : index.lowerBound(range.lo);
  const hi = range.hi === Number.POSITIVE_INFINITY ? index.length : index.upperBound(range.hi);
  if (hi <= lo) {
    return { slots, total: 0 };
  }
  if (predicate === null && !descending) {
    // The index holds live slots only: the page is a plain slice.
    const from = lo + skip;
    const to = Math.min(hi, from + take);
    for (let p = from; p < to; p++) {
      slots.push(order[p]!);
    }
    return { slots, total: hi - lo };
  }
  if (descending) {
    // Walk runs of equal keys from the end, each run in ascending id order.
    let p = hi - 1;
    outer: while (p >= lo) {
      const key = keys[order[p]!]!;
      let start = p;
      while (start - 1 >= lo && sameKey(keys[order[start - 1]!]!, key)) {
        start--;
      }
      for (let q = start; q <= p; q++) {
        if (!visit(order[q]!)) {
          break outer;
        }
      }
      p = start - 1;
    }
  } else {
    for (let p = lo; p < hi; p++) {
      if (!visit(order[p]!)) {
        break;
      }
    }
  }
  return { slots, total: predicate === null ? hi - lo : matched };
}

const sameKey = (a: number, b: number): boolean => a === b || (a !== a && b !== b);

function ceilSafe(value: number): number {
  return Number.isFinite(value) ? Math.ceil(value) : value;
}

function floorSafe(value: number): number {
  return Number.isFinite(value) ? Math.floor(value) : value;
}

function liveBetween(table: Table, lo: number, hi: number): number {
  if (table.deletedAt.size === 0) {
    return hi - lo;
  }
  let live = 0;
  const flags = table.flags;
  for (let slot = lo; slot < hi; slot++) {
    if ((flags[slot]! & 1) === 0) {
      live++;
    }
  }
  return live;
}

/**
 * Slow path for orders no index covers (e.g. the list endpoint's `donorname`): computes a key per
 * live matching record and sorts. Fine for tests and demos, not meant for a million rows.
 */
export function scanByKey(
  table: Table,
  keyOf: (slot: number) => string | number | null,
  predicate: SlotPredicate | null,
  descending: boolean,
  skip: number,
  take: number,
): ScanResult {
  const entries: Array<{ slot: number; key: string | number | null }> = [];
  for (let slot = 0; slot < table.size; slot++) {
    if (table.isLive(slot) && (predicate === null || predicate(slot))) {
      entries.push({ slot, key: keyOf(slot) });
    }
  }
  const direction = descending ? -1 : 1;
  entries.sort((a, b) => {
    const c = compareKeys(a.key, b.key) * direction;
    return c !== 0 ? c : a.slot - b.slot;
  });
  return {
    slots: entries.slice(skip, skip + take).map((entry) => entry.slot),
    total: entries.length,
  };
}

function compareKeys(a: string | number | null, b: string | number | null): number {
  if (a === b) {
    return 0;
  }
  if (a === null) {
    return -1;
  }
  if (b === null) {
    return 1;
  }
  if (typeof a === 'number' && typeof b === 'number') {
    return a - b;
  }
  return String(a).localeCompare(String(b));
}

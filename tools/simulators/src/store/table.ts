/**
 * Column store for one resource of one org. A record lives in a slot; its id is `idBase + slot`,
 * so ids ascend with creation and need no column. Only the values the query engine filters and
 * sorts on are stored per record (times, amount, flags); every other field is derived on demand
 * from the seed and the id, plus an optional per-record overrides object for changed fields.
 * This keeps a million records at roughly 40 bytes each.
 */

export const FLAG_DELETED = 1;
export const FLAG_TEST = 2;

export type NumericColumn = 'created' | 'modified' | 'date' | 'amount';

/** Field values written by mutations that the generator would otherwise derive. */
export type Overrides = Readonly<Record<string, unknown>>;

export class Table {
  /** Number of slots used (live + deleted). */
  size = 0;
  liveCount = 0;
  created: Float64Array;
  modified: Float64Array;
  date: Float64Array;
  amount: Float64Array;
  flags: Uint8Array;
  /** Replaced, never mutated, so a snapshot can keep a reference. */
  readonly overrides = new Map<number, Overrides>();
  /** slot -> deletion time (ms), in deletion order. */
  readonly deletedAt = new Map<number, number>();
  private readonly orders = new Map<NumericColumn, OrderIndex>();

  constructor(
    readonly idBase: number,
    capacity = 16,
  ) {
    const cap = Math.max(16, capacity);
    this.created = new Float64Array(cap);
    this.modified = new Float64Array(cap);
    this.date = new Float64Array(cap);
    this.amount = new Float64Array(cap);
    this.flags = new Uint8Array(cap);
  }

  idOf(slot: number): number {
    return this.idBase + slot;
  }

  /** Slot of a live record, or -1. */
  slotOf(id: number): number {
    const slot = id - this.idBase;
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.size) {
      return -1;
    }
    return (this.flags[slot]! & FLAG_DELETED) === 0 ? slot : -1;
  }

  isLive(slot: number): boolean {
    return (this.flags[slot]! & FLAG_DELETED) === 0;
  }

  isTest(slot: number): boolean {
    return (this.flags[slot]! & FLAG_TEST) !== 0;
  }

  column(name: NumericColumn): Float64Array {
    return this[name];
  }

  /** Adds a record; returns its slot. */
  append(values: {
    created: number;
    modified: number;
    date?: number;
    amount?: number;
    test?: boolean;
  }): number {
    if (this.size === this.flags.length) {
      this.grow(this.size * 2);
    }
    const slot = this.size++;
    this.created[slot] = values.created;
    this.modified[slot] = values.modified;
    this.date[slot] = values.date ?? Number.NaN;
    this.amount[slot] = values.amount ?? Number.NaN;
    this.flags[slot] = values.test ? FLAG_TEST : 0;
    this.liveCount++;
    for (const order of this.orders.values()) {
      order.touched(slot);
    }
    return slot;
  }

  /** Pre-sizes the columns for a bulk fill (generation), then `size` is set by the caller. */
  reserve(capacity: number): void {
    if (capacity > this.flags.length) {
      this.grow(capacity);
    }
  }

  /** Marks `count` pre-filled slots as used (generation writes columns directly). */
  commitBulk(count: number): void {
    this.size += count;
    this.liveCount += count;
    for (const order of this.orders.values()) {
      order.invalidate();
    }
  }

  set(slot: number, column: NumericColumn, value: number): void {
    this[column][slot] = value;
    this.orders.get(column)?.touched(slot);
  }

  setTest(slot: number, test: boolean): void {
    this.flags[slot] = test ? this.flags[slot]! | FLAG_TEST : this.flags[slot]! & ~FLAG_TEST;
  }

  setOverrides(slot: number, patch: Overrides): void {
    const current = this.overrides.get(slot);
    this.overrides.set(slot, current ? { ...current, ...patch } : { ...patch });
  }

  remove(slot: number, at: number): void {
    this.flags[slot] = this.flags[slot]! | FLAG_DELETED;
    this.liveCount--;
    this.deletedAt.set(slot, at);
    for (const order of this.orders.values()) {
      order.removed(slot);
    }
  }

  /** Live slots sorted by (column, slot), built lazily and kept up to date. */
  order(column: NumericColumn): OrderIndex {
    let index = this.orders.get(column);
    if (!index) {
      index = new OrderIndex(this, column);
      this.orders.set(column, index);
    }
    index.ensure();
    return index;
  }

  private grow(capacity: number): void {
    const grow64 = (from: Float64Array) => {
      const to = new Float64Array(capacity);
      to.set(from.subarray(0, this.size));
      return to;
    };
    this.created = grow64(this.created);
    this.modified = grow64(this.modified);
    this.date = grow64(this.date);
    this.amount = grow64(this.amount);
    const flags = new Uint8Array(capacity);
    flags.set(this.flags.subarray(0, this.size));
    this.flags = flags;
  }
}

/**
 * Live slots ordered by one column, ties by slot (= by id). Updates that move a record to the end
 * (the common case: modified := now) are an O(1) append plus a tombstone; anything else marks the
 * index stale and it is re-sorted on the next query.
 */
export class OrderIndex {
  order = new Int32Array(0);
  length = 0;
  private positionOf = new Int32Array(0);
  private tombstones = 0;
  private built = false;
  private lastKey = Number.NEGATIVE_INFINITY;
  private lastSlot = -1;

  constructor(
    private readonly table: Table,
    readonly column: NumericColumn,
  ) {}

  keys(): Float64Array {
    return this.table.column(this.column);
  }

  invalidate(): void {
    this.built = false;
  }

  touched(slot: number): void {
    if (!this.built) {
      return;
    }
    const key = this.keys()[slot]!;
    this.drop(slot);
    if (!this.table.isLive(slot)) {
      return;
    }
    const appendable = key > this.lastKey || (key === this.lastKey && slot > this.lastSlot);
    this.reserveFor(slot);
    if (appendable) {
      this.order[this.length] = slot;
      this.positionOf[slot] = this.length;
      this.length++;
      this.lastKey = key;
      this.lastSlot = slot;
      return;
    }
    // Moved backwards (a late modification, a patched date): insert in place. Linear, but a
    // memmove over a typed array, far cheaper than re-sorting.
    this.compact();
    const keys = this.keys();
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sortsBefore(keys, this.order[mid]!, slot)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    this.order.copyWithin(lo + 1, lo, this.length);
    this.order[lo] = slot;
    this.length++;
    for (let position = lo; position < this.length; position++) {
      this.positionOf[this.order[position]!] = position;
    }
  }

  /** Room for one more entry and for `slot` in the position map. */
  private reserveFor(slot: number): void {
    if (this.length === this.order.length) {
      const bigger = new Int32Array(Math.max(16, this.order.length * 2));
      bigger.set(this.order);
      this.order = bigger;
    }
    if (slot >= this.positionOf.length) {
      const bigger = new Int32Array(Math.max(16, this.table.flags.length, slot + 1)).fill(-1);
      bigger.set(this.positionOf);
      this.positionOf = bigger;
    }
  }

  removed(slot: number): void {
    if (this.built) {
      this.drop(slot);
    }
  }

  /** Makes `order[0..length)` a dense, sorted list of live slots. */
  ensure(): void {
    if (!this.built) {
      this.rebuild();
    } else if (this.tombstones > 0) {
      this.compact();
    }
  }

  /** First position whose key is >= `key`. */
  lowerBound(key: number): number {
    const keys = this.keys();
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = keys[this.order[mid]!]!;
      // Keys without a value (NaN) sort first.
      if (k < key || k !== k) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /** First position whose key is > `key`. */
  upperBound(key: number): number {
    const keys = this.keys();
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = keys[this.order[mid]!]!;
      if (k <= key || k !== k) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  private drop(slot: number): void {
    if (slot < this.positionOf.length) {
      const position = this.positionOf[slot]!;
      if (position >= 0) {
        this.order[position] = -1;
        this.positionOf[slot] = -1;
        this.tombstones++;
      }
    }
  }

  private compact(): void {
    let write = 0;
    for (let read = 0; read < this.length; read++) {
      const slot = this.order[read]!;
      if (slot >= 0) {
        this.order[write] = slot;
        this.positionOf[slot] = write;
        write++;
      }
    }
    this.length = write;
    this.tombstones = 0;
  }

  private rebuild(): void {
    const table = this.table;
    const keys = this.keys();
    const slots = new Int32Array(table.liveCount);
    let n = 0;
    let sorted = true;
    let previous = Number.NEGATIVE_INFINITY;
    let hasNaN = false;
    for (let slot = 0; slot < table.size; slot++) {
      if (table.isLive(slot)) {
        const key = keys[slot]!;
        if (Number.isNaN(key)) {
          hasNaN = true;
        } else if (key < previous) {
          sorted = false;
        } else {
          previous = key;
        }
        slots[n++] = slot;
      }
    }
    if (hasNaN) {
      // Records without a value sort first, like nulls in an ascending SQL sort.
      slots.sort((a, b) => {
        const ka = keys[a]!;
        const kb = keys[b]!;
        const na = Number.isNaN(ka);
        const nb = Number.isNaN(kb);
        if (na || nb) {
          return na === nb ? a - b : na ? -1 : 1;
        }
        return ka - kb || a - b;
      });
    } else if (!sorted) {
      slots.sort((a, b) => keys[a]! - keys[b]! || a - b);
    }
    this.order = slots;
    this.length = n;
    this.positionOf = new Int32Array(Math.max(16, table.flags.length)).fill(-1);
    for (let position = 0; position < n; position++) {
      this.positionOf[slots[position]!] = position;
    }
    this.tombstones = 0;
    this.built = true;
    const last = n > 0 ? slots[n - 1]! : -1;
    this.lastKey = last >= 0 ? keys[last]! : Number.NEGATIVE_INFINITY;
    this.lastSlot = last;
    if (hasNaN) {
      // NaN keys break the append shortcut's comparisons; keep rebuilding on change.
      this.lastKey = Number.POSITIVE_INFINITY;
    }
  }
}

/** Index order: keys ascending with missing (NaN) keys first, ties by slot. */
function sortsBefore(keys: Float64Array, a: number, b: number): boolean {
  const ka = keys[a]!;
  const kb = keys[b]!;
  const na = ka !== ka;
  const nb = kb !== kb;
  if (na || nb) {
    return na === nb ? a < b : na;
  }
  return ka < kb || (ka === kb && a < b);
}

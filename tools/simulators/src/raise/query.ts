import {
  RAISE_MAX_TAKE,
  RAISE_OPERATORS,
  RAISE_PARAMETERS,
  type RaiseOperator,
  type RaiseResource,
} from '@raise-sync/sources';
import { OPEN_RANGE, type KeyRange, type ScanRequest, type SlotPredicate } from '../store/scan';
import { FLAG_TEST, type NumericColumn, type Table } from '../store/table';

/** A request the simulator refuses with 400; `field` is the body path at fault. */
export class QueryError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

type Key = 'id' | NumericColumn | 'test';

const OPERATORS = new Set<string>(Object.values(RAISE_OPERATORS));
const DEFAULT_TAKE = 100;

/** Which stored value a query parameter reads, per resource (undefined = not filterable there). */
function parameterKey(resource: RaiseResource, parameter: string): Key | undefined {
  switch (parameter) {
    case RAISE_PARAMETERS.id:
      return 'id';
    case RAISE_PARAMETERS.modified:
      return 'modified';
    case RAISE_PARAMETERS.created:
      return 'created';
    case RAISE_PARAMETERS.date:
      return resource === 'donor' ? undefined : 'date';
    case RAISE_PARAMETERS.isTestMode:
      return 'test';
    default:
      return undefined;
  }
}

/** Sort names accepted by `/query` (and the list endpoints), lower-cased. */
export function sortKey(resource: RaiseResource, sortBy: string): 'id' | NumericColumn | undefined {
  switch (sortBy.toLowerCase()) {
    case 'id':
      return 'id';
    case 'modifieddate':
    case 'modifieddatetime':
      return 'modified';
    case 'createdate':
    case 'createddate':
    case 'createddatetime':
      return 'created';
    case 'amount':
      return resource === 'gift' || resource === 'recurring_gift' ? 'amount' : undefined;
    case 'date':
      return resource === 'donor' ? undefined : 'date';
    default:
      return undefined;
  }
}

/** Date values without an offset are read as UTC, whatever the simulator's time zone. */
export function parseInstant(value: string): number {
  const text = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value) ? `${value}Z` : value;
  return Date.parse(text);
}

/** A JSON scalar as text; objects and arrays as their JSON. */
export function asText(raw: unknown): string {
  if (typeof raw === 'string') {
    return raw;
  }
  if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') {
    return String(raw);
  }
  return JSON.stringify(raw) ?? '';
}

function parseValue(key: Key, raw: unknown, field: string): number {
  if (raw === undefined || raw === null || raw === '') {
    throw new QueryError(`A value is required at ${field}.`, field);
  }
  const text = asText(raw).trim();
  let value: number;
  switch (key) {
    case 'id':
    case 'amount':
      value = Number(text);
      break;
    case 'test':
      value = /^(true|1)$/i.test(text) ? 1 : /^(false|0)$/i.test(text) ? 0 : Number.NaN;
      break;
    case 'created':
    case 'modified':
    case 'date':
      value = parseInstant(text);
      break;
  }
  if (!Number.isFinite(value)) {
    throw new QueryError(`'${text}' is not a valid value for ${field}.`, field);
  }
  return value;
}

function keyReader(table: Table, key: Key): (slot: number) => number {
  switch (key) {
    case 'id': {
      const base = table.idBase;
      return (slot) => base + slot;
    }
    case 'test': {
      const flags = table.flags;
      return (slot) => ((flags[slot]! & FLAG_TEST) !== 0 ? 1 : 0);
    }
    case 'created':
    case 'modified':
    case 'date':
    case 'amount': {
      const column = table.column(key);
      return (slot) => column[slot]!;
    }
  }
}

interface CompiledCondition {
  key: Key;
  operator: RaiseOperator;
  test: SlotPredicate;
  /** Bounds this condition puts on its key. */
  range: KeyRange;
  /** True when `range` says exactly what `test` says (integer-valued keys only). */
  exactRange: boolean;
}

export interface ParsedQuery {
  request: ScanRequest;
  includeDetails: boolean;
  sortBy: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function nonNegativeInt(value: unknown, field: string, fallback: number): number {
  if (value === undefined || value === null) {
    return fallback;
  }
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new QueryError(`${field} must be a non-negative integer.`, field);
  }
  return n;
}

/** Validates a `/query` body and turns it into a scan over `table`. */
export function parseQuery(resource: RaiseResource, table: Table, body: unknown): ParsedQuery {
  if (body === undefined || body === null) {
    body = {};
  }
  if (!isRecord(body)) {
    throw new QueryError('The request body must be a JSON object.', '$');
  }
  const skip = nonNegativeInt(body.skip, 'skip', 0);
  const take = Math.min(RAISE_MAX_TAKE, nonNegativeInt(body.take, 'take', DEFAULT_TAKE));
  const sortBy = body.sortBy === undefined || body.sortBy === null ? 'id' : asText(body.sortBy);
  const sort = sortKey(resource, sortBy);
  if (!sort) {
    throw new QueryError(`Unknown sortBy '${sortBy}'.`, 'sortBy');
  }
  const descending = body.descending === true || body.descending === 'true';
  const includeDetails = body.includeDetails === true || body.includeDetails === 'true';
  const groupsRaw = body.groups ?? [];
  if (!Array.isArray(groupsRaw)) {
    throw new QueryError('groups must be an array.', 'groups');
  }

  let predicate: SlotPredicate | null = null;
  let range: KeyRange = OPEN_RANGE;
  let exact = true;
  let onlyAnd = true;
  groupsRaw.forEach((groupRaw: unknown, g) => {
    const path = `groups[${g}]`;
    if (!isRecord(groupRaw)) {
      throw new QueryError(`${path} must be an object.`, path);
    }
    const conjunctRaw = groupRaw.conjunct;
    let conjunct: 'And' | 'Or' = 'Or';
    if (conjunctRaw !== undefined && conjunctRaw !== null) {
      const text = asText(conjunctRaw).toLowerCase();
      if (text !== 'and' && text !== 'or') {
        throw new QueryError(`Unknown conjunct '${asText(conjunctRaw)}'.`, `${path}.conjunct`);
      }
      conjunct = text === 'and' ? 'And' : 'Or';
    }
    const conditionsRaw = groupRaw.conditions ?? [];
    if (!Array.isArray(conditionsRaw)) {
      throw new QueryError(`${path}.conditions must be an array.`, `${path}.conditions`);
    }
    const conditions = conditionsRaw.map((raw: unknown, c) =>
      compileCondition(resource, table, sort, raw, `${path}.conditions[${c}]`),
    );
    const groupTest = allOf(conditions.map((condition) => condition.test));
    let groupRange = OPEN_RANGE;
    let groupExact = true;
    for (const condition of conditions) {
      if (condition.key === sort) {
        groupRange = intersect(groupRange, condition.range);
      }
      groupExact &&= condition.key === sort && condition.exactRange;
    }
    if (g === 0) {
      predicate = groupTest;
      range = groupRange;
      exact = groupExact;
      return;
    }
    const previous: SlotPredicate = predicate ?? (() => true);
    const current: SlotPredicate = groupTest ?? (() => true);
    if (conjunct === 'And') {
      predicate = (slot) => previous(slot) && current(slot);
      range = intersect(range, groupRange);
      exact &&= groupExact;
    } else {
      onlyAnd = false;
      predicate = (slot) => previous(slot) || current(slot);
      range = hull(range, groupRange);
    }
  });

  return {
    includeDetails,
    sortBy,
    request: {
      table,
      sort,
      descending,
      range,
      predicate: exact && onlyAnd ? null : predicate,
      skip,
      take,
    },
  };
}

function compileCondition(
  resource: RaiseResource,
  table: Table,
  sort: 'id' | NumericColumn,
  raw: unknown,
  path: string,
): CompiledCondition {
  if (!isRecord(raw)) {
    throw new QueryError(`${path} must be an object.`, path);
  }
  const parameter = typeof raw.parameter === 'string' ? raw.parameter.trim().toLowerCase() : '';
  const key = parameterKey(resource, parameter);
  if (!key) {
    throw new QueryError(
      `Unknown query parameter '${String(raw.parameter)}' for ${resource}.`,
      `${path}.parameter`,
    );
  }
  const operator = raw.operator;
  if (typeof operator !== 'string' || !OPERATORS.has(operator)) {
    throw new QueryError(`Unknown operator '${String(operator)}'.`, `${path}.operator`);
  }
  const read = keyReader(table, key);
  // Every stored key except amount holds integers (ids, whole milliseconds, 0/1).
  const integral = key !== 'amount';
  const op = operator as RaiseOperator;
  if (op === RAISE_OPERATORS.in) {
    const list = Array.isArray(raw.values) ? raw.values : undefined;
    if (!list || list.length === 0) {
      throw new QueryError(`The In operator needs a non-empty values list.`, `${path}.values`);
    }
    const values = list.map((v: unknown, i) => parseValue(key, v, `${path}.values[${i}]`));
    const set = new Set(values);
    return {
      key,
      operator: op,
      test: (slot) => set.has(read(slot)),
      range: { lo: Math.min(...values), hi: Math.max(...values) },
      exactRange: false,
    };
  }
  const value = parseValue(key, raw.value, `${path}.value`);
  const up = (v: number) => (integral ? Math.ceil(v) : v);
  const down = (v: number) => (integral ? Math.floor(v) : v);
  const plusOne = (v: number) => (integral ? Math.floor(v) + 1 : v);
  const minusOne = (v: number) => (integral ? Math.ceil(v) - 1 : v);
  const inf = Number.POSITIVE_INFINITY;
  const exactRange = integral && key === sort;
  switch (op) {
    case RAISE_OPERATORS.equals:
      return {
        key,
        operator: op,
        test: (s) => read(s) === value,
        range: { lo: value, hi: value },
        exactRange,
      };
    case RAISE_OPERATORS.greaterThan:
      return {
        key,
        operator: op,
        test: (s) => read(s) > value,
        range: { lo: plusOne(value), hi: inf },
        exactRange,
      };
    case RAISE_OPERATORS.greaterThanOrEqual:
      return {
        key,
        operator: op,
        test: (s) => read(s) >= value,
        range: { lo: up(value), hi: inf },
        exactRange,
      };
    case RAISE_OPERATORS.lessThan:
      return {
        key,
        operator: op,
        test: (s) => read(s) < value,
        range: { lo: -inf, hi: minusOne(value) },
        exactRange,
      };
    case RAISE_OPERATORS.lessThanOrEqual:
      return {
        key,
        operator: op,
        test: (s) => read(s) <= value,
        range: { lo: -inf, hi: down(value) },
        exactRange,
      };
    case RAISE_OPERATORS.between: {
      const second = parseValue(key, raw.secondaryValue, `${path}.secondaryValue`);
      return {
        key,
        operator: op,
        test: (s) => {
          const k = read(s);
          return k >= value && k <= second;
        },
        range: { lo: up(value), hi: down(second) },
        exactRange,
      };
    }
  }
}

function allOf(tests: SlotPredicate[]): SlotPredicate | null {
  switch (tests.length) {
    case 0:
      return null;
    case 1:
      return tests[0]!;
    case 2: {
      const [a, b] = tests as [SlotPredicate, SlotPredicate];
      return (slot) => a(slot) && b(slot);
    }
    case 3: {
      const [a, b, c] = tests as [SlotPredicate, SlotPredicate, SlotPredicate];
      return (slot) => a(slot) && b(slot) && c(slot);
    }
    default:
      return (slot) => tests.every((test) => test(slot));
  }
}

function intersect(a: KeyRange, b: KeyRange): KeyRange {
  return { lo: Math.max(a.lo, b.lo), hi: Math.min(a.hi, b.hi) };
}

function hull(a: KeyRange, b: KeyRange): KeyRange {
  return { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) };
}

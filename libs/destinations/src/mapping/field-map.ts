import type { Resource } from '@raise-sync/shared/events';
import { SOURCE_RESOURCES } from '@raise-sync/shared/events';

/**
 * Per-customer field mapping (`destinations.config.fieldMap`).
 *
 * A field map says, for each destination field (a dotted path into the request body, e.g.
 * `lastName`, `customFields.Raise Donor Id`, `merge_fields.PHONE`), where its value comes from:
 *
 * - a source path: a field of the Avro record (`firstName`, `amount`) or a path into the record's
 *   `raw` JSON, the source API's full model (`raw.primaryAddress.city`, `raw.projects.0.name`);
 * - `{ "value": <constant> }`: a fixed value (string, number, boolean);
 * - `null`: leave the field out (drops a default).
 *
 * `config.fieldMap` is keyed by resource; each entry is merged over the destination's defaults
 * (documented per destination in the README). Fields that identify the record at the destination
 * (keys, amounts) are protected: a map that tries to change them is a configuration error.
 */
export type FieldSource = string | null | { value: string | number | boolean };
export type FieldMap = Readonly<Record<string, FieldSource>>;
export type FieldMapConfig = Partial<Record<Resource, FieldMap>>;

const RESOURCES: readonly string[] = Object.values(SOURCE_RESOURCES).flat();
const PATH = /^[A-Za-z0-9_$][A-Za-z0-9_$ -]*(\.[A-Za-z0-9_$][A-Za-z0-9_$ -]*)*$/;
/** Object keys that must never be written through a mapped path. */
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

/** A destination's settings are wrong: every record would fail the same way until fixed. */
export class DestinationConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DestinationConfigError';
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkPath(path: string, what: string): void {
  if (!PATH.test(path) || path.split('.').some((segment) => FORBIDDEN_SEGMENTS.has(segment))) {
    throw new DestinationConfigError(`${what} "${path}" is not a dotted field path`);
  }
}

/**
 * Validates `config.fieldMap` (unknown JSON from the database) and returns it typed. Throws
 * DestinationConfigError naming the first bad entry; `protectedFields` lists destination fields
 * a map may not change.
 */
export function parseFieldMapConfig(
  value: unknown,
  protectedFields: Partial<Record<Resource, readonly string[]>> = {},
): FieldMapConfig {
  if (value === undefined || value === null) {
    return {};
  }
  if (!isPlainObject(value)) {
    throw new DestinationConfigError('fieldMap must be an object keyed by resource');
  }
  const result: FieldMapConfig = {};
  for (const [resource, entries] of Object.entries(value)) {
    if (!RESOURCES.includes(resource)) {
      throw new DestinationConfigError(`fieldMap has an unknown resource "${resource}"`);
    }
    if (!isPlainObject(entries)) {
      throw new DestinationConfigError(`fieldMap.${resource} must be an object`);
    }
    const map: Record<string, FieldSource> = {};
    for (const [target, source] of Object.entries(entries)) {
      checkPath(target, `fieldMap.${resource} destination field`);
      if (protectedFields[resource as Resource]?.includes(target)) {
        throw new DestinationConfigError(
          `fieldMap.${resource}.${target} cannot be mapped: the adapter sets it (record identity)`,
        );
      }
      if (source === null) {
        map[target] = null;
      } else if (typeof source === 'string') {
        checkPath(source, `fieldMap.${resource}.${target} source`);
        map[target] = source;
      } else if (
        isPlainObject(source) &&
        Object.keys(source).length === 1 &&
        ['string', 'number', 'boolean'].includes(typeof source.value)
      ) {
        map[target] = { value: source.value as string | number | boolean };
      } else {
        throw new DestinationConfigError(
          `fieldMap.${resource}.${target} must be a source path, null or { "value": <constant> }`,
        );
      }
    }
    result[resource as Resource] = map;
  }
  return result;
}

/** The record plus its `raw` JSON parsed once (lazily), for reading source paths. */
export interface SourceView {
  readonly record: Readonly<Record<string, unknown>>;
  raw(): unknown;
}

export function sourceView(record: object): SourceView {
  let parsed: { value: unknown } | undefined;
  const fields = record as Readonly<Record<string, unknown>>;
  return {
    record: fields,
    raw() {
      if (!parsed) {
        parsed = { value: parseRaw(fields.raw) };
      }
      return parsed.value;
    },
  };
}

/** The source model JSON of a record's `raw` field, or null when absent or not JSON. */
export function parseRaw(raw: unknown): unknown {
  if (typeof raw !== 'string' || raw === '') {
    return null;
  }
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return null;
  }
}

function walk(start: unknown, segments: readonly string[]): unknown {
  let current = start;
  for (const segment of segments) {
    if (Array.isArray(current) && /^\d+$/.test(segment)) {
      current = current[Number(segment)];
    } else if (isPlainObject(current) && Object.prototype.hasOwnProperty.call(current, segment)) {
      current = current[segment];
    } else {
      return undefined;
    }
  }
  return current;
}

/** Reads a source path (`field` or `raw.a.b.0.c`); undefined when any step is missing. */
export function readSourcePath(view: SourceView, path: string): unknown {
  const [head = '', ...rest] = path.split('.');
  if (head === 'raw' && rest.length > 0) {
    return walk(view.raw(), rest);
  }
  return walk(view.record, [head, ...rest]);
}

/** Sets a dotted path, creating plain objects on the way. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const segments = path.split('.');
  let current = target;
  for (const segment of segments.slice(0, -1)) {
    const next = current[segment];
    if (isPlainObject(next)) {
      current = next;
    } else {
      const created: Record<string, unknown> = {};
      current[segment] = created;
      current = created;
    }
  }
  current[segments[segments.length - 1] ?? ''] = value;
}

/** Removes a dotted path (and nothing else). */
export function deletePath(target: Record<string, unknown>, path: string): void {
  const segments = path.split('.');
  let current: unknown = target;
  for (const segment of segments.slice(0, -1)) {
    current = isPlainObject(current) ? current[segment] : undefined;
  }
  if (isPlainObject(current)) {
    delete current[segments[segments.length - 1] ?? ''];
  }
}

/** Dates become ISO strings; null/undefined/empty strings count as absent. */
function normalize(value: unknown): unknown {
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  }
  if (value === null || value === '') {
    return undefined;
  }
  return value;
}

export interface MappingSpec {
  /** Defaults: destination field → source. */
  defaults: FieldMap;
  /** Values computed by the adapter (tags, types); a field map may replace or drop them. */
  computed?: Readonly<Record<string, unknown>>;
  /** Identity fields, set last; a field map can never change them. */
  fixed?: Readonly<Record<string, unknown>>;
  /**
   * Send null for a top-level field whose source value is present and null (the source cleared
   * it: a gift's segment removed in Raise), so an update clears it at the destination too. A
   * path that is missing altogether still leaves the field out.
   */
  clearOnNull?: boolean;
}

/**
 * Builds a destination body from a record: computed values, then the defaults merged with the
 * customer's overrides (a source value that is absent leaves the field out, so a sparse record
 * never blanks a field at the destination, unless `clearOnNull` says a present null clears it),
 * then the fixed identity fields.
 */
export function mapFields(
  record: object,
  spec: MappingSpec,
  overrides: FieldMap | undefined,
): Record<string, unknown> {
  const view = sourceView(record);
  const body: Record<string, unknown> = {};
  for (const [target, value] of Object.entries(spec.computed ?? {})) {
    const normalized = normalize(value);
    if (normalized !== undefined) {
      setPath(body, target, normalized);
    }
  }
  const merged: Record<string, FieldSource> = { ...spec.defaults, ...overrides };
  for (const [target, source] of Object.entries(merged)) {
    if (source === null) {
      deletePath(body, target);
      continue;
    }
    const raw = typeof source === 'string' ? readSourcePath(view, source) : source.value;
    const value = normalize(raw);
    if (value === undefined && spec.clearOnNull && raw === null && !target.includes('.')) {
      body[target] = null;
    } else if (value === undefined) {
      deletePath(body, target);
    } else {
      setPath(body, target, value);
    }
  }
  for (const [target, value] of Object.entries(spec.fixed ?? {})) {
    setPath(body, target, normalize(value));
  }
  return body;
}

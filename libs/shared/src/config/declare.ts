/**
 * Configuration declared once per variable. A variable is a name in a section with its parser,
 * its default (or whether it is required), a description and whether its value is a secret; the
 * loader, the startup error, the docs tables and the manifest tests all read these declarations.
 * Nothing here reads process.env: the loader is handed the environment.
 */

/** One environment variable: how to read it, what it means, what it is when unset. */
export interface Variable<T> {
  readonly description: string;
  /** Unset (or empty) is a startup error. */
  readonly required: boolean;
  /** The value when unset: the default, or null for an optional variable without one. */
  readonly fallback: T;
  /** The default as an operator writes it (docs, manifests); undefined when there is none. */
  readonly defaultText: string | undefined;
  /** What the docs say happens when an optional variable without a default is unset. */
  readonly unsetText: string | undefined;
  /** The value is a credential or contains one: it comes from a Secret and is never logged. */
  readonly secret: boolean;
  /** What a valid value looks like, for the startup error ("an integer from 1 to 64"). */
  readonly expected: string;
  /** The value of a set variable, or undefined when the text is not valid. */
  parse(text: string): T | undefined;
}

type Presence<T> =
  | { default: T; required?: never; optional?: never }
  | { required: true; default?: never; optional?: never }
  | { optional: true; default?: never; required?: never };

type Described = {
  description: string;
  secret?: boolean;
  /** Docs text for an optional variable left unset ("admin API answers 503"). */
  whenUnset?: string;
};

type ValueOf<T, P> = P extends { optional: true } ? T | null : T;

/** Builds a variable from a parser and its presence rule (default, required or optional). */
export function variable<T, P extends Presence<T>>(
  expected: string,
  parse: (text: string) => T | undefined,
  options: Described & P,
  show: (value: T) => string = String,
): Variable<ValueOf<T, P>> {
  const hasDefault = options.default !== undefined;
  return {
    description: options.description,
    required: options.required === true,
    fallback: (hasDefault ? options.default : null) as ValueOf<T, P>,
    defaultText: hasDefault ? show(options.default as T) : undefined,
    unsetText: options.whenUnset,
    secret: options.secret === true,
    expected,
    parse,
  };
}

/** A whole number within [min, max]. */
export function integer<P extends Presence<number>>(
  options: Described & P & { min: number; max: number },
): Variable<ValueOf<number, P>> {
  const { min, max } = options;
  return variable(
    `an integer from ${min} to ${max}`,
    (text) => {
      const value = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
      return Number.isSafeInteger(value) && value >= min && value <= max ? value : undefined;
    },
    options,
  );
}

/** A decimal number within [min, max]. */
export function decimal<P extends Presence<number>>(
  options: Described & P & { min: number; max: number },
): Variable<ValueOf<number, P>> {
  const { min, max } = options;
  return variable(
    `a number from ${min} to ${max}`,
    (text) => {
      const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
      return value >= min && value <= max ? value : undefined;
    },
    options,
  );
}

/** Text matching a pattern; `expected` says in words what the pattern allows. */
export function text<P extends Presence<string>>(
  options: Described & P & { pattern: RegExp; expected: string },
): Variable<ValueOf<string, P>> {
  const { pattern } = options;
  return variable(options.expected, (value) => (pattern.test(value) ? value : undefined), options);
}

/** One of a fixed list of words. */
export function oneOf<const V extends string, P extends Presence<V>>(
  values: readonly V[],
  options: Described & P,
): Variable<ValueOf<V, P>> {
  const expected = `one of ${values.join(', ')}`;
  return variable(
    expected,
    (value) => (values.includes(value as V) ? (value as V) : undefined),
    options,
  );
}

/** An http(s) URL, without trailing slashes. */
export function httpUrl<P extends Presence<string>>(
  options: Described & P,
): Variable<ValueOf<string, P>> {
  return variable(
    'an http(s) URL',
    (value) => {
      if (!/^https?:\/\/[^\s/?#]+\S*$/.test(value)) {
        return undefined;
      }
      try {
        return new URL(value).host === '' ? undefined : value.replace(/\/+$/, '');
      } catch {
        return undefined;
      }
    },
    options,
  );
}

/** 1 or 0; unset is false. */
export function flag(options: Described): Variable<boolean> {
  return variable(
    '0 or 1',
    (value) => (value === '1' ? true : value === '0' ? false : undefined),
    {
      ...options,
      default: false,
    },
    (value) => (value ? '1' : '0'),
  );
}

export type Variables = Readonly<Record<string, Variable<unknown>>>;

/** The parsed values of a section's variables, by variable name. */
export type ValuesOf<V extends Variables> = { readonly [K in keyof V]: V[K]['fallback'] };

/** Any section, as the loader and the docs take them. */
export interface AnyConfigSection {
  readonly owner: string;
  readonly variables: Variables;
  readonly check?: (values: never) => string[];
  readonly build: (values: never) => object;
}

/** The variables one owner declares, and the part of the config object it builds from them. */
export interface ConfigSection<V extends Variables = Variables, R extends object = object> {
  /** Where the variables are declared and used (docs: "libs/shared", "apps/ingest"). */
  readonly owner: string;
  readonly variables: V;
  /** Rules between variables, run once each one is valid on its own; returns problems. */
  readonly check?: (values: ValuesOf<V>) => string[];
  readonly build: (values: ValuesOf<V>) => R;
}

/** Declares a section; the identity function that gives it its types. */
export function configSection<V extends Variables, R extends object>(
  section: ConfigSection<V, R>,
): ConfigSection<V, R> {
  return section;
}

/** The config object part one section builds. */
export type SectionConfig<S> = S extends { build: (values: never) => infer R } ? R : never;

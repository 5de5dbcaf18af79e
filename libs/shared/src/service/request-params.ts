import {
  BadRequestException,
  Param,
  Query,
  type ArgumentMetadata,
  type PipeTransform,
} from '@nestjs/common';

/**
 * Path and query values of the admin and console APIs, validated before a handler runs: a
 * malformed value is a 400 naming the parameter, so nothing malformed reaches PostgreSQL (where a
 * non-UUID, a NUL byte or `NaN` would fail the query and answer 500). A well-formed value that
 * names nothing is the handler's 404.
 *
 *   @Param('id', UuidPipe)            or  @UuidParam('id')
 *   @Query('limit', new IntPipe({ min: 1, max: 500 }))  or  @IntQuery('limit', { min: 1, max: 500 })
 */

/** What a UUID looks like in a path, a query or a body (for class-validator's `@Matches`). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const KIND: Record<ArgumentMetadata['type'], string> = {
  query: 'query parameter',
  param: 'path parameter',
  body: 'field',
  custom: 'value',
};
const nameOf = (metadata: ArgumentMetadata): string =>
  `${KIND[metadata.type]} ${metadata.data ?? 'value'}`;

/** Absent from the query (or `?name=`): the handler's default applies. */
const isAbsent = (value: unknown): value is undefined | '' => value === undefined || value === '';

/** True for the IDs of our tables (PostgreSQL uuid columns). */
export const isUuid = (value: unknown): value is string =>
  typeof value === 'string' && UUID_PATTERN.test(value);

/** A UUID (lower-cased, as PostgreSQL returns them); optional ones may be absent. */
export class UuidPipe implements PipeTransform<unknown, string | undefined> {
  constructor(private readonly options: { optional?: boolean } = {}) {}

  transform(value: unknown, metadata: ArgumentMetadata): string | undefined {
    if (this.options.optional && isAbsent(value)) {
      return undefined;
    }
    if (!isUuid(value)) {
      throw new BadRequestException(`${nameOf(metadata)} must be a UUID`);
    }
    return value.toLowerCase();
  }
}

export interface IntOptions {
  min: number;
  max: number;
  /** Used when the value is absent; without one an absent value is a 400. */
  fallback?: number;
  /** Absent is allowed and gives undefined (the handler decides). */
  optional?: boolean;
}

/** A decimal integer within [min, max]: no `abc`, `1.5`, `1e3`, `0x10`, `NaN` or huge numbers. */
export class IntPipe implements PipeTransform<unknown, number | undefined> {
  constructor(private readonly options: IntOptions) {}

  transform(value: unknown, metadata: ArgumentMetadata): number | undefined {
    const { min, max, fallback, optional } = this.options;
    if (isAbsent(value) && (fallback !== undefined || optional)) {
      return fallback;
    }
    // A global ValidationPipe with `transform` may already have turned the text into a number
    // (NaN for `abc`): take integers either way.
    const n =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^-?\d{1,16}$/.test(value)
          ? Number(value)
          : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new BadRequestException(
        `${nameOf(metadata)} must be an integer between ${min} and ${max}`,
      );
    }
    return n;
  }
}

/** Free text (a source record ID, a reason): no control characters or NUL bytes, bounded length. */
export class TextPipe implements PipeTransform<unknown, string | undefined> {
  constructor(private readonly options: { maxLength?: number; optional?: boolean } = {}) {}

  transform(value: unknown, metadata: ArgumentMetadata): string | undefined {
    const maxLength = this.options.maxLength ?? 200;
    if (this.options.optional && isAbsent(value)) {
      return undefined;
    }
    if (typeof value !== 'string' || value.trim() === '') {
      throw new BadRequestException(`${nameOf(metadata)} must be a non-empty text`);
    }
    if (value.length > maxLength || CONTROL.test(value)) {
      throw new BadRequestException(
        `${nameOf(metadata)} must be at most ${maxLength} characters without control characters`,
      );
    }
    return value;
  }
}

/** One of a fixed set of words (a status, a kind, a resource). */
export class OneOfPipe<T extends string> implements PipeTransform<unknown, T | undefined> {
  constructor(
    private readonly values: readonly T[],
    private readonly options: { optional?: boolean } = {},
  ) {}

  transform(value: unknown, metadata: ArgumentMetadata): T | undefined {
    if (this.options.optional && isAbsent(value)) {
      return undefined;
    }
    if (typeof value !== 'string' || !(this.values as readonly string[]).includes(value)) {
      throw new BadRequestException(`${nameOf(metadata)} must be one of ${this.values.join(', ')}`);
    }
    return value as T;
  }
}

/** `@UuidParam('id')`: a path parameter that must be a UUID. */
export const UuidParam = (name: string): ParameterDecorator => Param(name, new UuidPipe());
/** `@UuidQuery('customerId')`: an optional query filter that must be a UUID when given. */
export const UuidQuery = (name: string): ParameterDecorator =>
  Query(name, new UuidPipe({ optional: true }));
/** `@TextParam('sourceId')`: free text in the path. */
export const TextParam = (name: string, maxLength?: number): ParameterDecorator =>
  Param(name, new TextPipe({ maxLength }));
/** `@TextQuery('reason')`: optional free text in the query. */
export const TextQuery = (name: string, maxLength?: number): ParameterDecorator =>
  Query(name, new TextPipe({ maxLength, optional: true }));
/** `@IntQuery('limit', { min: 1, max: 500, fallback: 20 })`. */
export const IntQuery = (name: string, options: IntOptions): ParameterDecorator =>
  Query(name, new IntPipe(options));
/** `@IntParam('donorId', { min: 1, max: 2 ** 31 - 1 })`. */
export const IntParam = (name: string, options: Omit<IntOptions, 'fallback' | 'optional'>) =>
  Param(name, new IntPipe(options));
/** `@OneOfParam('source', ['raise', 'vomo'])`. */
export const OneOfParam = <T extends string>(name: string, values: readonly T[]) =>
  Param(name, new OneOfPipe(values));
/** `@OneOfQuery('status', ['open', 'retried'])`: optional. */
export const OneOfQuery = <T extends string>(name: string, values: readonly T[]) =>
  Query(name, new OneOfPipe(values, { optional: true }));

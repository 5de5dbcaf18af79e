import { BadRequestException, type ArgumentMetadata } from '@nestjs/common';
import { IntPipe, OneOfPipe, TextPipe, UuidPipe } from './request-params';

const query = (data: string): ArgumentMetadata => ({ type: 'query', data });
const param = (data: string): ArgumentMetadata => ({ type: 'param', data });

describe('request parameter pipes', () => {
  it('UuidPipe takes UUIDs (lower-cased) and refuses anything else with a 400 naming the parameter', () => {
    const pipe = new UuidPipe();
    expect(pipe.transform('0F8FAD5B-D9CB-469F-A165-70867728950E', param('id'))).toBe(
      '0f8fad5b-d9cb-469f-a165-70867728950e',
    );
    for (const bad of [
      'not-a-uuid',
      '\u0000',
      '0f8fad5b-d9cb-469f-a165-70867728950e\u0000',
      '0f8fad5b-d9cb-469f-a165-70867728950g',
      '',
      undefined,
      ['0f8fad5b-d9cb-469f-a165-70867728950e'],
      42,
    ]) {
      expect(() => pipe.transform(bad, param('id'))).toThrow(
        new BadRequestException('path parameter id must be a UUID'),
      );
    }
    expect(new UuidPipe({ optional: true }).transform(undefined, query('customerId'))).toBe(
      undefined,
    );
    expect(new UuidPipe({ optional: true }).transform('', query('customerId'))).toBe(undefined);
  });

  it('IntPipe takes decimal integers in range, and numbers a global ValidationPipe made', () => {
    const pipe = new IntPipe({ min: 1, max: 500, fallback: 20 });
    expect(pipe.transform('7', query('limit'))).toBe(7);
    expect(pipe.transform(7, query('limit'))).toBe(7);
    expect(pipe.transform(undefined, query('limit'))).toBe(20);
    expect(pipe.transform('', query('limit'))).toBe(20);
    for (const bad of [
      'abc',
      '-1',
      '0',
      '501',
      '1.5',
      '1e3',
      '0x10',
      ' 7',
      'NaN',
      '99999999999999999999',
      NaN,
      1.5,
      ['1', '2'],
    ]) {
      expect(() => pipe.transform(bad, query('limit'))).toThrow(
        'query parameter limit must be an integer between 1 and 500',
      );
    }
    expect(() => new IntPipe({ min: 0, max: 9 }).transform(undefined, query('offset'))).toThrow(
      BadRequestException,
    );
    expect(new IntPipe({ min: 0, max: 9, optional: true }).transform('', query('offset'))).toBe(
      undefined,
    );
  });

  it('TextPipe refuses control characters, NUL bytes, blanks and overlong text', () => {
    const pipe = new TextPipe({ maxLength: 10 });
    expect(pipe.transform('12345', param('sourceId'))).toBe('12345');
    for (const bad of ['a\u0000b', 'a\nb', '   ', '', 'x'.repeat(11), ['a'], undefined]) {
      expect(() => pipe.transform(bad, param('sourceId'))).toThrow(BadRequestException);
    }
    expect(new TextPipe({ optional: true }).transform(undefined, query('reason'))).toBe(undefined);
  });

  it('OneOfPipe takes only its words', () => {
    const pipe = new OneOfPipe(['open', 'retried'] as const, { optional: true });
    expect(pipe.transform('open', query('status'))).toBe('open');
    expect(pipe.transform(undefined, query('status'))).toBe(undefined);
    for (const bad of ['OPEN', 'open\u0000', ['open'], 'closed']) {
      expect(() => pipe.transform(bad, query('status'))).toThrow(
        'query parameter status must be one of open, retried',
      );
    }
  });
});

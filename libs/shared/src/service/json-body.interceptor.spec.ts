import { PassThrough } from 'node:stream';
import {
  BadRequestException,
  PayloadTooLargeException,
  type CallHandler,
  type ExecutionContext,
} from '@nestjs/common';
import { lastValueFrom, of } from 'rxjs';
import { JSON_BODY_LIMIT, JsonBodyInterceptor } from './json-body.interceptor';

interface FakeRequest extends PassThrough {
  method: string;
  headers: Record<string, string>;
  body?: unknown;
  complete: boolean;
  res: {
    headersSent: boolean;
    headers: Record<string, string>;
    setHeader(k: string, v: string): void;
  };
}

function request(
  method: string,
  chunks: string[],
  headers: Record<string, string> = {},
): FakeRequest {
  const req = new PassThrough() as FakeRequest;
  req.method = method;
  req.headers = headers;
  req.complete = false;
  const res: FakeRequest['res'] = {
    headersSent: false,
    headers: {},
    setHeader(k, v) {
      res.headers[k] = v;
    },
  };
  req.res = res;
  for (const chunk of chunks) {
    req.write(chunk);
  }
  req.end();
  return req;
}

const contextOf = (req: FakeRequest): ExecutionContext =>
  ({ switchToHttp: () => ({ getRequest: () => req }) }) as unknown as ExecutionContext;

const next: CallHandler = { handle: () => of('handled') };

async function run(req: FakeRequest): Promise<unknown> {
  return lastValueFrom(await new JsonBodyInterceptor().intercept(contextOf(req), next));
}

describe(JsonBodyInterceptor.name, () => {
  it('parses a JSON body, and an empty one as {}', async () => {
    const req = request('POST', ['{"a":', '[1,"x"]}']);
    expect(await run(req)).toBe('handled');
    expect(req.body).toEqual({ a: [1, 'x'] });
    const empty = request('PUT', []);
    await run(empty);
    expect(empty.body).toEqual({});
  });

  it('leaves GET requests and bodies someone else parsed alone', async () => {
    const get = request('GET', ['{"not":"read"}']);
    await run(get);
    expect(get.body).toBeUndefined();
    const parsed = request('POST', ['ignored']);
    parsed.body = { already: true };
    await run(parsed);
    expect(parsed.body).toEqual({ already: true });
  });

  it('answers 400 for malformed JSON and for NUL characters anywhere in it', async () => {
    await expect(run(request('POST', ['{"not json']))).rejects.toThrow(BadRequestException);
    await expect(run(request('POST', [JSON.stringify({ a: { b: ['x\u0000'] } })]))).rejects.toThrow(
      'request body must not contain NUL characters',
    );
    await expect(run(request('POST', [JSON.stringify({ 'k\u0000': 1 })]))).rejects.toThrow(
      BadRequestException,
    );
  });

  it('answers 413 past the limit, declared or streamed, and closes the connection after', async () => {
    const declared = request('POST', [], { 'content-length': String(JSON_BODY_LIMIT + 1) });
    await expect(run(declared)).rejects.toThrow(PayloadTooLargeException);
    expect(declared.res.headers['connection']).toBe('close');
    const streamed = request('POST', ['x'.repeat(JSON_BODY_LIMIT), 'yy']);
    await expect(run(streamed)).rejects.toThrow(PayloadTooLargeException);
  });
});

import { DestinationUnavailableError, RecordRejectedError } from '@raise-sync/shared';
import { type FakeDestination, startFakeDestination } from '../../test/fixtures';
import { DestinationHttp, describeErrorBody, parseRetryAfterMs } from './destination-http';

const TOKEN = 'sk-live-0123456789abcdef';

describe(DestinationHttp.name, () => {
  let server: FakeDestination;
  const http = new DestinationHttp({ timeoutMs: 200 });
  const call = (path = '/things') =>
    http.request({
      destination: 'Test',
      method: 'POST',
      url: `${server.url}${path}`,
      route: 'POST /things',
      token: TOKEN,
      body: { a: 1 },
    });

  beforeEach(async () => {
    server = await startFakeDestination();
  });
  afterEach(async () => {
    await server.close();
  });

  it('sends JSON with the bearer token and returns the parsed body', async () => {
    server.respond(() => ({ status: 201, body: { id: 7 } }));
    await expect(call()).resolves.toMatchObject({ status: 201, body: { id: 7 } });
    const [request] = server.requests;
    expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.json()).toEqual({ a: 1 });
  });

  it('classifies 503 as unavailable, keeping Retry-After', async () => {
    server.respond(() => ({
      status: 503,
      headers: { 'retry-after': '2' },
      body: { error: { code: 'SERVICE_UNAVAILABLE', message: 'down' } },
    }));
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationUnavailableError);
    expect((error as DestinationUnavailableError).retryAfterMs).toBe(2000);
    expect((error as Error).message).toMatch(/HTTP 503: SERVICE_UNAVAILABLE: down/);
  });

  it('classifies 429 as pacing (a wait, not a failure) with retryAfterMs from Retry-After', async () => {
    server.respond(() => ({ status: 429, headers: { 'retry-after': '7' }, body: {} }));
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationUnavailableError);
    expect((error as DestinationUnavailableError).retryAfterMs).toBe(7000);
    expect((error as DestinationUnavailableError).pacing).toBe(true);
    server.respond(() => ({ status: 503, headers: { 'retry-after': '7' }, body: {} }));
    const down = await call().catch((e: unknown) => e);
    expect((down as DestinationUnavailableError).pacing).toBe(false);
  });

  it('classifies 422 as a rejection quoting the destination detail', async () => {
    server.respond(() => ({
      status: 422,
      body: {
        error: {
          code: 'VALIDATION_FAILED',
          message: 'email is required.',
          details: [{ field: 'email', code: 'REQUIRED', message: 'email is required.' }],
        },
      },
    }));
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordRejectedError);
    expect((error as Error).message).toContain('HTTP 422');
    expect((error as Error).message).toContain('email: REQUIRED email is required.');
  });

  it('classifies 401 and 403 as unavailable ("credentials rejected"), not as the record', async () => {
    server.respond(() => ({
      status: 401,
      body: 'Authorization has been denied for this request.',
    }));
    await expect(call()).rejects.toThrow(DestinationUnavailableError);
    await expect(call()).rejects.toThrow(/credentials rejected/);
    server.respond(() => ({ status: 403, body: '' }));
    await expect(call()).rejects.toThrow(/credentials rejected/);
  });

  it('turns a timeout into unavailable', async () => {
    server.respond(() => ({ status: 200, body: {}, delayMs: 1000 }));
    await expect(call()).rejects.toThrow(/timed out after 200 ms/);
    await expect(call()).rejects.toThrow(DestinationUnavailableError);
  });

  it('turns a refused connection into unavailable', async () => {
    const url = server.url;
    await server.close();
    const error = await http
      .request({ destination: 'Test', method: 'GET', url, route: 'GET /' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationUnavailableError);
    expect((error as Error).message).toMatch(/network error ECONNREFUSED/);
    server = await startFakeDestination();
  });

  it('never puts the token or a secret in a message, even when the destination echoes them', async () => {
    server.respond((req) => ({
      status: 400,
      body: {
        title: 'Bad',
        detail: `token ${req.headers.authorization ?? ''} secret sig-secret-99`,
      },
    }));
    const error = await http
      .request({
        destination: 'Test',
        method: 'POST',
        url: server.url,
        route: 'POST /',
        token: TOKEN,
        secrets: ['sig-secret-99'],
        body: {},
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordRejectedError);
    expect((error as Error).message).not.toContain(TOKEN);
    expect((error as Error).message).not.toContain('sig-secret-99');
    expect((error as Error).message).toContain('[redacted]');
  });

  it('scrubs the query values of the destination URL from an echoed error (partner webhook keys)', async () => {
    server.respond((req) => ({
      status: 404,
      body: { message: `Cannot POST ${req.url ?? ''}` },
    }));
    const error = await http
      .request({
        destination: 'Webhook',
        method: 'POST',
        url: `${server.url}/hooks/in?api_key=partner-key-77&v=2`,
        route: 'POST <webhook url>',
        body: {},
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordRejectedError);
    expect((error as Error).message).toContain('Cannot POST /hooks/in?api_key=[redacted]&v=2');
    expect((error as Error).message).not.toContain('partner-key-77');
  });

  it('hands back accepted non-2xx statuses and refuses redirects', async () => {
    server.respond(() => ({ status: 404, body: { error: 'not_found' } }));
    await expect(
      http.request({
        destination: 'Test',
        method: 'GET',
        url: server.url,
        route: 'GET /',
        acceptStatuses: [404],
      }),
    ).resolves.toMatchObject({ status: 404 });
    server.respond(() => ({ status: 302, headers: { location: 'http://elsewhere.invalid/' } }));
    await expect(call()).rejects.toThrow(/redirect/);
  });
});

describe('describeErrorBody', () => {
  it.each([
    [
      '{"error":"validation","details":[{"field":"currency","message":"currency is required."}]}',
      'validation: currency: currency is required.',
    ],
    [
      '{"title":"Invalid Resource","detail":"Please provide a valid email address."}',
      'Invalid Resource: Please provide a valid email address.',
    ],
    [
      '{"message":"The given data was invalid.","errors":{"email":["taken"]}}',
      'The given data was invalid.: {"email":["taken"]}',
    ],
    ['plain words', 'plain words'],
    ['', undefined],
  ])('%s', (text, expected) => {
    expect(describeErrorBody(text)).toBe(expected);
  });
});

describe('parseRetryAfterMs', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfterMs('3', 0)).toBe(3000);
    expect(parseRetryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfterMs('soon', 0)).toBeUndefined();
    expect(parseRetryAfterMs(null, 0)).toBeUndefined();
  });
});

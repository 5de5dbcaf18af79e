import { createServer } from 'node:net';
import {
  parseRetryAfterMs,
  SourceHttpClient,
  type SourceHttpClientOptions,
  type SourceRequest,
  type SourceRequestInfo,
} from './http-client';
import { RateBudgets } from './rate-budget';
import { SourceAuthError, SourceRequestError, SourceUnavailableError } from './source-errors';
import { startLocalServer, type Handler, type LocalServer } from '@raise-sync/testing/fixtures';

const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.sig';

/** Generous budgets so only the behaviour under test waits. */
const fastBudgets = (): RateBudgets =>
  new RateBudgets({
    rates: {
      raise: { requestsPerSecond: 1000, burst: 1000 },
      vomo: { requestsPerSecond: 1000, burst: 1000 },
    },
  });

describe(SourceHttpClient.name, () => {
  let server: LocalServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function setUp(handler: Handler, options: Partial<SourceHttpClientOptions> = {}) {
    server = await startLocalServer(handler);
    const seen: SourceRequestInfo[] = [];
    const budgets = options.budgets ?? fastBudgets();
    const client = new SourceHttpClient({
      budgets,
      backoffBaseMs: 1,
      backoffCapMs: 5,
      observer: { onRequest: (info) => seen.push(info) },
      ...options,
    });
    const url = server.url;
    const request = (overrides: Partial<SourceRequest> = {}) =>
      client.request({
        customerId: 'c1',
        api: 'raise',
        token: TOKEN,
        method: 'POST',
        url: `${url}/api/Gift/query`,
        route: '/api/Gift/query',
        body: { take: 1 },
        idempotent: true,
        ...overrides,
      });
    return { server, client, budgets, seen, request };
  }

  /** Answers with `replies` in turn, then repeats the last one. */
  const sequence =
    (...replies: Array<ReturnType<Handler>>): Handler =>
    () =>
      replies.length > 1 ? (replies.shift() as ReturnType<Handler>) : replies[0]!;

  it('sends the bearer token and JSON, and returns the parsed body', async () => {
    const { server, request, seen } = await setUp(() => ({ body: { items: [], total: 0 } }));
    const response = await request();

    expect(response).toEqual(
      expect.objectContaining({ status: 200, body: { items: [], total: 0 } }),
    );
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toEqual(
      expect.objectContaining({
        method: 'POST',
        path: '/api/Gift/query',
        body: { take: 1 },
        headers: expect.objectContaining({
          authorization: `Bearer ${TOKEN}`,
          accept: 'application/json',
          'content-type': 'application/json',
        }) as unknown,
      }),
    );
    expect(seen).toEqual([
      expect.objectContaining({
        customerId: 'c1',
        api: 'raise',
        method: 'POST',
        route: '/api/Gift/query',
        status: 200,
        outcome: 'ok',
        attempt: 1,
      }),
    ]);
  });

  it('retries 5xx with backoff and returns the first success', async () => {
    const { server, request, seen } = await setUp(
      sequence({ status: 503 }, { status: 500 }, { body: { ok: true } }),
    );
    const response = await request();

    expect(response.body).toEqual({ ok: true });
    expect(server.requests).toHaveLength(3);
    expect(seen.map((s) => [s.attempt, s.status, s.outcome])).toEqual([
      [1, 503, 'server_error'],
      [2, 500, 'server_error'],
      [3, 200, 'ok'],
    ]);
  });

  it('gives up after the bounded retries with SourceUnavailableError', async () => {
    const { server, request } = await setUp(() => ({ status: 502 }), { maxRetries: 2 });
    const error = await request().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SourceUnavailableError);
    expect(error).toMatchObject({ retriable: true, reason: 'source_unavailable' });
    expect((error as Error).message).toMatch(/after 3 attempts.*HTTP 502/);
    expect(server.requests).toHaveLength(3);
  });

  it('throws SourceAuthError on 401 and 403 without retrying, and reports it', async () => {
    for (const status of [401, 403]) {
      const authFailures: unknown[] = [];
      const { server, request } = await setUp(
        () => ({ status, body: { title: 'Unauthorized', detail: `bad token ${TOKEN}` } }),
        { observer: { onAuthFailure: (info) => authFailures.push(info) } },
      );
      const error = await request().catch((e: unknown) => e);

      expect(error).toBeInstanceOf(SourceAuthError);
      expect(error).toMatchObject({
        retriable: false,
        reason: 'source_auth',
        status,
        customerId: 'c1',
        api: 'raise',
      });
      expect((error as Error).message).not.toContain(TOKEN);
      expect(server.requests).toHaveLength(1);
      expect(authFailures).toEqual([{ customerId: 'c1', api: 'raise', status }]);
      await server.close();
    }
    server = undefined;
  });

  it('throws SourceRequestError with the ProblemDetails on 422, without retrying', async () => {
    const { server, request } = await setUp(() => ({
      status: 422,
      body: {
        title: 'Validation failed',
        status: 422,
        detail: `take must be positive (token was ${TOKEN})`,
        errors: { take: ['must be positive'] },
      },
    }));
    const error = await request().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SourceRequestError);
    expect(error).toMatchObject({
      retriable: false,
      reason: 'source_rejected',
      status: 422,
      problem: {
        title: 'Validation failed',
        detail: 'take must be positive (token was [redacted])',
        errors: { take: ['must be positive'] },
      },
    });
    expect((error as Error).message).toContain('HTTP 422: Validation failed');
    expect((error as Error).message).not.toContain(TOKEN);
    expect(server.requests).toHaveLength(1);
  });

  it('scrubs query values of the request URL from an echoed problem, errors included', async () => {
    const { server, request } = await setUp((req) => ({
      status: 400,
      body: {
        title: `Bad request ${req.path}`,
        errors: { [`key-query-secret-5`]: [`unknown query ${req.path}`] },
      },
    }));
    const error = await request({
      url: `${server.url}/api/Gift/query?key=query-secret-5`,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceRequestError);
    expect(JSON.stringify((error as SourceRequestError).problem)).not.toContain('query-secret-5');
    expect((error as Error).message).toContain('Bad request /api/Gift/query?key=[redacted]');
  });

  it('reads a Laravel-style {message} 4xx body as the problem title', async () => {
    const { request } = await setUp(() => ({ status: 404, body: { message: 'No such user.' } }));
    await expect(request()).rejects.toMatchObject({
      status: 404,
      problem: { title: 'No such user.' },
    });
  });

  it('hands back statuses the caller accepts, such as 404 for a lookup', async () => {
    const { request } = await setUp(() => ({ status: 404, body: { title: 'Not Found' } }));
    const response = await request({ method: 'GET', acceptStatuses: [404], body: undefined });
    expect(response.status).toBe(404);
  });

  it('retries an attempt that times out', async () => {
    const { server, request, seen } = await setUp(
      sequence({ delayMs: 2000, body: { slow: true } }, { body: { fast: true } }),
      { timeoutMs: 150 },
    );
    const response = await request();

    expect(response.body).toEqual({ fast: true });
    expect(server.requests).toHaveLength(2);
    expect(seen.map((s) => s.outcome)).toEqual(['timeout', 'ok']);
    expect(seen[0]?.status).toBe(0);
  });

  it('honours Retry-After on 429 through the budget, without counting it as an error', async () => {
    const rateLimited: unknown[] = [];
    const { server, request, budgets } = await setUp(
      sequence(
        { status: 429, headers: { 'retry-after': '1' } },
        { status: 429, headers: { 'retry-after': '0' } },
        { body: { ok: true } },
      ),
      { maxRetries: 0, observer: { onRateLimited: (info) => rateLimited.push(info) } },
    );
    const started = Date.now();
    const response = await request();

    expect(response.body).toEqual({ ok: true });
    expect(server.requests).toHaveLength(3);
    const [first, second] = server.requests;
    expect(second!.receivedAtMs - first!.receivedAtMs).toBeGreaterThanOrEqual(950);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(rateLimited).toEqual([
      { customerId: 'c1', api: 'raise', retryAfterMs: 1000 },
      { customerId: 'c1', api: 'raise', retryAfterMs: 0 },
    ]);
    expect(budgets.snapshot().totals.raise.pauses).toBe(2);
  });

  it("pauses every caller of the rate-limited customer, and no other customer's", async () => {
    let limited = false;
    let onLimited: () => void = () => undefined;
    const limitedSeen = new Promise<void>((resolve) => (onLimited = resolve));
    const { request, budgets } = await setUp(
      ({ path }) => {
        if (path.endsWith('caller=a1') && !limited) {
          limited = true;
          return { status: 429, headers: { 'retry-after': '1' } };
        }
        return { body: { ok: true } };
      },
      { observer: { onRateLimited: () => onLimited() } },
    );
    const timed = async (caller: string, customerId: string): Promise<number> => {
      const started = Date.now();
      await request({ customerId, url: `${server!.url}/api/Gift/query?caller=${caller}` });
      return Date.now() - started;
    };

    const a1 = timed('a1', 'customer-a');
    await limitedSeen;
    const [a2, b1] = await Promise.all([timed('a2', 'customer-a'), timed('b1', 'customer-b')]);

    expect(b1).toBeLessThan(300);
    expect(a2).toBeGreaterThanOrEqual(800);
    expect(await a1).toBeGreaterThanOrEqual(950);
    expect(budgets.pausedUntil('customer-b', 'raise')).toBeNull();
  });

  it('gives up after the bounded 429 retries', async () => {
    const { server, request } = await setUp(
      () => ({ status: 429, headers: { 'retry-after': '0' } }),
      { maxRateLimitRetries: 2 },
    );
    await expect(request()).rejects.toBeInstanceOf(SourceUnavailableError);
    expect(server.requests).toHaveLength(3);
  });

  it('does not wait out a long Retry-After inside the request: pauses and reports it', async () => {
    const { server, request, budgets } = await setUp(() => ({
      status: 429,
      headers: { 'retry-after': '3600' },
    }));
    const error = await request().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SourceUnavailableError);
    expect(error).toMatchObject({ retryAfterMs: 3_600_000 });
    expect(server.requests).toHaveLength(1);
    expect(budgets.pausedUntil('c1', 'raise')).toBeGreaterThan(Date.now() + 3_500_000);
  });

  it('uses the default pause when a 429 has no Retry-After', async () => {
    const { request, budgets } = await setUp(sequence({ status: 429 }, { body: { ok: true } }), {
      defaultRetryAfterMs: 120,
    });
    const started = Date.now();
    await request();
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(budgets.snapshot().totals.raise.pauses).toBe(1);
  });

  it('does not resend a non-idempotent request after a 5xx', async () => {
    const { server, request } = await setUp(() => ({ status: 503 }));
    await expect(request({ idempotent: false })).rejects.toThrow(/may have been applied/);
    expect(server.requests).toHaveLength(1);
  });

  it('retries a refused connection, then throws SourceUnavailableError without the token', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const seen: SourceRequestInfo[] = [];
    const client = new SourceHttpClient({
      budgets: fastBudgets(),
      maxRetries: 2,
      backoffBaseMs: 1,
      observer: { onRequest: (info) => seen.push(info) },
    });
    const error = await client
      .request({
        customerId: 'c1',
        api: 'vomo',
        token: TOKEN,
        method: 'POST',
        url: `http://127.0.0.1:${port}/users`,
        route: '/users',
        body: { email: 'a@example.org' },
      })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SourceUnavailableError);
    expect((error as Error).message).toMatch(/network error ECONNREFUSED/);
    expect((error as Error).message).not.toContain(TOKEN);
    expect(JSON.stringify(error)).not.toContain(TOKEN);
    expect(seen.map((s) => s.outcome)).toEqual(['network_error', 'network_error', 'network_error']);
  });

  it('treats a redirect as a rejection instead of following it with the token', async () => {
    const { server, request } = await setUp(() => ({
      status: 302,
      headers: { location: 'http://elsewhere.invalid/' },
    }));
    await expect(request()).rejects.toThrow(/unexpected redirect/);
    expect(server.requests).toHaveLength(1);
  });

  it('stops when the caller aborts, without retrying', async () => {
    // The caller aborts once the server holds the request (not after a fixed delay, which on a
    // loaded machine fired before the request had even reached the server).
    const controller = new AbortController();
    const { server, request } = await setUp(() => {
      controller.abort();
      return { delayMs: 2000, body: {} };
    });
    const pending = request({ signal: controller.signal });
    await expect(pending).rejects.toThrow(/abort/i);
    expect(server.requests).toHaveLength(1);
  });
});

describe(parseRetryAfterMs.name, () => {
  it('reads delta seconds and HTTP dates', () => {
    const now = Date.parse('2026-11-20T10:00:00Z');
    expect(parseRetryAfterMs('7', now)).toBe(7000);
    expect(parseRetryAfterMs('1.5', now)).toBe(1500);
    expect(parseRetryAfterMs('Fri, 20 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfterMs('Fri, 20 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfterMs(null, now)).toBeUndefined();
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
  });
});

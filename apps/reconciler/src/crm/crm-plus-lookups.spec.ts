import { CrmPlusLookups, type CrmPlusTarget } from './crm-plus-lookups';
import { mapPool } from './pool';

const TARGET: CrmPlusTarget = {
  baseUrl: 'http://crm.test',
  token: 'crm-secret-token-123',
  transactionSource: 'raise',
  reserve: 50,
};

interface Sent {
  url: string;
  authorization: string | null;
}

/** A scripted CRM+: answers from `reply` per request, records what was asked. */
function fakeCrm(
  reply: (
    url: string,
    n: number,
  ) => { status: number; headers?: Record<string, string>; body?: unknown },
) {
  const sent: Sent[] = [];
  const fetchImpl = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : input.toString();
    const headers = new Headers(init?.headers);
    sent.push({ url, authorization: headers.get('authorization') });
    const answer = reply(url, sent.length);
    return Promise.resolve(
      new Response(answer.body === undefined ? '' : JSON.stringify(answer.body), {
        status: answer.status,
        headers: { 'x-ratelimit-remaining': '4000', ...answer.headers },
      }),
    );
  };
  return { sent, fetch: fetchImpl };
}

describe(CrmPlusLookups.name, () => {
  it('finds contacts by crmKey and gifts by transaction pair; 404 is not found', async () => {
    const crm = fakeCrm((url) =>
      url.endsWith('/api/Contact/200001')
        ? { status: 200, body: { id: 200001 } }
        : url.includes('transactionId=1000002')
          ? { status: 200, body: { id: 5000001 } }
          : { status: 404, body: { error: { code: 'NOT_FOUND' } } },
    );
    const lookups = new CrmPlusLookups(TARGET, { fetch: crm.fetch });
    await expect(lookups.contact('200001')).resolves.toEqual({ outcome: 'found', crmId: '200001' });
    await expect(lookups.contact('999999')).resolves.toEqual({ outcome: 'not_found' });
    await expect(lookups.gift('1000002')).resolves.toEqual({ outcome: 'found', crmId: '5000001' });
    await expect(lookups.gift('1000003')).resolves.toEqual({ outcome: 'not_found' });
    expect(crm.sent.map((s) => s.url)).toEqual([
      'http://crm.test/api/Contact/200001',
      'http://crm.test/api/Contact/999999',
      'http://crm.test/api/v2/Gift/Transaction?transactionSource=raise&transactionId=1000002',
      'http://crm.test/api/v2/Gift/Transaction?transactionSource=raise&transactionId=1000003',
    ]);
    expect(crm.sent.every((s) => s.authorization === `Bearer ${TARGET.token}`)).toBe(true);
  });

  it('waits out a short 429 and retries; gives up after the attempts', async () => {
    const waits: number[] = [];
    const sleep = (ms: number) => {
      waits.push(ms);
      return Promise.resolve();
    };
    const crm = fakeCrm((_url, n) =>
      n === 1 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200, body: { id: 1 } },
    );
    const lookups = new CrmPlusLookups(TARGET, { fetch: crm.fetch, sleep });
    await expect(lookups.contact('1')).resolves.toEqual({ outcome: 'found', crmId: '1' });
    expect(waits).toEqual([2000]);
    expect(lookups.rateLimited).toBe(1);

    const always = fakeCrm(() => ({ status: 429, headers: { 'retry-after': '1' } }));
    const limited = new CrmPlusLookups(TARGET, { fetch: always.fetch, sleep, attempts: 3 });
    await expect(limited.contact('1')).resolves.toEqual({
      outcome: 'unreachable',
      reason: 'CRM+ GET /api/Contact/{id} still rate limited (HTTP 429) after 3 attempts',
    });
    expect(always.sent).toHaveLength(3);
    expect(limited.stopReason).toBeNull();
  });

  it('stops asking after a long Retry-After (hourly budget spent)', async () => {
    const crm = fakeCrm(() => ({ status: 429, headers: { 'retry-after': '1800' } }));
    const lookups = new CrmPlusLookups(TARGET, {
      fetch: crm.fetch,
      sleep: () => Promise.resolve(),
    });
    await expect(lookups.contact('1')).resolves.toMatchObject({ outcome: 'unreachable' });
    await expect(lookups.gift('2')).resolves.toEqual({
      outcome: 'unreachable',
      reason: 'not asked: CRM+ rate limited (HTTP 429) for 1800 s',
    });
    expect(crm.sent).toHaveLength(1);
  });

  it('keeps the reserve of the hourly budget for others', async () => {
    let remaining = 52;
    const crm = fakeCrm(() => {
      remaining -= 1;
      return {
        status: 200,
        body: { id: 1 },
        headers: { 'x-ratelimit-remaining': String(remaining) },
      };
    });
    const lookups = new CrmPlusLookups(TARGET, { fetch: crm.fetch });
    const results = [];
    for (let i = 0; i < 5; i += 1) {
      results.push(await lookups.contact(String(i + 1)));
    }
    // 51, 50, 49 → the fourth sees 49 < 50 and is not sent.
    expect(crm.sent).toHaveLength(3);
    expect(results.slice(3)).toEqual([
      {
        outcome: 'unreachable',
        reason: 'not asked: CRM+ hourly request budget down to 49 (reserve 50)',
      },
      {
        outcome: 'unreachable',
        reason: 'not asked: CRM+ hourly request budget down to 49 (reserve 50)',
      },
    ]);
  });

  it('stops at once on rejected credentials and never quotes the token', async () => {
    const crm = fakeCrm(() => ({ status: 401 }));
    const lookups = new CrmPlusLookups(TARGET, { fetch: crm.fetch });
    const first = await lookups.contact('1');
    expect(first).toEqual({
      outcome: 'unreachable',
      reason: 'CRM+ GET /api/Contact/{id} credentials rejected (HTTP 401)',
    });
    await expect(lookups.gift('1')).resolves.toMatchObject({ outcome: 'unreachable' });
    expect(crm.sent).toHaveLength(1);
    expect(JSON.stringify(first)).not.toContain(TARGET.token);
  });

  it('stops after consecutive 5xx answers; a success in between resets the count', async () => {
    let down = true;
    const crm = fakeCrm(() =>
      down
        ? { status: 503, body: { error: { code: 'SERVICE_UNAVAILABLE', message: 'maintenance' } } }
        : { status: 200, body: { id: 3 } },
    );
    const lookups = new CrmPlusLookups(TARGET, { fetch: crm.fetch, stopAfterFailures: 3 });
    await lookups.contact('1');
    await lookups.contact('2');
    down = false;
    await expect(lookups.contact('3')).resolves.toMatchObject({ outcome: 'found' });
    down = true;
    for (let i = 0; i < 3; i += 1) {
      await expect(lookups.contact(String(i))).resolves.toMatchObject({
        outcome: 'unreachable',
        reason: expect.stringContaining('HTTP 503') as string,
      });
    }
    await expect(lookups.contact('9')).resolves.toMatchObject({
      reason: expect.stringMatching(/^not asked: 3 consecutive failures/) as string,
    });
    expect(crm.sent).toHaveLength(6);
  });

  it('reports network errors as unreachable', async () => {
    const failing = (() => Promise.reject(new TypeError('fetch failed'))) as typeof fetch;
    const lookups = new CrmPlusLookups(TARGET, { fetch: failing });
    await expect(lookups.contact('1')).resolves.toEqual({
      outcome: 'unreachable',
      reason: 'CRM+ GET /api/Contact/{id} failed: network error',
    });
  });
});

describe(mapPool.name, () => {
  it('keeps input order and never exceeds the concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await mapPool([5, 1, 4, 2, 3, 0], 2, async (n) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, n));
      inFlight -= 1;
      return n * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(2);
    await expect(mapPool([], 4, () => Promise.resolve(1))).resolves.toEqual([]);
  });
});

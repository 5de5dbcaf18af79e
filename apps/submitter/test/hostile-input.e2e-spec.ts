import { randomUUID } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { CustomerRepository, customerScope } from '@raise-sync/shared/state';
import {
  adminClient,
  bodyBeforeTokenBreaches,
  contractBreaches,
  documentedRoutes,
  fireHostileRequests,
  useTestStack,
  type AdminCall,
  type DocumentedRoute,
  type RunningApp,
} from '@raise-sync/testing';
import { ADMIN_TOKEN, box, startIngest, startSubmitter, type SubmitterUnderTest } from './support';

/** Nothing listens here: the routes under test never reach a source. */
const NO_SOURCE = { raiseUrl: 'http://127.0.0.1:9', vomoUrl: 'http://127.0.0.1:9' } as never;

/**
 * The submitter's admin and console APIs against hostile clients: bodies are read only after the
 * token is checked, every documented route answers 400 (malformed) or 404 (unknown) and never a
 * 5xx to hostile IDs and query values, and an offboarded customer's console token stops working.
 */
describe('submitter: hostile input on the admin and console APIs', () => {
  const stack = useTestStack();
  const prefix = `hostile-${randomBytes(3).toString('hex')}`;
  let submitter: SubmitterUnderTest;
  let ingest: RunningApp;
  let ingestAdmin: AdminCall;
  let routes: DocumentedRoute[];
  let customerId: string;

  const newCustomer = async (name: string): Promise<string> =>
    (
      await new CustomerRepository(stack.dataSource, box).create(customerScope(randomUUID()), {
        name,
        status: 'live',
      })
    ).id;

  const issueToken = async (id: string): Promise<string> => {
    const issued = await submitter.admin<{ token: string }>(
      'POST',
      `/admin/customers/${id}/console-tokens`,
      { label: 'hostile-input' },
    );
    expect(issued.status).toBe(201);
    return issued.body.token;
  };

  beforeAll(async () => {
    [submitter, ingest] = await Promise.all([
      startSubmitter(stack, prefix),
      startIngest(stack, prefix, NO_SOURCE),
    ]);
    ingestAdmin = adminClient(ingest.url, ADMIN_TOKEN);
    routes = await documentedRoutes(submitter.app.url);
    customerId = await newCustomer('Hostile input');
  }, 120_000);

  afterAll(async () => {
    await Promise.all([submitter?.app.stop(), ingest?.stop()]);
  });

  it('checks the token before reading a body: 401 at once for a huge or malformed body', async () => {
    const url = submitter.app.url;
    const writes = routes.filter((r) => r.method !== 'GET');
    expect(writes.length).toBeGreaterThanOrEqual(9);
    expect(
      await bodyBeforeTokenBreaches(url, writes, { customerId, id: customerId }, [
        undefined,
        'wrong-token',
        'rsc_not-a-console-token',
      ]),
    ).toEqual([]);
    // With the token the body is read: malformed JSON is a 400, an oversized body a 413.
    const retryMany = `${url}/admin/dead-letters/retry`;
    const withToken = {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      'content-type': 'application/json',
    };
    expect(
      (await fetch(retryMany, { method: 'POST', headers: withToken, body: '{"not json' })).status,
    ).toBe(400);
    expect(
      (
        await fetch(retryMany, {
          method: 'POST',
          headers: withToken,
          body: JSON.stringify({ customerId, pad: 'x'.repeat(300 * 1024) }),
        })
      ).status,
    ).toBe(413);
  });

  it('answers every documented route 400 or 404 for hostile IDs and query values, never a 5xx', async () => {
    const adminRoutes = routes.filter((r) => r.template.startsWith('/admin/'));
    const consoleRoutes = routes.filter((r) => r.template.startsWith('/console/api/'));
    expect(adminRoutes.length).toBeGreaterThanOrEqual(13);
    expect(consoleRoutes.length).toBeGreaterThanOrEqual(8);
    const known = { customerId, resource: 'gift', sourceId: '1', action: 'retry' };
    const queries = {
      'GET /console/api/customers/{customerId}/records/{sourceId}/links': { resource: 'gift' },
      // A dead-letter group is named in the query (destination and reason).
      'POST /console/api/customers/{customerId}/dead-letter-groups/{action}': {
        destinationId: customerId,
        reason: 'record_rejected',
      },
    };
    const probes = await fireHostileRequests({
      baseUrl: submitter.app.url,
      token: ADMIN_TOKEN,
      routes: [...adminRoutes, ...consoleRoutes],
      known: { ...known, id: customerId },
      uuidParams: ['id', 'customerId'],
      queries,
      bodies: { 'PUT /admin/customers/{id}/destinations': { destinations: [] } },
    });
    expect(contractBreaches(probes)).toEqual([]);
    // Malformed numbers and IDs in the query are refused, not ignored.
    for (const query of ['limit=abc', 'limit=-1', 'limit=99999999999999999999', 'customerId=x']) {
      expect({
        query,
        status: (await submitter.admin('GET', `/admin/dead-letters?${query}`)).status,
      }).toEqual({ query, status: 400 });
    }

    // A customer's own console token, on its own customer: the same answers.
    const token = await issueToken(customerId);
    const asCustomer = await fireHostileRequests({
      baseUrl: submitter.app.url,
      token,
      routes: consoleRoutes.filter((r) => r.method === 'GET'),
      known,
      uuidParams: [],
      queries,
    });
    expect(contractBreaches(asCustomer)).toEqual([]);
    expect(probes.length + asCustomer.length).toBeGreaterThan(500);
  });

  it("refuses an offboarded customer's console token on every console route, revoked or not", async () => {
    const id = await newCustomer('Offboarded');
    const token = await issueToken(id);
    const paths = routes
      .filter((r) => r.template.startsWith('/console/api/'))
      .map((r) => ({
        method: r.method,
        path: r.template
          .replace('{customerId}', id)
          .replace('{id}', '00000000-0000-4000-8000-000000000000')
          .replace('{sourceId}', '1'),
      }));
    const call = async (p: { method: string; path: string }): Promise<number> =>
      (
        await fetch(`${submitter.app.url}${p.path}?resource=gift`, {
          method: p.method,
          headers: { authorization: `Bearer ${token}` },
        })
      ).status;
    expect(await call({ method: 'GET', path: `/console/api/customers/${id}/health` })).toBe(200);

    expect((await ingestAdmin('POST', `/admin/customers/${id}/offboard`)).status).toBe(200);
    const listed = await submitter.admin<Array<{ revokedAt: string | null }>>(
      'GET',
      `/admin/customers/${id}/console-tokens`,
    );
    expect(listed.body.map((t) => t.revokedAt !== null)).toEqual([true]);
    for (const p of paths) {
      expect({ ...p, status: await call(p) }).toEqual({ ...p, status: 401 });
    }

    // Even if the revocation was missed, the customer's status refuses the token.
    await stack.dataSource.query(
      `UPDATE console_tokens SET revoked_at = NULL WHERE customer_id = $1`,
      [id],
    );
    for (const p of paths) {
      expect({ ...p, status: await call(p) }).toEqual({ ...p, status: 401 });
    }
    // And no new token is issued for an offboarded customer.
    expect(
      (await submitter.admin('POST', `/admin/customers/${id}/console-tokens`, {})).status,
    ).toBe(409);
  });
});

import { randomUUID } from 'node:crypto';
import { SecretBox } from '@raise-sync/shared/crypto';
import { CustomerRepository, customerScope } from '@raise-sync/shared/state';
import {
  bodyBeforeTokenBreaches,
  contractBreaches,
  documentedRoutes,
  fireHostileRequests,
  useTestStack,
  type DocumentedRoute,
} from '@raise-sync/testing';
import { ADMIN_TOKEN, SECRETS_KEY, startIngest, type IngestUnderTest } from './support';

/** Nothing listens here: no route under test reaches a source. */
const NO_SOURCE = { raiseUrl: 'http://127.0.0.1:9', vomoUrl: 'http://127.0.0.1:9' } as never;

/**
 * Ingest's admin API against hostile clients: the token is checked before a body is read, and
 * every documented admin route answers 400 (malformed) or 404 (unknown), never a 5xx, to hostile
 * IDs and query values.
 */
describe('ingest: hostile input on the admin API', () => {
  const stack = useTestStack();
  let ingest: IngestUnderTest;
  let routes: DocumentedRoute[];
  let customerId: string;

  beforeAll(async () => {
    ingest = await startIngest(stack, NO_SOURCE);
    routes = (await documentedRoutes(ingest.app.url)).filter((r) =>
      r.template.startsWith('/admin/'),
    );
    customerId = (
      await new CustomerRepository(stack.dataSource, SecretBox.fromHex(SECRETS_KEY)).create(
        customerScope(randomUUID()),
        {
          name: 'Hostile input',
          status: 'live',
        },
      )
    ).id;
  }, 120_000);

  afterAll(async () => {
    await ingest?.app.stop();
  });

  it('checks the token before reading a body: 401 at once for a huge or malformed body', async () => {
    // Destinations are set on the submitter now (its hostile-input test covers them).
    expect(routes.filter((r) => r.method !== 'GET').length).toBeGreaterThanOrEqual(8);
    expect(
      await bodyBeforeTokenBreaches(ingest.app.url, routes, { id: customerId, source: 'raise' }),
    ).toEqual([]);
    // With the token the body is read: malformed JSON, a NUL character: 400; too large: 413.
    const send = (body: string): Promise<Response> =>
      fetch(`${ingest.app.url}/admin/customers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body,
      });
    expect((await send('{"not json')).status).toBe(400);
    expect(
      (await send(JSON.stringify({ name: 'a\u0000b', raise: { apiToken: 't' } }))).status,
    ).toBe(400);
    expect((await send(JSON.stringify({ name: 'x'.repeat(300 * 1024) }))).status).toBe(413);
  });

  it('answers every admin route 400 or 404 for hostile IDs and query values, never a 5xx', async () => {
    expect(routes.length).toBeGreaterThanOrEqual(10);
    const probes = await fireHostileRequests({
      baseUrl: ingest.app.url,
      token: ADMIN_TOKEN,
      routes,
      known: { id: customerId, source: 'raise', donorId: '1' },
      uuidParams: ['id'],
      bodies: {
        'PATCH /admin/customers/{id}/raise/donors/{donorId}': { fields: { phone: '1' } },
        // A valid body, so an unknown customer is what the answer is about (404).
        'POST /admin/customers/{id}/donors/{donorId}/erase': { requestedBy: 'hostile-input e2e' },
      },
    });
    expect(contractBreaches(probes)).toEqual([]);
    expect(probes.length).toBeGreaterThan(100);
  });
});

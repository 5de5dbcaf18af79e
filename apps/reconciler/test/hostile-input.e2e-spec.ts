import { randomUUID } from 'node:crypto';
import { CustomerRepository, customerScope } from '@raise-sync/shared/state';
import {
  bodyBeforeTokenBreaches,
  contractBreaches,
  documentedRoutes,
  fireHostileRequests,
  useTestStack,
  type DocumentedRoute,
} from '@raise-sync/testing';
import { ADMIN_TOKEN, box, startReconciler, type AppUnderTest } from './support';

/** Nothing listens here: no route under test reaches a source. */
const NO_SOURCE = { raiseUrl: 'http://127.0.0.1:9', vomoUrl: 'http://127.0.0.1:9' } as never;

/**
 * The reconciler's admin API against hostile clients: the token is checked before a body is
 * read, and every documented admin route answers 400 (malformed) or 404 (unknown), never a 5xx,
 * to hostile IDs and query values (`limit=abc`, negative or huge numbers, NUL bytes).
 */
describe('reconciler: hostile input on the admin API', () => {
  const stack = useTestStack();
  let reconciler: AppUnderTest;
  let routes: DocumentedRoute[];
  let customerId: string;

  beforeAll(async () => {
    reconciler = await startReconciler(stack, `${stack.prefix}-hostile`, NO_SOURCE);
    routes = (await documentedRoutes(reconciler.app.url)).filter((r) =>
      r.template.startsWith('/admin/'),
    );
    customerId = (
      await new CustomerRepository(stack.dataSource, box).create(customerScope(randomUUID()), {
        name: 'Hostile',
      })
    ).id;
  }, 120_000);

  afterAll(async () => {
    await reconciler?.app.stop();
  });

  it('checks the token before reading a body: 401 at once for a huge or malformed body', async () => {
    expect(routes.filter((r) => r.method !== 'GET').length).toBeGreaterThanOrEqual(2);
    expect(await bodyBeforeTokenBreaches(reconciler.app.url, routes, { id: customerId })).toEqual(
      [],
    );
  });

  it('answers every admin route 400 or 404 for hostile IDs and query values, never a 5xx', async () => {
    expect(routes.length).toBeGreaterThanOrEqual(5);
    const probes = await fireHostileRequests({
      baseUrl: reconciler.app.url,
      token: ADMIN_TOKEN,
      routes,
      known: { id: customerId },
      uuidParams: ['id', 'runId'],
      bodies: { 'PUT /admin/customers/{id}/reconciliation-schedules': { kind: 'window' } },
    });
    expect(contractBreaches(probes)).toEqual([]);
    expect(probes.length).toBeGreaterThan(100);
    const list = `/admin/customers/${customerId}/reconciliations`;
    for (const query of ['limit=abc', 'limit=-1', 'limit=99999999999999999999', 'kind=%00']) {
      const status = (await reconciler.admin('GET', `${list}?${query}`)).status;
      expect({ query, status }).toEqual({ query, status: 400 });
    }
    expect((await reconciler.admin('GET', `${list}?limit=5`)).status).toBe(200);
  });
});

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
import { ADMIN_TOKEN, SECRETS_KEY, startBackfiller, type BackfillerUnderTest } from './support';

/** Nothing listens here: no route under test reaches a source. */
const NO_SOURCE = { raiseUrl: 'http://127.0.0.1:9', vomoUrl: 'http://127.0.0.1:9' } as never;

/**
 * The backfiller's admin API (backfills and replays) against hostile clients: the token is
 * checked before a body is read, and every documented admin route answers 400 (malformed) or 404
 * (unknown), never a 5xx, to hostile IDs and query values.
 */
describe('backfiller: hostile input on the admin API', () => {
  const stack = useTestStack();
  let backfiller: BackfillerUnderTest;
  let routes: DocumentedRoute[];
  let customerId: string;

  beforeAll(async () => {
    backfiller = await startBackfiller(stack, NO_SOURCE, `${stack.prefix}-hostile`);
    routes = (await documentedRoutes(backfiller.app.url)).filter((r) =>
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
    await backfiller?.app.stop();
  });

  it('checks the token before reading a body: 401 at once for a huge or malformed body', async () => {
    expect(routes.filter((r) => r.method !== 'GET').length).toBeGreaterThanOrEqual(4);
    expect(
      await bodyBeforeTokenBreaches(backfiller.app.url, routes, {
        id: customerId,
        runId: customerId,
      }),
    ).toEqual([]);
    const malformed = await fetch(`${backfiller.app.url}/admin/customers/${customerId}/backfills`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{"not json',
    });
    expect(malformed.status).toBe(400);
  });

  it('answers every admin route 400 or 404 for hostile IDs and query values, never a 5xx', async () => {
    expect(routes.length).toBeGreaterThanOrEqual(8);
    const probes = await fireHostileRequests({
      baseUrl: backfiller.app.url,
      token: ADMIN_TOKEN,
      routes,
      known: { id: customerId },
      uuidParams: ['id', 'runId'],
    });
    expect(contractBreaches(probes)).toEqual([]);
    expect(probes.length).toBeGreaterThan(100);
  });
});

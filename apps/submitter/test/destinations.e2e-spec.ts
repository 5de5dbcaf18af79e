import { randomBytes, randomUUID } from 'node:crypto';
import {
  CustomerRepository,
  DestinationRepository,
  customerScope,
  type DestinationView,
} from '@raise-sync/shared/state';
import { adminClient, useTestStack, type AdminCall, type RunningApp } from '@raise-sync/testing';
import { ADMIN_TOKEN, box, startIngest, startSubmitter, type SubmitterUnderTest } from './support';

/** Nothing listens here: these customers have no source to call. */
const NO_SOURCE = { raiseUrl: 'http://127.0.0.1:9', vomoUrl: 'http://127.0.0.1:9' } as never;

interface DestinationsView {
  customerId: string;
  destinations: DestinationView[];
}

/**
 * Destination settings on the built submitter's admin API (they moved there from ingest): set as a
 * set, omitted ones disabled and kept, secrets sealed in PostgreSQL and never shown or logged,
 * refused for unknown and offboarded customers; ingest only lists them.
 */
describe('submitter: customer destinations on the admin API', () => {
  const stack = useTestStack();
  const prefix = `dest-${randomBytes(3).toString('hex')}`;
  let submitter: SubmitterUnderTest;
  let ingest: RunningApp;
  let ingestAdmin: AdminCall;

  const newCustomer = async (name: string): Promise<string> =>
    (
      await new CustomerRepository(stack.dataSource, box).create(customerScope(randomUUID()), {
        name,
        status: 'live',
      })
    ).id;

  const put = (customerId: string, destinations: unknown) =>
    submitter.admin<DestinationsView>('PUT', `/admin/customers/${customerId}/destinations`, {
      destinations,
    });

  beforeAll(async () => {
    [submitter, ingest] = await Promise.all([
      startSubmitter(stack, prefix),
      startIngest(stack, prefix, NO_SOURCE),
    ]);
    ingestAdmin = adminClient(ingest.url, ADMIN_TOKEN);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([submitter?.app.stop(), ingest?.stop()]);
  });

  it('sets destinations as a set, keeps omitted ones disabled, and never shows a secret', async () => {
    const customerId = await newCustomer('Destinations');
    const secret = `hook-secret-${randomBytes(12).toString('hex')}`;
    const first = await put(customerId, [
      { kind: 'warehouse', name: 'warehouse' },
      {
        kind: 'webhook',
        name: 'partner',
        config: { url: 'http://127.0.0.1:9/hook' },
        secrets: { secret },
      },
    ]);
    expect(first.status).toBe(200);
    expect(first.body.customerId).toBe(customerId);
    expect(first.body.destinations).toEqual([
      expect.objectContaining({
        name: 'partner',
        kind: 'webhook',
        enabled: true,
        hasSecrets: true,
      }),
      expect.objectContaining({
        name: 'warehouse',
        kind: 'warehouse',
        enabled: true,
        hasSecrets: false,
      }),
    ]);
    expect(JSON.stringify(first.body)).not.toContain(secret);
    expect(JSON.stringify(first.body)).not.toMatch(/"secrets"/);
    const partnerId = first.body.destinations.find((d) => d.name === 'partner')!.id;

    // Sealed at rest: the stored bytes do not hold the secret, and the key opens them.
    const stored = await new DestinationRepository(stack.dataSource).find(
      customerScope(customerId),
      partnerId,
    );
    expect(stored!.secrets!.toString('latin1')).not.toContain(secret);
    expect(box.openJson(stored!.secrets!)).toEqual({ secret });

    // Omitted: disabled, not deleted (same row, secrets kept for when it comes back).
    const second = await put(customerId, [{ kind: 'warehouse', name: 'warehouse' }]);
    expect(second.status).toBe(200);
    expect(second.body.destinations.find((d) => d.name === 'partner')).toEqual(
      expect.objectContaining({ id: partnerId, enabled: false, hasSecrets: true }),
    );

    // Back with a new config and no secrets: the stored secrets stay.
    const third = await put(customerId, [
      { kind: 'warehouse', name: 'warehouse' },
      { kind: 'webhook', name: 'partner', config: { url: 'http://127.0.0.1:9/other' } },
    ]);
    expect(third.status).toBe(200);
    expect(third.body.destinations.find((d) => d.name === 'partner')).toEqual({
      id: partnerId,
      kind: 'webhook',
      name: 'partner',
      enabled: true,
      config: { url: 'http://127.0.0.1:9/other' },
      hasSecrets: true,
    });

    // GET answers what was set; ingest's customer view lists the same, read-only.
    const listed = await submitter.admin<DestinationsView>(
      'GET',
      `/admin/customers/${customerId}/destinations`,
    );
    expect(listed).toEqual({ status: 200, body: third.body });
    const view = await ingestAdmin<{ destinations: DestinationView[] }>(
      'GET',
      `/admin/customers/${customerId}`,
    );
    expect(view.body.destinations).toEqual(third.body.destinations);
    expect(
      (
        await ingestAdmin('PUT', `/admin/customers/${customerId}/destinations`, {
          destinations: [],
        })
      ).status,
    ).toBe(404);

    expect(JSON.stringify(submitter.app.logs())).not.toContain(secret);
  });

  it('refuses malformed settings, unknown customers and offboarded ones', async () => {
    const customerId = await newCustomer('Refusals');
    const refused = async (destinations: unknown): Promise<number> =>
      (await put(customerId, destinations)).status;
    expect(
      await refused([
        { kind: 'warehouse', name: 'same' },
        { kind: 'warehouse', name: 'same' },
      ]),
    ).toBe(400);
    expect(await refused([{ kind: 'spreadsheet', name: 'x' }])).toBe(400);
    expect(await refused([{ kind: 'warehouse', name: 'Not Valid' }])).toBe(400);
    expect(await refused([{ kind: 'warehouse', name: 'w', password: 'x' }])).toBe(400);
    expect(await refused([{ kind: 'warehouse', name: 'w', config: 'x' }])).toBe(400);
    expect(await refused('not-a-list')).toBe(400);
    // Nothing was stored by a refused request.
    const none = await submitter.admin<DestinationsView>(
      'GET',
      `/admin/customers/${customerId}/destinations`,
    );
    expect(none.body.destinations).toEqual([]);

    const unknown = randomUUID();
    expect((await put(unknown, [])).status).toBe(404);
    expect((await submitter.admin('GET', `/admin/customers/${unknown}/destinations`)).status).toBe(
      404,
    );

    expect((await put(customerId, [{ kind: 'warehouse', name: 'warehouse' }])).status).toBe(200);
    expect((await ingestAdmin('POST', `/admin/customers/${customerId}/offboard`)).status).toBe(200);
    expect((await put(customerId, [{ kind: 'warehouse', name: 'warehouse' }])).status).toBe(409);
    const after = await submitter.admin<DestinationsView>(
      'GET',
      `/admin/customers/${customerId}/destinations`,
    );
    expect(after.body.destinations).toEqual([
      expect.objectContaining({ name: 'warehouse', enabled: false, hasSecrets: false }),
    ]);
  });
});

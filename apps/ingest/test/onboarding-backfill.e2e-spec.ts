import { randomBytes } from 'node:crypto';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { useTestStack } from '@raise-sync/testing';
import { startIngest, type IngestUnderTest } from './support';

interface RunRow {
  source: string;
  resource: string;
  trigger: string;
  status: string;
  modified_from: Date | null;
  modified_to: Date | null;
}

describe('ingest: onboarding with a backfill request', () => {
  const stack = useTestStack();
  let sim: Simulator;
  let ingest: IngestUnderTest;
  const org = `ob-${randomBytes(3).toString('hex')}`;
  const raiseToken = `raise-${org}`;
  const vomoToken = `vomo-${org}`;

  const runsOf = (customerId: string): Promise<RunRow[]> =>
    stack.dataSource.query(
      `SELECT source, resource, trigger, status, modified_from, modified_to
         FROM backfill_runs WHERE customer_id = $1 ORDER BY source, resource`,
      [customerId],
    );
  const deferredPolls = async (customerId: string): Promise<Record<string, boolean>> => {
    const rows = await stack.dataSource.query<Array<{ resource: string; deferred: boolean }>>(
      `SELECT resource, next_poll_at = 'infinity' AS deferred FROM poll_schedule WHERE customer_id = $1`,
      [customerId],
    );
    return Object.fromEntries(rows.map((r) => [r.resource, r.deferred]));
  };
  const customerCount = async (): Promise<number> =>
    Number(
      (await stack.dataSource.query<Array<{ n: string }>>(`SELECT count(*) AS n FROM customers`))[0]
        ?.n,
    );

  beforeAll(async () => {
    sim = await startSimulator({ seed: 41 });
    sim.control.createOrg({ id: org, raiseToken, vomoToken, gifts: 10, donors: 5, users: 5 });
    ingest = await startIngest(stack, sim);
  });

  afterAll(async () => {
    await ingest?.app.stop('SIGTERM');
    await sim?.stop();
  });

  it('creates the customer as backfilling with one pending run per resource and defers their polling', async () => {
    const created = await ingest.admin<{ id: string; status: string }>('POST', '/admin/customers', {
      name: 'Backfill Me',
      raise: { apiToken: raiseToken },
      backfill: { resources: ['gift', 'donor'], modifiedFrom: '2025-01-01T00:00:00Z' },
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('backfilling');
    expect(await runsOf(created.body.id)).toEqual([
      {
        source: 'raise',
        resource: 'donor',
        trigger: 'onboarding',
        status: 'pending',
        modified_from: new Date('2025-01-01T00:00:00Z'),
        modified_to: null,
      },
      {
        source: 'raise',
        resource: 'gift',
        trigger: 'onboarding',
        status: 'pending',
        modified_from: new Date('2025-01-01T00:00:00Z'),
        modified_to: null,
      },
    ]);
    // The backfiller hands polling over when it is done; the other resources poll as usual.
    expect(await deferredPolls(created.body.id)).toEqual({
      donor: true,
      gift: true,
      recurring_gift: false,
      campaign: false,
    });
  });

  it('backfills every resource of the sources given when no resources are named', async () => {
    const created = await ingest.admin<{ id: string; status: string }>('POST', '/admin/customers', {
      name: 'Everything',
      raise: { apiToken: raiseToken },
      vomo: { apiToken: vomoToken },
      backfill: {},
    });
    expect(created.status).toBe(201);
    expect((await runsOf(created.body.id)).map((r) => `${r.source}.${r.resource}`)).toEqual([
      'raise.campaign',
      'raise.donor',
      'raise.gift',
      'raise.recurring_gift',
      'vomo.user',
    ]);
    expect(Object.values(await deferredPolls(created.body.id)).every(Boolean)).toBe(true);
  });

  it('without a backfill request: live at once in mode poll_history, no runs, polling due', async () => {
    const created = await ingest.admin<{ id: string; status: string; onboardingMode: string }>(
      'POST',
      '/admin/customers',
      {
        name: 'Forward Only',
        raise: { apiToken: raiseToken },
      },
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'live', onboardingMode: 'poll_history' });
    expect(await runsOf(created.body.id)).toEqual([]);
    expect(Object.values(await deferredPolls(created.body.id)).some(Boolean)).toBe(false);
  });

  it('refuses a backfill it cannot do with a 400 naming the problem, and creates nothing', async () => {
    const before = await customerCount();
    const refused = async (backfill: unknown): Promise<string> => {
      const response = await ingest.admin<{ message: string | string[] }>(
        'POST',
        '/admin/customers',
        {
          name: 'Refused',
          raise: { apiToken: raiseToken },
          backfill,
        },
      );
      expect(response.status).toBe(400);
      return ([] as string[]).concat(response.body.message).join('; ');
    };
    expect(await refused({ resources: ['user'] })).toMatch(/'user' needs its source \(vomo\)/);
    expect(await refused({ resources: ['pledge'] })).toMatch(/resources/);
    expect(await refused({ modifiedFrom: 'last year' })).toMatch(/ISO 8601/);
    expect(
      await refused({ modifiedFrom: '2025-02-01T00:00:00Z', modifiedTo: '2025-01-01T00:00:00Z' }),
    ).toMatch(/modifiedTo must be after/);
    expect(await customerCount()).toBe(before);
  });
});

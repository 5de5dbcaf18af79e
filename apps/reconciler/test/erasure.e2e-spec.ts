import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { EventCodec } from '@raise-sync/shared/kafka';
import { startSimulator, subscriberHash, type Simulator } from '@raise-sync/simulators';
import { expectEventually, useTestStack } from '@raise-sync/testing';
import { ADMIN_TOKEN, startIngest, startSubmitter, type AppUnderTest } from './support';

jest.setTimeout(240_000);

interface SimDonor {
  id: number;
  name: string;
  email: string | null;
  phone: string | null;
  isTestMode: boolean;
  isOrganization: boolean;
  primaryAddress?: { address1?: string | null } | null;
}

interface ErasureBody {
  customerId: string;
  donorId: string;
  status: string;
  trigger: string;
  requestedBy: string;
  completedAt: string | null;
  rowsRedacted: Record<string, number>;
  destinations: Record<string, string>;
}

/**
 * Erasure of one person on the built apps against the simulators: a donor whose data reached the
 * warehouse, the marketing list and a dead letter is erased through the admin API; afterwards no
 * table, dead-letter payload or warehouse row holds any of their personal fields, the marketing
 * member is archived, the erasure record exists and the console trail says 'erased'. A second
 * donor flagged isGDPRDeleted at Raise is erased on arrival of that change, by itself.
 */
describe('erasure of one donor: admin call and isGDPRDeleted', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-era`;
  let sim: Simulator;
  let submitter: AppUnderTest;
  let ingest: AppUnderTest;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 71 });
    [submitter, ingest] = await Promise.all([
      startSubmitter(stack, prefix, sim),
      startIngest(stack, prefix, sim),
    ]);
  });

  afterAll(async () => {
    await Promise.all([ingest?.app.stop('SIGTERM'), submitter?.app.stop('SIGTERM')]);
    await sim?.stop();
  });

  /** Rows per table (state store and warehouse) whose JSON text contains the needle. */
  const rowsNaming = async (needle: string): Promise<Record<string, number>> => {
    const tables = await stack.dataSource.query<Array<{ t: string }>>(
      `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
        WHERE table_schema IN ('public', 'warehouse') AND table_type = 'BASE TABLE' ORDER BY 1`,
    );
    const found: Record<string, number> = {};
    for (const { t } of tables) {
      const rows = await stack.dataSource.query<Array<{ n: number }>>(
        `SELECT count(*)::int AS n FROM ${t} x WHERE row_to_json(x)::text ILIKE $1`,
        [`%${needle}%`],
      );
      if ((rows[0]?.n ?? 0) > 0) {
        found[t] = rows[0]?.n ?? 0;
      }
    }
    return found;
  };

  /** The stored Avro payloads (dead letters, lane copies), decoded to JSON text. */
  const payloadTexts = async (): Promise<string[]> => {
    const codec = new EventCodec(stack.registryUrl);
    const rows = await stack.dataSource.query<Array<{ payload: Buffer }>>(
      `SELECT payload FROM dead_letters WHERE payload IS NOT NULL
       UNION ALL SELECT payload FROM retry_entries WHERE payload IS NOT NULL`,
    );
    const texts: string[] = [];
    for (const { payload } of rows) {
      const decoded = await codec.decode(payload);
      texts.push(decoded.ok ? JSON.stringify(decoded.event) : payload.toString('latin1'));
    }
    return texts;
  };

  const needlesOf = (d: SimDonor): string[] =>
    [d.email, d.name, d.phone, d.primaryAddress?.address1].filter(
      (v): v is string => typeof v === 'string' && v.length > 3,
    );

  it('erases a donor from every table, payload, the warehouse and the marketing list, and records it', async () => {
    const org = `erase-${stack.prefix}`;
    sim.control.createOrg({
      id: org,
      raiseToken: `raise-${org}`,
      vomoToken: `vomo-${org}`,
      donors: 12,
      gifts: 30,
      recurringGifts: 0,
      campaigns: 1,
      users: 0,
    });
    const donors = sim.control.records(org, 'donor') as unknown as SimDonor[];
    const gifts = sim.control.records(org, 'gift') as unknown as Array<{
      id: number;
      donorId: number;
    }>;
    const names = donors.map((d) => d.name);
    const fit = donors.filter(
      (d) =>
        d.email &&
        !d.isTestMode &&
        !d.isOrganization &&
        names.filter((n) => n === d.name).length === 1 &&
        gifts.some((g) => g.donorId === d.id),
    );
    const [x, y] = fit as [SimDonor, SimDonor];
    expect(y).toBeDefined();
    const xGift = gifts.find((g) => g.donorId === x.id) as { id: number };

    const created = await ingest.admin<{ id: string; webhookSubscription?: string }>(
      'POST',
      '/admin/customers',
      {
        name: 'Erasure Trust',
        raise: { apiToken: `raise-${org}` },
        polling: { enabled: false },
        mode: 'from_now',
      },
    );
    expect(created.status).toBe(201);
    expect(created.body.webhookSubscription).toBe('subscribed');
    const id = created.body.id;
    const account = `${org}-mkt`;
    sim.destinations.createAccount({
      kind: 'marketing',
      id: account,
      token: `tok-${account}`,
      listId: 'donors',
    });
    const set = await submitter.admin('PUT', `/admin/customers/${id}/destinations`, {
      destinations: [
        { kind: 'warehouse', name: 'warehouse' },
        {
          kind: 'marketing',
          name: 'marketing',
          config: { baseUrl: sim.marketingUrl, listId: 'donors' },
          secrets: { token: `tok-${account}` },
        },
      ],
    });
    expect(set.status).toBe(200);

    // X's first version is refused by the list (a dead letter holding X's donor), the next is
    // taken; X's gift reaches the warehouse with the donor's email. Y syncs the same way.
    sim.destinations.setDestinationFaults(account, {
      statusFor: { [(x.email as string).toLowerCase()]: 422 },
    });
    sim.control.updateRecord(org, 'donor', x.id);
    await expectEventually(
      async () => {
        const dead = await stack.dataSource.query<unknown[]>(
          `SELECT 1 FROM dead_letters WHERE customer_id = $1 AND resource = 'donor' AND source_id = $2
             AND payload IS NOT NULL`,
          [id, String(x.id)],
        );
        expect(dead.length).toBeGreaterThan(0);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    sim.destinations.setDestinationFaults(account, {});
    sim.control.updateRecord(org, 'donor', x.id);
    sim.control.updateRecord(org, 'donor', y.id);
    sim.control.updateRecord(org, 'gift', xGift.id);
    await expectEventually(
      async () => {
        const members = sim.destinations.members(account).map((m) => m.email_address);
        expect(members).toEqual(
          expect.arrayContaining([x.email?.toLowerCase(), y.email?.toLowerCase()]),
        );
        const rows = await stack.dataSource.query<unknown[]>(
          `SELECT 1 FROM warehouse.raise_gift WHERE customer_id = $1 AND source_id = $2 AND donor_email IS NOT NULL`,
          [id, String(xGift.id)],
        );
        expect(rows.length).toBe(1);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    for (const needle of needlesOf(x)) {
      const found = Object.keys(await rowsNaming(needle)).length;
      const inPayloads = (await payloadTexts()).filter((t) => t.includes(needle)).length;
      expect({ needle, present: found + inPayloads > 0 }).toEqual({ needle, present: true });
    }

    // The admin call (twice: idempotent).
    const erased = await ingest.admin<ErasureBody>(
      'POST',
      `/admin/customers/${id}/donors/${x.id}/erase`,
      { requestedBy: 'dpo@erasure-trust.example' },
    );
    expect(erased.status).toBe(200);
    expect(erased.body).toMatchObject({
      customerId: id,
      donorId: String(x.id),
      status: 'completed',
      trigger: 'admin',
      requestedBy: 'dpo@erasure-trust.example',
      destinations: { warehouse: 'anonymised', marketing: 'archived' },
    });
    expect(erased.body.rowsRedacted['dead_letters']).toBeGreaterThan(0);
    const again = await ingest.admin<ErasureBody>(
      'POST',
      `/admin/customers/${id}/donors/${x.id}/erase`,
      { requestedBy: 'someone else' },
    );
    expect(again.body).toEqual(erased.body);

    for (const needle of needlesOf(x)) {
      expect({ needle, rows: await rowsNaming(needle) }).toEqual({ needle, rows: {} });
      expect((await payloadTexts()).filter((t) => t.includes(needle))).toEqual([]);
    }
    expect(Object.keys(await rowsNaming(y.email as string))).toContain('warehouse.raise_donor');
    const member = sim.destinations
      .members(account)
      .find((m) => m.id === subscriberHash(x.email as string));
    expect(member?.status).toBe('archived');
    const record = await ingest.admin<ErasureBody>(
      'GET',
      `/admin/customers/${id}/donors/${x.id}/erasure`,
    );
    expect(record.status).toBe(200);
    const trail = await submitter.admin<{ found: boolean; erasure?: { status: string } }>(
      'GET',
      `/console/api/customers/${id}/records/${x.id}?resource=donor`,
    );
    expect(trail.status).toBe(200);
    expect(trail.body.erasure?.status).toBe('erased');

    // The CLI goes through the same call, recorded as 'cli' (a donor the pipeline never saw).
    const cli = resolve(__dirname, '../../../dist/apps/ingest/apps/ingest/src/erase-donor.cli.js');
    const viaCli = await promisify(execFile)(
      process.execPath,
      [cli, 'erase', '--customer', id, '--donor', '999999', '--requested-by', 'ops-ticket-42'],
      { env: { ...process.env, ADMIN_TOKEN, INGEST_URL: ingest.app.url } },
    );
    expect(JSON.parse(viaCli.stdout)).toMatchObject({
      donorId: '999999',
      status: 'completed',
      trigger: 'cli',
      requestedBy: 'ops-ticket-42',
    });

    // Y is flagged isGDPRDeleted at Raise: the change's arrival erases Y on its own.
    sim.control.updateRecord(org, 'donor', y.id, { isGDPRDeleted: true });
    await expectEventually(
      async () => {
        const auto = await ingest.admin<ErasureBody>(
          'GET',
          `/admin/customers/${id}/donors/${y.id}/erasure`,
        );
        expect(auto.status).toBe(200);
        expect(auto.body).toMatchObject({ status: 'completed', trigger: 'isGDPRDeleted' });
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    for (const needle of needlesOf(y)) {
      expect({ needle, rows: await rowsNaming(needle) }).toEqual({ needle, rows: {} });
    }
    expect(
      sim.destinations.members(account).find((m) => m.id === subscriberHash(y.email as string))
        ?.status,
    ).toBe('archived');
  });
});

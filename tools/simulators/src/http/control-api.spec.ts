import type { RaiseGiftModel, RaisePage, RaiseWebhookPayload } from '@raise-sync/sources';
import { call, startReceiver } from '../../test/helpers';
import { parseCliArgs, startFromArgs } from '../cli';
import { connectSimulator } from '../client';
import { SimulatorError } from '../errors';
import { startSimulator } from '../simulator';
import type { OrgSummary, Simulator } from '../types';

describe('control API over HTTP', () => {
  let sim: Simulator;
  let control: string;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 8, webhooks: { baseDelayMs: 10 } });
    control = `${sim.url}/_sim`;
  });

  afterAll(() => sim.stop());

  it('creates an org with reproducible data and lists it', async () => {
    const options = {
      id: 'remote',
      raiseToken: 'rr',
      vomoToken: 'rv',
      seed: 99,
      gifts: 300,
      donors: 60,
    };
    const created = await call<OrgSummary>(`${control}/orgs`, { body: options });
    expect(created.status).toBe(201);
    expect(created.body.counts.gift).toBe(300);
    // Same seed in-process: identical records.
    sim.control.createOrg({ ...options, id: 'local', raiseToken: 'lr', vomoToken: 'lv' });
    const remote = await call<RaiseGiftModel[]>(`${control}/orgs/remote/records/gift`);
    expect(remote.body).toEqual(sim.control.records('local', 'gift'));
    const listed = await call<OrgSummary[]>(`${control}/orgs`);
    expect(listed.body.map((o) => o.id)).toEqual(['remote', 'local']);
    const duplicate = await call<{ error: string }>(`${control}/orgs`, { body: options });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error).toContain('remote');
  });

  it('mutates records and reads them back, including late modifications', async () => {
    const created = await call<RaiseGiftModel>(`${control}/orgs/remote/records/gift`, {
      body: { amount: 321 },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const updated = await call<RaiseGiftModel>(`${control}/orgs/remote/records/gift/${id}`, {
      method: 'PATCH',
      body: { amount: 322 },
    });
    expect(updated.body.amount).toBe(322);
    const late = await call<RaiseGiftModel>(
      `${control}/orgs/remote/records/gift/${id}/late-modify`,
      {
        body: { at: '2020-01-01T00:00:00.000Z' },
      },
    );
    expect(late.body.modifiedDate).toBe('2020-01-01T00:00:00.000Z');
    // A poller sorting by modified date now finds it first.
    const polled = await call<RaisePage<RaiseGiftModel>>(`${sim.raiseUrl}/api/Gift/query`, {
      token: 'rr',
      body: { sortBy: 'modifieddate', take: 1 },
    });
    expect(polled.body.items[0]!.id).toBe(id);
    const deleted = await call(`${control}/orgs/remote/records/gift/${id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect((await call<number[]>(`${control}/orgs/remote/deleted/gift`)).body).toEqual([id]);
    const keys = await call<Array<{ id: number }>>(`${control}/orgs/remote/records/gift?keys=true`);
    expect(keys.body).toHaveLength(300);
    expect(keys.body.some((k) => k.id === id)).toBe(false);
    const missing = await call<{ error: string }>(`${control}/orgs/remote/records/gift/${id}`, {
      method: 'PATCH',
      body: {},
    });
    expect(missing.status).toBe(404);
  });

  it('sets faults, reads stats and resets both', async () => {
    const set = await call(`${control}/faults/remote`, {
      method: 'PUT',
      body: { unauthorized: true },
    });
    expect(set.status).toBe(200);
    expect((await call(`${sim.raiseUrl}/api/Gift/list`, { token: 'rr' })).status).toBe(401);
    const stats = await call<{ requests: { byStatus: Record<string, number> } }>(
      `${control}/orgs/remote/stats`,
    );
    expect(stats.body.requests.byStatus['401']).toBeGreaterThanOrEqual(1);
    const invalid = await call<{ error: string }>(`${control}/faults/remote`, {
      method: 'PUT',
      body: { errorRate: 7 },
    });
    expect(invalid.status).toBe(400);
    expect((await call(`${control}/faults`, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`${sim.raiseUrl}/api/Gift/list`, { token: 'rr' })).status).toBe(200);
    expect((await call(`${control}/stats`, { method: 'DELETE' })).status).toBe(204);
    const cleared = await call<{ requests: { total: number } }>(`${control}/orgs/remote/stats`);
    expect(cleared.body.requests.total).toBe(0);
    const wildcard = await call(`${control}/faults/*`, { method: 'PUT', body: { latencyMs: 1 } });
    expect(wildcard.status).toBe(200);
    expect(sim.control.getFaults()).toEqual({ '*': { latencyMs: 1 } });
    sim.control.resetFaults();
  });

  it('emits webhooks in bulk, flushes, and reports deliveries and drops', async () => {
    const receiver = await startReceiver();
    try {
      await call(`${sim.raiseUrl}/api/Webhook`, {
        token: 'lr',
        body: {
          name: 'x',
          notificationUrl: receiver.url,
          eventTypesList: [10],
          securityToken: 'k',
        },
      });
      await call(`${control}/faults/local`, { method: 'PUT', body: { dropWebhookRate: 0.5 } });
      const emitted = await call<{ count: number }>(`${control}/orgs/local/emit-webhooks`, {
        body: { count: 40, resource: 'gift' },
      });
      expect(emitted.body.count).toBe(40);
      expect((await call(`${control}/webhooks/flush`, { method: 'POST' })).status).toBe(204);
      const dropped = await call<unknown[]>(`${control}/orgs/local/webhooks/dropped`);
      const deliveries = await call<unknown[]>(`${control}/orgs/local/webhooks/deliveries`);
      expect(dropped.body.length + deliveries.body.length).toBe(40);
      expect(receiver.requests).toHaveLength(deliveries.body.length);
      expect((receiver.requests[0]!.json as RaiseWebhookPayload).eventType).toBe(10);
    } finally {
      sim.control.resetFaults();
      await receiver.close();
    }
  });

  it('offers the same operations through connectSimulator()', async () => {
    const remote = connectSimulator(sim.url);
    const org = await remote.createOrg({
      id: 'client',
      raiseToken: 'cr',
      vomoToken: 'cv',
      users: 5,
    });
    expect(org.counts.user).toBe(5);
    const user = await remote.createUser('client', { first_name: 'Kai', email: 'kai@example.org' });
    expect(user.first_name).toBe('Kai');
    const updated = await remote.updateUser('client', Number(user.id), { last_name: 'Tanaka' });
    expect(updated.full_name).toBe('Kai Tanaka');
    expect(await remote.records('client', 'user')).toHaveLength(6);
    await remote.setWebhookRetry({ attempts: 2 });
    await remote.setFaults('client', { errorRate: 0.5 });
    expect(await remote.getFaults()).toEqual({ client: { errorRate: 0.5 } });
    await remote.resetFaults();
    await remote.removeOrg('client');
    await expect(remote.stats('client')).rejects.toBeInstanceOf(SimulatorError);
    await remote.setWebhookRetry({ attempts: 5 });
  });
});

describe('command line', () => {
  it('parses flags in both spellings and rejects unknown ones', () => {
    expect(parseCliArgs(['--port', '0', '--seed=42', '--orgs', 'demo:5000,b'])).toEqual({
      port: 0,
      host: '127.0.0.1',
      seed: 42,
      orgs: [
        { id: 'demo', gifts: 5000 },
        { id: 'b', gifts: 1000 },
      ],
      help: false,
    });
    expect(() => parseCliArgs(['--colour', 'red'])).toThrow('--colour');
    expect(() => parseCliArgs(['--port', 'x'])).toThrow('--port');
  });

  it('starts orgs with predictable tokens and prints a one-line banner', async () => {
    const { simulator, banner } = await startFromArgs(
      parseCliArgs(['--port', '0', '--orgs', 'demo:500']),
    );
    try {
      const parsed = JSON.parse(banner) as {
        url: string;
        crmUrl: string;
        hooksUrl: string;
        orgs: Array<{ raiseToken: string }>;
      };
      expect(banner).not.toContain('\n');
      expect(parsed.url).toBe(simulator.url);
      expect(parsed.crmUrl).toBe(`${simulator.url}/crm`);
      expect(parsed.hooksUrl).toBe(`${simulator.url}/hooks`);
      expect(parsed.orgs[0]!.raiseToken).toBe('demo-raise-token');
      const { body } = await call<RaisePage<RaiseGiftModel>>(
        `${simulator.raiseUrl}/api/Gift/list`,
        {
          token: 'demo-raise-token',
        },
      );
      expect(body.total).toBe(500);
    } finally {
      await simulator.stop();
    }
  });
});

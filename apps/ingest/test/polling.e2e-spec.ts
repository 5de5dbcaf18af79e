import { expectEventually, scrapeMetric, useTestStack } from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { onboard, readResourceEvents, startIngest, type IngestUnderTest } from './support';

interface Checkpoint {
  resource: string;
  last_processed_at: Date;
  last_processed_id: string;
}

describe('ingest: checkpointed polling (real Kafka, registry, PostgreSQL, simulator)', () => {
  const stack = useTestStack();
  let sim: Simulator;
  let ingest: IngestUnderTest;

  const idsOnTopic = async (
    customerId: string,
    resource: 'gift' | 'donor' | 'user',
  ): Promise<Set<string>> => {
    const events = await readResourceEvents(
      stack,
      ingest.topicPrefix,
      resource === 'user' ? 'vomo' : 'raise',
      resource,
    );
    return new Set(
      events.filter((e) => e.event.customerId === customerId).map((e) => e.event.recordId),
    );
  };
  const simIds = (org: string, resource: string): Set<string> =>
    new Set(
      sim.control
        .records(org, resource as never)
        .map((r) => String((r as { id: number | string }).id)),
    );
  const checkpoints = (customerId: string): Promise<Checkpoint[]> =>
    stack.dataSource.query(
      `SELECT resource, last_processed_at, last_processed_id FROM checkpoints WHERE customer_id = $1 ORDER BY resource`,
      [customerId],
    );

  beforeAll(async () => {
    sim = await startSimulator({ seed: 23 });
    ingest = await startIngest(stack, sim, { POLL_LEASE_SECONDS: '5' });
  });

  afterAll(async () => {
    await ingest?.app.stop('SIGTERM');
    await sim?.stop();
  });

  it('with webhooks off, new and modified records arrive within one poll cycle; checkpoints sit on record timestamps', async () => {
    const c = await onboard(ingest, sim, `poll-${stack.prefix}`, {
      webhooks: false,
      vomo: true,
      polling: { enabled: true, intervalSeconds: 2 },
      data: { gifts: 40, donors: 10, users: 20 },
    });
    sim.control.setFaults(c.org, { webhooksEnabled: false });
    // The first passes read the whole (small) history.
    await expectEventually(
      async () => expect(await idsOnTopic(c.id, 'gift')).toEqual(simIds(c.org, 'gift')),
      {
        timeoutMs: 20_000,
      },
    );
    await expectEventually(
      async () => expect(await idsOnTopic(c.id, 'user')).toEqual(simIds(c.org, 'user')),
      {
        timeoutMs: 20_000,
      },
    );

    // New activity: created and modified gifts and users show up within one cycle (2 s) plus slack.
    const created = sim.control.createRecord(c.org, 'gift');
    const donors = sim.control.records(c.org, 'donor');
    const modified = sim.control.updateRecord(c.org, 'donor', (donors[0] as { id: number }).id);
    sim.control.createUser(c.org);
    const started = Date.now();
    await expectEventually(
      async () => {
        expect(await idsOnTopic(c.id, 'gift')).toContain(String((created as { id: number }).id));
        expect(await idsOnTopic(c.id, 'user')).toEqual(simIds(c.org, 'user'));
      },
      { timeoutMs: 10_000 },
    );
    expect(Date.now() - started).toBeLessThan(2000 + 3000);
    const donorEvents = await readResourceEvents(stack, ingest.topicPrefix, 'raise', 'donor');
    const updates = donorEvents.filter(
      (e) =>
        e.event.customerId === c.id && e.event.recordId === String((modified as { id: number }).id),
    );
    expect(updates.map((e) => e.event.sourceModifiedAt.toISOString())).toContain(
      (modified as { modifiedDate: string }).modifiedDate,
    );

    // Checkpoints: the newest record's own (timestamp, id), never the wall clock.
    await expectEventually(async () => {
      const rows = await checkpoints(c.id);
      const gift = rows.find((r) => r.resource === 'gift');
      const gifts = sim.control.records(c.org, 'gift') as Array<{
        id: number;
        modifiedDate: string;
      }>;
      const newest = [...gifts].sort(
        (a, b) => a.modifiedDate.localeCompare(b.modifiedDate) || a.id - b.id,
      )[gifts.length - 1];
      expect(gift?.last_processed_at.toISOString()).toBe(newest?.modifiedDate);
      expect(gift?.last_processed_id).toBe(String(newest?.id));
    });
    // A late-modified record (modified time in the past, no webhook) is older than the
    // checkpoint: polling cannot see it, which is exactly what the reconciler is for. The
    // checkpoint does not move backwards either.
    const before = (await checkpoints(c.id)).find((r) => r.resource === 'gift');
    sim.control.lateModify(
      c.org,
      'gift',
      (created as { id: number }).id,
      '2020-01-01T00:00:00.000Z',
    );
    await new Promise((r) => setTimeout(r, 2500));
    const after = (await checkpoints(c.id)).find((r) => r.resource === 'gift');
    expect(after?.last_processed_at.toISOString()).toBe(before?.last_processed_at.toISOString());
    expect(
      await scrapeMetric(ingest.app.url, 'raise_sync_poll_cycles_total', {
        customer_id: c.id,
        outcome: 'failed',
      }),
    ).toBe(0);
  });

  it('killing the poller (SIGKILL) mid-run and restarting loses nothing: exact set comparison', async () => {
    const c = await onboard(ingest, sim, `kill-${stack.prefix}`, {
      webhooks: false,
      polling: { enabled: true, intervalSeconds: 1 },
      data: { gifts: 6000 },
    });
    // Slow this org down (1 page of 500 per ~0.5 s) so the kill lands mid-run.
    sim.control.setFaults(c.org, { latencyMs: 400 });
    await expectEventually(
      async () => {
        const gift = (await checkpoints(c.id)).find((r) => r.resource === 'gift');
        expect(gift).toBeDefined();
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(await ingest.app.stop('SIGKILL')).toBeNull();
    const partial = await idsOnTopic(c.id, 'gift');
    const all = simIds(c.org, 'gift');
    expect(partial.size).toBeGreaterThan(0);
    expect(partial.size).toBeLessThan(all.size);

    ingest = await startIngest(stack, sim, { POLL_LEASE_SECONDS: '5' }, ingest.topicPrefix);
    await expectEventually(async () => expect(await idsOnTopic(c.id, 'gift')).toEqual(all), {
      timeoutMs: 60_000,
      intervalMs: 1000,
    });
  });
});

describe('ingest: per-customer rate budgets against a rate-limiting source', () => {
  const stack = useTestStack();
  let sim: Simulator;
  let ingest: IngestUnderTest;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 29 });
    ingest = await startIngest(stack, sim, { POLL_CONCURRENCY: '8' });
  });

  afterAll(async () => {
    await ingest?.app.stop('SIGTERM');
    await sim?.stop();
  });

  it("429s slow one customer down without errors, and do not slow another customer's polling", async () => {
    const arrived = async (customerId: string): Promise<number> => {
      const events = await readResourceEvents(stack, ingest.topicPrefix, 'raise', 'gift');
      return new Set(
        events.filter((e) => e.event.customerId === customerId).map((e) => e.event.recordId),
      ).size;
    };
    const a = await onboard(ingest, sim, `limited-${stack.prefix}`, {
      webhooks: false,
      polling: { enabled: false },
      data: { gifts: 3000 },
    });
    const b = await onboard(ingest, sim, `free-${stack.prefix}`, {
      webhooks: false,
      polling: { enabled: false },
      data: { gifts: 3000 },
    });
    // The source allows customer A one request per second (Raise rate limits per organization).
    sim.control.setFaults(a.org, { rateLimit: { requestsPerSecond: 1, burst: 1 } });
    const started = Date.now();
    for (const c of [a, b]) {
      const on = await ingest.admin('PUT', `/admin/customers/${c.id}/sources/raise`, {
        polling: { enabled: true, intervalSeconds: 3600 },
      });
      expect(on.status).toBe(200);
    }
    let bDoneAt = 0;
    await expectEventually(
      async () => {
        expect(await arrived(b.id)).toBe(3000);
        bDoneAt = Date.now() - started;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    let aDoneAt = 0;
    await expectEventually(
      async () => {
        expect(await arrived(a.id)).toBe(3000);
        aDoneAt = Date.now() - started;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const limitedA = await scrapeMetric(ingest.app.url, 'raise_sync_source_rate_limited_total', {
      customer_id: a.id,
    });
    const limitedB = await scrapeMetric(ingest.app.url, 'raise_sync_source_rate_limited_total', {
      customer_id: b.id,
    });
    const failedA = await scrapeMetric(ingest.app.url, 'raise_sync_poll_cycles_total', {
      customer_id: a.id,
      outcome: 'failed',
    });
    process.stdout.write(
      `rate-limit isolation: B (unlimited) all 3000 gifts after ${bDoneAt} ms; A (1 req/s at the source, ${limitedA} x 429) after ${aDoneAt} ms\n`,
    );
    expect(limitedA).toBeGreaterThan(0);
    expect(limitedB).toBe(0);
    expect(failedA).toBe(0);
    expect(bDoneAt).toBeLessThan(aDoneAt);
    expect(sim.control.stats(a.org).rateLimited).toBeGreaterThan(0);
  });
});

describe('ingest: two replicas share the poll schedule through leases', () => {
  const stack = useTestStack();
  let sim: Simulator;
  const replicas: IngestUnderTest[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ seed: 37 });
    replicas.push(await startIngest(stack, sim, { POLL_TICK_MS: '100' }));
    replicas.push(
      await startIngest(
        stack,
        sim,
        { POLL_TICK_MS: '100' },
        (replicas[0] as IngestUnderTest).topicPrefix,
      ),
    );
  });

  afterAll(async () => {
    for (const r of replicas) {
      await r.app.stop('SIGTERM');
    }
    await sim?.stop();
  });

  it('never polls the same customer-resource from both replicas: no page is requested twice', async () => {
    const [first] = replicas as [IngestUnderTest, IngestUnderTest];
    const customers = [];
    for (let i = 0; i < 4; i += 1) {
      customers.push(
        await onboard(first, sim, `lease${i}-${stack.prefix}`, {
          webhooks: false,
          polling: { enabled: false },
          data: { gifts: 2000 },
        }),
      );
    }
    for (const c of customers) {
      sim.control.setFaults(c.org, { latencyMs: 50 });
      await first.admin('PUT', `/admin/customers/${c.id}/sources/raise`, {
        polling: { enabled: true, intervalSeconds: 3600 },
      });
    }
    await expectEventually(
      async () => {
        const events = await readResourceEvents(stack, first.topicPrefix, 'raise', 'gift');
        expect(events.length).toBeGreaterThanOrEqual(8000);
        expect(new Set(events.map((e) => e.key)).size).toBe(8000);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    for (const c of customers) {
      const pages = sim.control.stats(c.org).pages['gift'] ?? [];
      const starts = pages.map((p) => `${p.firstId}-${p.lastId}`);
      expect(pages.length).toBeGreaterThan(0);
      expect(new Set(starts).size).toBe(starts.length);
    }
    // Both replicas did polling work (the schedule was shared, not owned by one).
    const passes = await Promise.all(
      replicas.map((r) =>
        scrapeMetric(r.app.url, 'raise_sync_poll_cycles_total', { outcome: 'ok' }),
      ),
    );
    expect(passes.every((n) => n > 0)).toBe(true);
  });
});

import { randomBytes } from 'node:crypto';
import { EVENT_HEADERS, topicsFor } from '@raise-sync/shared/kafka';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { expectEventually, scrapeMetric, useTestStack } from '@raise-sync/testing';
import {
  closedNow,
  destinationsViaSubmitter,
  onboardWithWebhooks,
  reconcile,
  sorted,
  startIngest,
  startReconciler,
  startSubmitter,
  topicMessageCount,
  warehouseIds,
  type AppUnderTest,
  type Onboarded,
} from './support';

const PAGE_SIZE = 200;
const GIFTS = 5000;

/**
 * The whole pipeline with real Kafka, registry and PostgreSQL: the simulated Raise sends signed
 * webhooks to a real ingest, a real submitter writes the warehouse, and the reconciler compares
 * the simulator's records with what arrived. Polling is off, so a dropped webhook is a gap only
 * reconciliation can find.
 */
describe('reconciler: window reconciliation and deletion detection across the pipeline', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-rec`;
  const giftTopic = topicsFor(prefix).sourceEvents('raise', 'gift');
  const bulkGiftTopic = topicsFor(prefix).bulkEvents('raise', 'gift');
  let sim: Simulator;
  let ingest: AppUnderTest;
  let submitter: AppUnderTest;
  let reconciler: AppUnderTest;
  let customer: Onboarded;
  let window: { windowStart: string; windowEnd: string };
  let created: string[];
  let dropped: string[];

  beforeAll(async () => {
    sim = await startSimulator({ seed: 505 });
    // Assigned one by one, so afterAll stops whatever started even if another app did not.
    await Promise.all([
      startIngest(stack, prefix, sim).then((app) => (ingest = app)),
      startSubmitter(stack, prefix, sim).then((app) => (submitter = app)),
      startReconciler(stack, prefix, sim, { RECONCILER_PAGE_SIZE: String(PAGE_SIZE) }).then(
        (app) => (reconciler = app),
      ),
    ]);
    customer = await onboardWithWebhooks(
      ingest,
      destinationsViaSubmitter(submitter),
      sim,
      `rec-${randomBytes(3).toString('hex')}`,
      {
        donors: 50,
      },
    );
  });

  afterAll(async () => {
    await Promise.all([
      ingest?.app.stop('SIGTERM'),
      submitter?.app.stop('SIGTERM'),
      reconciler?.app.stop('SIGTERM'),
    ]);
    await sim?.stop();
  });

  it('finds exactly the records whose webhooks were dropped, republishes them, and a second run finds none', async () => {
    const start = new Date();
    sim.control.setFaults(customer.org, { dropWebhookRate: 0.02 });
    const emitted = sim.control.emitWebhooks(customer.org, { count: GIFTS, resource: 'gift' });
    created = Array.from({ length: GIFTS }, (_, i) => String((emitted.firstId as number) + i));
    await sim.control.flushWebhooks();
    dropped = sorted(
      sim.control
        .droppedWebhooks(customer.org)
        .filter((d) => d.eventType === 10)
        .map((d) => d.contextId),
    );
    // 2% of 5,000: the seeded stream drops a definite set, neither none nor everything.
    expect(dropped.length).toBeGreaterThan(40);
    expect(dropped.length).toBeLessThan(200);

    // The pipeline settles: everything not dropped is in the warehouse, nothing more.
    await expectEventually(
      async () =>
        expect(await warehouseIds(stack, customer.id)).toHaveLength(GIFTS - dropped.length),
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const end = await closedNow(sim, customer.org);
    window = { windowStart: start.toISOString(), windowEnd: end.toISOString() };
    // Live and bulk: what ingest sent beyond the customer's live share went to the bulk topic.
    const inTopicBefore =
      (await topicMessageCount(stack, giftTopic)) + (await topicMessageCount(stack, bulkGiftTopic));
    expect(inTopicBefore).toBe(GIFTS - dropped.length);

    sim.control.resetStats();
    const run = await reconcile(reconciler, customer.id, window);
    expect(run).toMatchObject({ status: 'done', error: null, trigger: 'admin' });
    expect(run.counts).toMatchObject({
      source_total: GIFTS,
      destination_total: GIFTS - dropped.length,
      missing_in_destination: dropped.length,
      'missing_in_destination:warehouse': dropped.length,
      stale: 0,
      republished: dropped.length,
      unreadable: 0,
    });
    const found = run.discrepancies.items;
    expect(run.discrepancies.total).toBe(dropped.length);
    expect(sorted(found.map((d) => d.sourceId))).toEqual(dropped);
    expect(new Set(found.map((d) => d.state))).toEqual(new Set(['missing_in_destination']));
    expect(found.every((d) => d.actionable && d.republished)).toBe(true);
    expect(found[0]?.details).toMatchObject({ destination: 'warehouse', had: { exists: false } });

    // Republished to the bulk lane with origin=reconcile, and delivered by the submitter.
    // (Beside the webhooks beyond the customer's live share, which ingest sent there too.)
    const messages = await stack.consumeAll(bulkGiftTopic, {
      count: await topicMessageCount(stack, bulkGiftTopic),
      timeoutMs: 30_000,
    });
    const reconciled = messages.filter((m) => m.headers[EVENT_HEADERS.origin] === 'reconcile');
    expect(sorted(reconciled.map((m) => (m.key ?? '').split(':')[2] as string))).toEqual(dropped);
    await expectEventually(
      async () => expect(sorted(await warehouseIds(stack, customer.id))).toEqual(sorted(created)),
      { timeoutMs: 60_000, intervalMs: 500 },
    );

    // Memory bound, structurally: the window was read page by page, never more than the page size.
    const pages = sim.control.stats(customer.org).pages.gift ?? [];
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(GIFTS / PAGE_SIZE));
    expect(pages.every((p) => p.take <= PAGE_SIZE && p.count <= PAGE_SIZE)).toBe(true);

    const again = await reconcile(reconciler, customer.id, window);
    expect(again.status).toBe('done');
    expect(again.counts).toMatchObject({
      source_total: GIFTS,
      destination_total: GIFTS,
      missing_in_destination: 0,
      stale: 0,
      republished: 0,
    });
    expect(again.discrepancies.total).toBe(0);
    expect(
      (await topicMessageCount(stack, giftTopic)) + (await topicMessageCount(stack, bulkGiftTopic)),
    ).toBe(GIFTS);
    expect(
      await scrapeMetric(reconciler.app.url, 'raise_sync_reconciliation_last_run', {
        customer_id: customer.id,
        kind: 'window',
        measure: 'missing_in_destination',
      }),
    ).toBe(0);
    expect(
      await scrapeMetric(reconciler.app.url, 'raise_sync_reconciliation_republished_total', {
        customer_id: customer.id,
        kind: 'window',
      }),
    ).toBe(dropped.length);
  });

  it('finds rows the warehouse lost or holds in an older version although the sync state says delivered, and restores them', async () => {
    const lost = created.filter((_, i) => i % 250 === 7); // 20 rows
    const stale = created.filter((_, i) => i % 1000 === 500); // 5 rows
    await stack.dataSource.query(
      `DELETE FROM warehouse.raise_gift WHERE customer_id = $1 AND source_id = ANY($2::text[])`,
      [customer.id, lost],
    );
    await stack.dataSource.query(
      `UPDATE warehouse.raise_gift SET amount = 0, source_modified_at = source_modified_at - interval '1 hour'
        WHERE customer_id = $1 AND source_id = ANY($2::text[])`,
      [customer.id, stale],
    );
    const delivered: Array<{ n: string }> = await stack.dataSource.query(
      `SELECT count(*) AS n FROM sync_records WHERE customer_id = $1 AND status = 'confirmed'
          AND source_id = ANY($2::text[])`,
      [customer.id, [...lost, ...stale]],
    );
    expect(Number(delivered[0]?.n)).toBe(lost.length + stale.length);

    const run = await reconcile(reconciler, customer.id, window);
    expect(run.status).toBe('done');
    expect(run.counts).toMatchObject({
      source_total: GIFTS,
      missing_in_destination: lost.length,
      stale: stale.length,
      republished: lost.length + stale.length,
      sync_state_invalidated: lost.length + stale.length,
    });
    const byState = (state: string) =>
      sorted(run.discrepancies.items.filter((d) => d.state === state).map((d) => d.sourceId));
    expect(byState('missing_in_destination')).toEqual(sorted(lost));
    expect(byState('stale_in_destination')).toEqual(sorted(stale));

    await expectEventually(
      async () => {
        const rows: Array<{ source_id: string; amount: string; current: boolean }> =
          await stack.dataSource.query(
            `SELECT w.source_id, w.amount, w.source_modified_at = s.source_modified_at AS current
               FROM warehouse.raise_gift w
               JOIN sync_records s ON s.customer_id = w.customer_id AND s.resource = 'gift' AND s.source_id = w.source_id
              WHERE w.customer_id = $1 AND w.source_id = ANY($2::text[])`,
            [customer.id, [...lost, ...stale]],
          );
        expect(rows).toHaveLength(lost.length + stale.length);
        expect(rows.every((r) => r.current && Number(r.amount) > 0)).toBe(true);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const after = await reconcile(reconciler, customer.id, window);
    expect(after.counts).toMatchObject({ missing_in_destination: 0, stale: 0, republished: 0 });
  });

  it('deletion detection: records deleted in the source without a webhook are soft-deleted in the warehouse, once', async () => {
    sim.control.setFaults(customer.org, { webhooksEnabled: false });
    const deleted = sorted(created.filter((_, i) => i % 500 === 123)); // 10 records
    for (const id of deleted) {
      sim.control.deleteRecord(customer.org, 'gift', Number(id));
    }
    sim.control.resetStats();
    const end = await closedNow(sim, customer.org);
    const run = await reconcile(reconciler, customer.id, {
      kind: 'deletion',
      windowEnd: end.toISOString(),
    });
    expect(run).toMatchObject({ status: 'done', kind: 'deletion', error: null });
    expect(run.windowStart).toBe(new Date(0).toISOString());
    expect(run.counts).toMatchObject({
      destination_total: GIFTS,
      missing_in_source: deleted.length,
      'missing_in_source:warehouse': deleted.length,
      republished: deleted.length,
    });
    expect(sorted(run.discrepancies.items.map((d) => d.sourceId))).toEqual(deleted);
    expect(new Set(run.discrepancies.items.map((d) => d.state))).toEqual(
      new Set(['deleted_in_source']),
    );
    const pages = sim.control.stats(customer.org).pages.gift ?? [];
    expect(pages.length).toBeGreaterThan(0);
    expect(pages.every((p) => p.take <= PAGE_SIZE && p.count <= PAGE_SIZE)).toBe(true);

    await expectEventually(
      async () => {
        const rows: Array<{ source_id: string }> = await stack.dataSource.query(
          `SELECT source_id FROM warehouse.raise_gift WHERE customer_id = $1 AND deleted_at IS NOT NULL`,
          [customer.id],
        );
        expect(sorted(rows.map((r) => r.source_id))).toEqual(deleted);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(await warehouseIds(stack, customer.id)).toHaveLength(GIFTS - deleted.length);

    const again = await reconcile(reconciler, customer.id, {
      kind: 'deletion',
      windowEnd: new Date().toISOString(),
    });
    expect(again.counts).toMatchObject({ missing_in_source: 0, republished: 0 });
    expect(again.discrepancies.total).toBe(0);
  });
});

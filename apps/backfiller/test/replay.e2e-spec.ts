import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { SecretBox } from '@raise-sync/shared/crypto';
import { EventCodec } from '@raise-sync/shared/kafka';
import { EVENT_HEADERS, topicsFor } from '@raise-sync/shared/kafka';
import { DestinationEntity, REPLAY_DESTINATION_HEADER } from '@raise-sync/shared/state';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  expectEventually,
  readTopic,
  scrapeMetric,
  useTestStack,
  type RunningApp,
} from '@raise-sync/testing';
import {
  ADMIN_TOKEN,
  SECRETS_KEY,
  createRaiseCustomer,
  publishLiveGiftChanges,
  startBackfiller,
  startSubmitter,
  waitForRunStatus,
  warehouseGiftCount,
  type BackfillerUnderTest,
  type RaiseCustomer,
} from './support';

jest.setTimeout(120_000);

const GIFTS = 1200;
/** Gifts of each customer changed after the backfill, by webhook: newer versions in the live topic. */
const CHANGED = 150;
const CLI = resolve(__dirname, '../../../dist/apps/backfiller/apps/backfiller/src/replay.cli.js');
const run = promisify(execFile);

interface ReplayBody {
  id: string;
  status: string;
  topic: string;
  topics: string[];
  destinationId: string | null;
  trigger: string;
  partitions: Array<{
    topic?: string;
    partition: number;
    from: number;
    to: number;
    position: number;
  }>;
  progress: {
    offsetsTotal: number;
    offsetsDone: number;
    percent: number;
    scanned: number;
    matched: number;
    published: number;
    undecodable: number;
  };
}

type Row = Record<string, unknown>;

/**
 * Every column of a customer's warehouse gifts, ordered by source ID. `synced_at` (the time the
 * warehouse wrote the row, set by the database on every write) is left out unless asked for: a
 * restore-and-replay writes the rows again, so only that column may differ.
 */
async function warehouseGifts(
  stack: ReturnType<typeof useTestStack>,
  customerId: string,
  withWriteTime: boolean,
): Promise<Row[]> {
  const rows = await stack.dataSource.query<Row[]>(
    `SELECT * FROM warehouse.raise_gift WHERE customer_id = $1 ORDER BY source_id`,
    [customerId],
  );
  return rows.map((row) => {
    const { synced_at: syncedAt, ...data } = row;
    // JSON round trip: dates become ISO strings, numerics stay their exact text.
    return JSON.parse(
      JSON.stringify(withWriteTime ? { ...data, synced_at: syncedAt } : data),
    ) as Row;
  });
}

describe('backfiller: topic replay restores a wiped destination exactly', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-rpl`;
  // Backfilled history sits in the bulk lane of the gift topic; replay copies go back there.
  const topic = topicsFor(prefix).bulkEvents('raise', 'gift');
  // Changes that came by webhook after the backfill are in the live topic.
  const liveTopic = topicsFor(prefix).sourceEvents('raise', 'gift');
  let sim: Simulator;
  let submitter: RunningApp;
  let backfiller: BackfillerUnderTest;
  let a: RaiseCustomer;
  let b: RaiseCustomer;
  let aWarehouse = '';
  let aWebhook = '';
  const hookAccount = `hook-${stack.prefix}`;
  let windowFrom: Date;
  let windowTo: Date;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 23 });
    submitter = await startSubmitter(stack, sim, prefix);
    backfiller = await startBackfiller(stack, sim, prefix, {
      SOURCE_RATE_LIMITS: 'raise=20:10,vomo=10:5',
      BACKFILL_PAGE_SIZE: '400',
      BACKFILL_LEASE_SECONDS: '10',
    });
    const data = { gifts: GIFTS, donors: 200, campaigns: 2, recurringGifts: 5, users: 0 };
    a = await createRaiseCustomer(stack, sim, `rpl-a-${stack.prefix}`, data);
    b = await createRaiseCustomer(stack, sim, `rpl-b-${stack.prefix}`, data);
    const destinations = stack.dataSource.getRepository(DestinationEntity);
    aWarehouse =
      (await destinations.findOneByOrFail({ customerId: a.id, kind: 'warehouse' })).id ?? '';
    // A second destination of A: a partner webhook (the simulator's receiver counts requests).
    const secret = `sec-${hookAccount}-0123456789`;
    sim.destinations.createAccount({ kind: 'webhook', id: hookAccount, secret });
    aWebhook = (
      await destinations.save(
        destinations.create({
          customerId: a.id,
          kind: 'webhook',
          name: 'partner-webhook',
          config: { url: `${sim.hooksUrl}/${hookAccount}` },
          secrets: SecretBox.fromHex(SECRETS_KEY).sealJson({ secret }),
          enabled: true,
        }),
      )
    ).id;
  });

  afterAll(async () => {
    await backfiller?.app.stop('SIGTERM');
    await submitter?.stop('SIGTERM');
    await sim?.stop();
  });

  it('history of two customers reaches their destinations (backfills in the bulk lane, later changes live)', async () => {
    windowFrom = new Date(Date.now() - 1000);
    const runs = await Promise.all(
      [a, b].map((c) =>
        backfiller.admin<{ id: string }>('POST', `/admin/customers/${c.id}/backfills`, {
          resource: 'gift',
        }),
      ),
    );
    for (const r of runs) {
      await waitForRunStatus(stack, r.body.id, 'done', 60_000);
    }
    await expectEventually(
      async () => {
        expect(await warehouseGiftCount(stack, a.id)).toBe(GIFTS);
        expect(await warehouseGiftCount(stack, b.id)).toBe(GIFTS);
        expect(sim.destinations.hookDeliveries(hookAccount)).toHaveLength(GIFTS);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    // Then some of each customer's gifts change, by webhook: their newest version is only in the
    // live topic, the older one only in the bulk topic.
    for (const c of [a, b]) {
      const ids = (await warehouseGifts(stack, c.id, false))
        .slice(0, CHANGED)
        .map((r) => String(r['source_id']));
      await publishLiveGiftChanges(stack, prefix, c.id, ids, '77.00');
    }
    await expectEventually(
      async () => {
        for (const c of [a, b]) {
          const rows = await stack.dataSource.query<Array<{ n: string }>>(
            `SELECT count(*) AS n FROM warehouse.raise_gift WHERE customer_id = $1 AND amount = 77`,
            [c.id],
          );
          expect(Number(rows[0]?.n)).toBe(CHANGED);
        }
        expect(sim.destinations.hookDeliveries(hookAccount)).toHaveLength(GIFTS + CHANGED);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    windowTo = new Date(Date.now() + 1000);
  });

  it('the admin API refuses bad requests', async () => {
    const path = `/admin/customers/${a.id}/replays`;
    const noToken = await fetch(`${backfiller.app.url}${path}`, { method: 'POST' });
    expect(noToken.status).toBe(401);
    expect(
      (
        await backfiller.admin('POST', path, {
          resource: 'gift',
          from: windowTo.toISOString(),
          to: windowFrom.toISOString(),
        })
      ).status,
    ).toBe(400);
    expect(
      (await backfiller.admin('POST', path, { topic: liveTopic, toOffset: 10_000_000 })).status,
    ).toBe(400);
    // Offsets are positions in one topic; a replay by resource reads two.
    const offsetsByResource = await backfiller.admin<{ message: string }>('POST', path, {
      resource: 'gift',
      fromOffset: 0,
    });
    expect(offsetsByResource.status).toBe(400);
    expect(JSON.stringify(offsetsByResource.body)).toMatch(/give topic with offsets/);
    expect(
      (await backfiller.admin('POST', path, { topic: `${prefix}.source.raise.nothing` })).status,
    ).toBe(400);
    expect(
      (
        await backfiller.admin('POST', path, {
          resource: 'gift',
          from: windowFrom.toISOString(),
          fromOffset: 0,
        })
      ).status,
    ).toBe(400);
    expect((await backfiller.admin('POST', path, {})).status).toBe(400);
    // B's warehouse is not A's destination.
    const bWarehouse = await stack.dataSource
      .getRepository(DestinationEntity)
      .findOneByOrFail({ customerId: b.id, kind: 'warehouse' });
    expect(
      (await backfiller.admin('POST', path, { resource: 'gift', destinationId: bWarehouse.id }))
        .status,
    ).toBe(404);
    expect(
      (
        await backfiller.admin(
          'POST',
          '/admin/customers/00000000-0000-4000-8000-000000000000/replays',
          { resource: 'gift' },
        )
      ).status,
    ).toBe(404);
    expect((await backfiller.admin('GET', '/admin/replays/not-a-run')).status).toBe(400);
    expect((await backfiller.admin<unknown[]>('GET', path)).body).toEqual([]);
  });

  it('wipe A in the warehouse, replay by resource and time for the warehouse only (CLI): the same rows come back, from both topics', async () => {
    const aBefore = await warehouseGifts(stack, a.id, false);
    const bBefore = await warehouseGifts(stack, b.id, true);
    expect(aBefore).toHaveLength(GIFTS);
    expect(bBefore).toHaveLength(GIFTS);
    const hooksBefore = sim.destinations.hookDeliveries(hookAccount).length;
    const hookDuplicatesBefore = sim.destinations.hookDuplicates(hookAccount).length;

    // The destination is "restored from an empty backup".
    await stack.dataSource.query(`DELETE FROM warehouse.raise_gift WHERE customer_id = $1`, [a.id]);
    expect(await warehouseGiftCount(stack, a.id)).toBe(0);

    const env = {
      ...process.env,
      BACKFILLER_URL: backfiller.app.url,
      ADMIN_TOKEN,
      REPLAY_CLI_REFRESH_MS: '200',
    };
    const started = await run(
      process.execPath,
      [
        CLI,
        'start',
        '--customer',
        a.id,
        // By resource: the live topic (the webhook changes) and the bulk topic (the backfill).
        '--resource',
        'gift',
        '--from',
        windowFrom.toISOString(),
        '--to',
        windowTo.toISOString(),
        '--destination',
        aWarehouse,
        '--requested-by',
        'e2e',
        '--wait',
      ],
      { env },
    );
    const runId = /replay run ([0-9a-f-]{36}) requested/.exec(started.stdout)?.[1] ?? '';
    expect(runId).not.toBe('');
    // Not a terminal: plain lines, the last one the finished run.
    const lines = started.stdout.trim().split('\n');
    expect(lines[lines.length - 1]).toMatch(/^replay [0-9a-f]{8} gift → [0-9a-f]{8} done 100\.0%/);

    const view = (await backfiller.admin<ReplayBody>('GET', `/admin/replays/${runId}`)).body;
    expect(view).toMatchObject({
      status: 'done',
      topic: liveTopic,
      topics: [liveTopic, topic],
      destinationId: aWarehouse,
      trigger: 'cli',
    });
    // Both customers' messages of both topics were in the window; only A's were republished.
    const inWindow = 2 * (GIFTS + CHANGED);
    expect(view.progress.scanned).toBe(inWindow);
    expect(view.progress.offsetsTotal).toBe(inWindow);
    expect(view.progress.matched).toBe(GIFTS + CHANGED);
    expect(view.progress.published).toBe(GIFTS + CHANGED);
    expect(view.progress.undecodable).toBe(0);
    expect(view.partitions.every((p) => p.position === p.to)).toBe(true);
    const span = (t: string): number =>
      view.partitions.filter((p) => p.topic === t).reduce((n, p) => n + p.to - p.from, 0);
    expect([span(liveTopic), span(topic)]).toEqual([2 * CHANGED, 2 * GIFTS]);

    // The warehouse holds exactly what it held before the wipe: the changed gifts in their live
    // version (only the live topic has it; their bulk copies are older), the rest from the bulk
    // topic (never in the live one).
    await expectEventually(async () => expect(await warehouseGiftCount(stack, a.id)).toBe(GIFTS), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    await expectEventually(
      async () => expect(await warehouseGifts(stack, a.id, false)).toEqual(aBefore),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(aBefore.filter((r) => Number(r['amount']) === 77)).toHaveLength(CHANGED);

    // The webhook destination of A skipped every replayed event, and its receiver got nothing new.
    await expectEventually(
      async () =>
        expect(
          await scrapeMetric(submitter.url, 'raise_sync_deliveries_total', {
            customer_id: a.id,
            destination: 'partner-webhook',
            outcome: 'skipped',
            reason: 'not_targeted',
          }),
        ).toBe(GIFTS + CHANGED),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(sim.destinations.hookDeliveries(hookAccount)).toHaveLength(hooksBefore);
    // ...and its ledger stays balanced: every event received, the replayed ones counted as skipped.
    const ledger = await stack.dataSource.query<Array<{ outcome: string; n: string }>>(
      `SELECT outcome, n FROM delivery_counts WHERE destination_id = $1`,
      [aWebhook],
    );
    expect(Object.fromEntries(ledger.map((r) => [r.outcome, Number(r.n)]))).toEqual({
      received: 2 * (GIFTS + CHANGED),
      delivered: GIFTS + CHANGED,
      skipped: GIFTS + CHANGED,
    });
    expect(sim.destinations.hookDuplicates(hookAccount)).toHaveLength(hookDuplicatesBefore);
    // B's rows were not written again: same data and the same write times.
    expect(await warehouseGifts(stack, b.id, true)).toEqual(bBefore);

    // The republished messages (in the bulk topic, after the replayed range) are A's, origin
    // replay, aimed at the warehouse: one copy per event of both topics.
    const republished = await readAfter(
      view.partitions
        .filter((p) => p.topic === topic)
        .map((p) => ({ partition: p.partition, from: p.to })),
      GIFTS + CHANGED,
    );
    expect(republished).toHaveLength(GIFTS + CHANGED);
    expect(new Set(republished.map((m) => m.origin))).toEqual(new Set(['replay']));
    expect(new Set(republished.map((m) => m.headerOrigin))).toEqual(new Set(['replay']));
    expect(new Set(republished.map((m) => m.customerId))).toEqual(new Set([a.id]));
    expect(new Set(republished.map((m) => m.target))).toEqual(new Set([aWarehouse]));
    expect(new Set(republished.map((m) => m.recordId))).toEqual(
      new Set(aBefore.map((r) => r['source_id'])),
    );

    // status through the CLI, and the progress metrics of the backfiller.
    const status = await run(process.execPath, [CLI, 'status', runId], { env });
    expect(status.stdout).toMatch(
      / done 100\.0%: 2,700\/2,700 offsets scanned, 1,350 matched, 1,350 published, 0 undecodable/,
    );
    expect(
      await scrapeMetric(backfiller.app.url, 'raise_sync_replay_messages_total', {
        customer_id: a.id,
        outcome: 'published',
      }),
    ).toBe(GIFTS + CHANGED);
    await expectEventually(
      async () =>
        expect(
          await scrapeMetric(backfiller.app.url, 'raise_sync_replay_runs', { status: 'done' }),
        ).toBe(1),
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    const logs = backfiller.app.logs();
    expect(
      logs.some(
        (l) => l['msg'] === 'replay run done' && l['customerId'] === a.id && l['runId'] === runId,
      ),
    ).toBe(true);
  });

  it('a finished replay cannot be cancelled; a waiting one can', async () => {
    const list = (await backfiller.admin<ReplayBody[]>('GET', `/admin/customers/${a.id}/replays`))
      .body;
    expect(list).toHaveLength(1);
    const done = list[0] as ReplayBody;
    expect((await backfiller.admin('POST', `/admin/replays/${done.id}/cancel`)).status).toBe(409);

    // Runs of a paused customer wait (pending) until it is live again.
    await stack.dataSource.query(`UPDATE customers SET status = 'paused' WHERE id = $1`, [a.id]);
    try {
      const waiting = await backfiller.admin<ReplayBody>(
        'POST',
        `/admin/customers/${a.id}/replays`,
        {
          topic,
          toOffset: 0,
        },
      );
      expect(waiting.status).toBe(202);
      expect(waiting.body).toMatchObject({ status: 'pending', trigger: 'admin' });
      expect(waiting.body.progress.offsetsTotal).toBe(0);
      const cancelled = await backfiller.admin<ReplayBody>(
        'POST',
        `/admin/replays/${waiting.body.id}/cancel`,
      );
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.status).toBe('cancelled');
    } finally {
      await stack.dataSource.query(`UPDATE customers SET status = 'live' WHERE id = $1`, [a.id]);
    }
  });

  /** Decoded messages of the gift bulk topic from the given offsets on, until `count` were read. */
  async function readAfter(
    starts: Array<{ partition: number; from: number }>,
    count: number,
  ): Promise<
    Array<{
      origin: string;
      headerOrigin: string;
      customerId: string;
      recordId: string;
      target: string;
    }>
  > {
    const codec = new EventCodec(stack.registryUrl);
    const from = new Map(starts.map((s) => [s.partition, s.from]));
    // Wait until the partitions hold `count` messages past the starts, then read them once.
    await expectEventually(
      async () => {
        const offsets = await stack.kafka.topicOffsets(topic);
        const after = offsets.reduce(
          (n, p) => n + Math.max(0, p.high - Math.max(p.low, from.get(p.partition) ?? 0)),
          0,
        );
        expect(after).toBeGreaterThanOrEqual(count);
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const found: Array<{
      origin: string;
      headerOrigin: string;
      customerId: string;
      recordId: string;
      target: string;
    }> = [];
    for (const message of await readTopic(stack.kafka, topic, { timeoutMs: 30_000 })) {
      if (Number(message.offset) < (from.get(message.partition) ?? 0)) {
        continue;
      }
      const decoded = await codec.decode(message.value);
      if (!decoded.ok) {
        throw decoded.error;
      }
      found.push({
        origin: decoded.event.origin,
        headerOrigin: message.headers[EVENT_HEADERS.origin] ?? '',
        customerId: decoded.event.customerId,
        recordId: decoded.event.recordId,
        target: message.headers[REPLAY_DESTINATION_HEADER] ?? '',
      });
    }
    return found;
  }
});

import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { expectEventually, scrapeMetric, useTestStack, type RunningApp } from '@raise-sync/testing';
import {
  ADMIN_TOKEN,
  createRaiseCustomer,
  rangePages,
  rangeRows,
  runRow,
  startBackfiller,
  startSubmitter,
  waitForRunStatus,
  warehouseGiftIds,
  type BackfillerUnderTest,
  type RaiseCustomer,
} from './support';

jest.setTimeout(120_000);

const GIFTS = 20_000;
const PAGE = 500;
const CLI = resolve(__dirname, '../../../dist/apps/backfiller/apps/backfiller/src/backfill.cli.js');

interface RunBody {
  id: string;
  status: string;
  customerId: string;
  resource: string;
  trigger: string;
  progress: {
    recordsDone: number;
    recordsTotal: number | null;
    percent: number;
    ratePerSecond: number | null;
    etaSeconds: number;
    pagesDone: number;
    ranges: Record<string, number>;
  };
  rangesDetail?: Array<{ status: string; recordsDone: number; cursor: string | null }>;
}

describe('backfiller: replicas share a run without overlap; date windows; admin API', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-rep`;
  let sim: Simulator;
  let submitter: RunningApp;
  const replicas: BackfillerUnderTest[] = [];
  let customer: RaiseCustomer;
  let runId = '';

  const env = {
    SOURCE_RATE_LIMITS: 'raise=10:5,vomo=10:5',
    BACKFILL_PAGE_SIZE: String(PAGE),
    BACKFILL_RANGE_RECORDS: '2500',
    BACKFILL_MAX_RANGES: '8',
    BACKFILL_WORKERS: '2',
    BACKFILL_LEASE_SECONDS: '10',
  };

  beforeAll(async () => {
    sim = await startSimulator({ seed: 11 });
    // The submitter creates the topics and registers their schemas first; concurrent first
    // registrations of a subject can race in the registry.
    submitter = await startSubmitter(stack, sim, prefix);
    await Promise.all([
      startBackfiller(stack, sim, prefix, env).then((r) => replicas.push(r)),
      startBackfiller(stack, sim, prefix, env).then((r) => replicas.push(r)),
    ]);
    customer = await createRaiseCustomer(stack, sim, `rep-${stack.prefix}`, {
      gifts: GIFTS,
      donors: 500,
      campaigns: 3,
      recurringGifts: 20,
      users: 0,
    });
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.app.stop('SIGTERM')));
    await submitter?.stop('SIGTERM');
    await sim?.stop();
  });

  const admin = () => {
    const first = replicas[0];
    if (!first) {
      throw new Error('no backfiller');
    }
    return first.admin;
  };

  it('two replicas on one run: planned once, every range worked by one owner, no page requested twice', async () => {
    const requested = await admin()<RunBody>('POST', `/admin/customers/${customer.id}/backfills`, {
      resource: 'gift',
    });
    expect(requested.status).toBe(202);
    expect(requested.body).toMatchObject({ status: 'pending', trigger: 'admin', resource: 'gift' });
    runId = requested.body.id;
    await waitForRunStatus(stack, runId, 'done', 60_000);

    const ranges = await rangeRows(stack, runId);
    expect(ranges).toHaveLength(8);
    expect(ranges.every((r) => r.status === 'done')).toBe(true);

    // The planning queries (take 1, ascending and descending) ran once: one replica planned.
    const planning = (sim.control.stats(customer.org).pages.gift ?? []).filter((p) => p.take === 1);
    expect(planning).toHaveLength(2);

    // No page requested twice, and the pages tile the whole ID span exactly once.
    const pages = rangePages(sim, customer.org, PAGE).sort((a, b) => a.firstId - b.firstId);
    const firstIds = pages.map((p) => p.firstId);
    expect(new Set(firstIds).size).toBe(firstIds.length);
    const ids = sim.control.recordKeys(customer.org, 'gift').map((k) => k.id);
    expect(pages[0]?.firstId).toBe(Math.min(...ids));
    expect(pages[pages.length - 1]?.lastId).toBe(Math.max(...ids));
    pages.slice(1).forEach((page, i) => expect(page.firstId).toBe((pages[i]?.lastId ?? NaN) + 1));
    expect(pages.reduce((n, p) => n + p.count, 0)).toBe(GIFTS);

    // Each range was claimed once, by one replica, and both replicas took part.
    const claims = replicas.flatMap((replica) =>
      replica.app
        .logs()
        .filter((line) => line['msg'] === 'backfill range started')
        .map((line) => ({ rangeId: String(line['rangeId']), owner: String(line['owner']) })),
    );
    expect(claims.map((c) => c.rangeId).sort()).toEqual(ranges.map((r) => r.id).sort());
    expect(new Set(claims.map((c) => c.owner)).size).toBe(2);
    for (const range of ranges) {
      expect(range.lease_owner).toBe(claims.find((c) => c.rangeId === range.id)?.owner);
    }

    // Everything reached the warehouse, once.
    await expectEventually(
      async () => expect((await warehouseGiftIds(stack, customer.id)).length).toBe(GIFTS),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(new Set(await warehouseGiftIds(stack, customer.id))).toEqual(new Set(ids.map(String)));
  });

  it('a date-ranged backfill publishes exactly the records modified in the window', async () => {
    const org = `win-${stack.prefix}`;
    const windowed = await createRaiseCustomer(stack, sim, org, {
      gifts: 5000,
      donors: 200,
      campaigns: 3,
      recurringGifts: 10,
      users: 0,
    });
    const keys = sim.control.recordKeys(org, 'gift');
    const times = keys.map((k) => Date.parse(k.modifiedDate)).sort((a, b) => a - b);
    const from = new Date(times[Math.floor(times.length * 0.3)] ?? 0);
    const to = new Date(times[Math.floor(times.length * 0.6)] ?? 0);
    const expected = keys
      .filter(
        (k) =>
          Date.parse(k.modifiedDate) >= from.getTime() && Date.parse(k.modifiedDate) < to.getTime(),
      )
      .map((k) => String(k.id));
    expect(expected.length).toBeGreaterThan(1000);
    expect(expected.length).toBeLessThan(keys.length);

    const requested = await admin()<RunBody>('POST', `/admin/customers/${windowed.id}/backfills`, {
      resource: 'gift',
      modifiedFrom: from.toISOString(),
      modifiedTo: to.toISOString(),
    });
    expect(requested.status).toBe(202);
    const run = await waitForRunStatus(stack, requested.body.id, 'done', 60_000);
    expect(Number(run.records_total)).toBe(expected.length);
    await expectEventually(
      async () => expect((await warehouseGiftIds(stack, windowed.id)).length).toBe(expected.length),
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(new Set(await warehouseGiftIds(stack, windowed.id))).toEqual(new Set(expected));
    const done = (await rangeRows(stack, requested.body.id)).reduce(
      (n, r) => n + Number(r.records_done),
      0,
    );
    expect(done).toBe(expected.length);

    // The newest record of the window is the high-water mark, and the poll checkpoint.
    const newest = keys
      .filter((k) => expected.includes(String(k.id)))
      .sort((a, b) => Date.parse(a.modifiedDate) - Date.parse(b.modifiedDate) || a.id - b.id)
      .pop();
    expect(run.high_water_at?.toISOString()).toBe(
      new Date(newest?.modifiedDate ?? 0).toISOString(),
    );
    expect(run.high_water_id).toBe(String(newest?.id));
    const checkpoint = await stack.dataSource.query<
      Array<{ last_processed_at: Date; last_processed_id: string }>
    >(
      `SELECT last_processed_at, last_processed_id FROM checkpoints
        WHERE customer_id = $1 AND resource = 'gift' AND direction = 'inbound'`,
      [windowed.id],
    );
    expect(checkpoint).toEqual([
      { last_processed_at: run.high_water_at, last_processed_id: run.high_water_id },
    ]);
  });

  it('admin API: 401 without the token, 404 for an unknown customer or run, 400 with a reason for bad input', async () => {
    const url = replicas[0]?.app.url ?? '';
    const path = `/admin/customers/${customer.id}/backfills`;
    expect((await fetch(`${url}${path}`)).status).toBe(401);
    expect(
      (
        await fetch(`${url}${path}`, {
          method: 'POST',
          headers: {
            authorization: 'Bearer wrong-token-wrong-token-wrong',
            'content-type': 'application/json',
          },
          body: JSON.stringify({ resource: 'gift' }),
        })
      ).status,
    ).toBe(401);

    const unknown = await admin()<{ message: string }>(
      'POST',
      `/admin/customers/${randomUUID()}/backfills`,
      { resource: 'gift' },
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/does not exist/);
    expect((await admin()('GET', '/admin/customers/not-a-uuid/backfills')).status).toBe(400);
    expect((await admin()('GET', `/admin/backfills/${randomUUID()}`)).status).toBe(404);

    const bad = async (body: unknown): Promise<string> => {
      const response = await admin()<{ message: string | string[] }>('POST', path, body);
      expect(response.status).toBe(400);
      return ([] as string[]).concat(response.body.message).join('; ');
    };
    expect(await bad({ resource: 'pledge' })).toMatch(/resource must be one of/);
    expect(await bad({ resource: 'gift', resources: ['donor'] })).toMatch(
      /either resource or resources/,
    );
    expect(await bad({ resource: 'gift', modifiedFrom: 'yesterday' })).toMatch(
      /modifiedFrom must be an ISO 8601/,
    );
    expect(
      await bad({
        resource: 'gift',
        modifiedFrom: '2025-02-01T00:00:00Z',
        modifiedTo: '2025-01-01T00:00:00Z',
      }),
    ).toMatch(/modifiedTo must be after modifiedFrom/);
    expect(await bad({ resource: 'gift', source: 'vomo' })).toMatch(
      /does not come from source 'vomo'/,
    );
    expect(await bad({ resource: 'user' })).toMatch(/has no vomo API token/);
    expect(await bad({ resource: 'gift', everything: true })).toMatch(/should not exist/);
  });

  it('admin API: a second request for a resource in progress is refused; cancel stops the run', async () => {
    const path = `/admin/customers/${customer.id}/backfills`;
    const first = await admin()<RunBody>('POST', path, { resource: 'donor' });
    expect(first.status).toBe(202);
    const again = await admin()<{ message: string }>('POST', path, {
      resources: ['donor', 'campaign'],
    });
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/already (pending|running)/);
    const cancelled = await admin()<RunBody>('POST', `/admin/backfills/${first.body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(
      (cancelled.body.rangesDetail ?? []).every(
        (r) => r.status !== 'running' && r.status !== 'pending',
      ),
    ).toBe(true);
    expect((await admin()('POST', `/admin/backfills/${first.body.id}/cancel`)).status).toBe(409);
    expect((await runRow(stack, first.body.id)).status).toBe('cancelled');
  });

  it('progress: JSON, metrics of any replica and the CLI show the finished run', async () => {
    const { status, body } = await admin()<RunBody>('GET', `/admin/backfills/${runId}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: runId,
      customerId: customer.id,
      resource: 'gift',
      status: 'done',
      progress: {
        recordsDone: GIFTS,
        recordsTotal: GIFTS,
        percent: 100,
        etaSeconds: 0,
        pagesDone: GIFTS / PAGE,
        ranges: { pending: 0, running: 0, done: 8, failed: 0 },
      },
    });
    expect(body.progress.ratePerSecond).toBeGreaterThan(0);
    expect(body.rangesDetail).toHaveLength(8);
    expect(body.rangesDetail?.reduce((n, r) => n + r.recordsDone, 0)).toBe(GIFTS);

    const listed = await admin()<RunBody[]>('GET', `/admin/customers/${customer.id}/backfills`);
    expect(listed.status).toBe(200);
    expect(listed.body.map((r) => r.id)).toContain(runId);
    expect(listed.body.find((r) => r.id === runId)?.progress.recordsDone).toBe(GIFTS);

    // Gauges come from the state store, so the other replica shows the same (newest run: gift).
    for (const replica of replicas) {
      await expectEventually(async () => {
        const labels = { customer_id: customer.id, resource: 'gift' };
        expect(
          await scrapeMetric(replica.app.url, 'raise_sync_backfill_progress_records', {
            ...labels,
            measure: 'done',
          }),
        ).toBe(GIFTS);
        expect(
          await scrapeMetric(replica.app.url, 'raise_sync_backfill_progress_records', {
            ...labels,
            measure: 'total',
          }),
        ).toBe(GIFTS);
        expect(
          await scrapeMetric(replica.app.url, 'raise_sync_backfill_ranges', {
            ...labels,
            status: 'done',
          }),
        ).toBe(8);
        expect(await scrapeMetric(replica.app.url, 'raise_sync_backfill_eta_seconds', labels)).toBe(
          0,
        );
      });
    }
    const published = await Promise.all(
      replicas.map((r) =>
        scrapeMetric(r.app.url, 'raise_sync_backfill_records_total', {
          customer_id: customer.id,
          resource: 'gift',
        }),
      ),
    );
    expect(published.reduce((a, b) => a + b, 0)).toBe(GIFTS);

    // The CLI (over the admin API), not on a terminal: plain lines.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [CLI, 'status', '--customer', customer.id],
      {
        env: { PATH: process.env['PATH'], BACKFILLER_URL: replicas[1]?.app.url ?? '', ADMIN_TOKEN },
      },
    );
    expect(stdout).toContain('gift done 100.0%: 20,000/20,000 records');
    expect(stdout).toContain('ranges 8 done');

    // `start --wait` requests a run (trigger cli) and follows it to the end.
    const started = await promisify(execFile)(
      process.execPath,
      [CLI, 'start', '--customer', customer.id, '--resource', 'campaign', '--wait'],
      {
        env: {
          PATH: process.env['PATH'],
          BACKFILLER_URL: replicas[0]?.app.url ?? '',
          ADMIN_TOKEN,
          BACKFILL_CLI_REFRESH_MS: '200',
        },
      },
    );
    expect(started.stdout).toMatch(/backfill run \S+ requested \(raise\.campaign\)/);
    expect(started.stdout.trim().split('\n').pop()).toMatch(
      /^campaign done 100\.0%: 3\/3 records, [\d,?]+ records\/s, ETA -, ranges 1 done$/,
    );
    const [cliRun] = await stack.dataSource.query<Array<{ trigger: string; status: string }>>(
      `SELECT trigger, status FROM backfill_runs WHERE customer_id = $1 AND resource = 'campaign'`,
      [customer.id],
    );
    expect(cliRun).toEqual({ trigger: 'cli', status: 'done' });
  });

  // Last: it stops one of the replicas.
  it('VOMO users in one open range; SIGTERM hands the range back at once and the other replica finishes it', async () => {
    const USERS = 600;
    const org = `vomo-${stack.prefix}`;
    const withVomo = await createRaiseCustomer(
      stack,
      sim,
      org,
      { gifts: 0, donors: 0, campaigns: 0, recurringGifts: 0, users: USERS },
      { vomo: true },
    );
    // VOMO pages are 15 users; at 10 requests/s the 40 pages take about 4 s.
    const requested = await admin()<RunBody>('POST', `/admin/customers/${withVomo.id}/backfills`, {
      resource: 'user',
    });
    expect(requested.status).toBe(202);
    const runId = requested.body.id;
    let owner = '';
    await expectEventually(
      async () => {
        const [range] = await rangeRows(stack, runId);
        expect(Number(range?.pages_done ?? 0)).toBeGreaterThanOrEqual(3);
        owner = range?.lease_owner ?? '';
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    const ranges = await rangeRows(stack, runId);
    expect(ranges).toHaveLength(1);
    expect(ranges[0]?.range_end).toBeNull();

    const ownerOf = (replica: BackfillerUnderTest): string | undefined =>
      replica.app.logs().find((line) => line['msg'] === 'backfill scheduler started')?.['owner'] as
        string | undefined;
    const worker = replicas.find((r) => ownerOf(r) === owner);
    expect(worker).toBeDefined();
    const stoppedAt = Date.now();
    expect(await worker?.app.stop('SIGTERM')).toBe(0);
    // Handed back (not left to expire): the other replica resumes well within the 10 s lease.
    expect(
      worker?.app.logs().some((l) => String(l['msg']).startsWith('backfill range handed back')),
    ).toBe(true);
    await waitForRunStatus(stack, runId, 'done', 30_000);
    const resumedAfterMs = Date.now() - stoppedAt;
    const [range] = await rangeRows(stack, runId);
    expect(range?.lease_owner).not.toBe(owner);
    expect(Number(range?.records_done)).toBe(USERS);
    expect(resumedAfterMs).toBeLessThan(10_000);

    const users = sim.control.records(org, 'user').map((u) => String((u as { id: number }).id));
    await expectEventually(
      async () => {
        const rows = await stack.dataSource.query<Array<{ source_id: string }>>(
          `SELECT source_id FROM warehouse.vomo_user WHERE customer_id = $1`,
          [withVomo.id],
        );
        expect(new Set(rows.map((r) => r.source_id))).toEqual(new Set(users));
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
  });
});

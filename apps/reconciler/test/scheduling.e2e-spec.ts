import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { expectEventually, useTestStack } from '@raise-sync/testing';
import {
  ADMIN_TOKEN,
  createCustomer,
  reconcile,
  requestRun,
  startReconciler,
  waitForRun,
  type AppUnderTest,
  type Onboarded,
  type RunBody,
} from './support';

const HOUR = 3600_000;

interface ScheduleBody {
  kind: string;
  cadence: string;
  timezone: string;
  runAt: string;
  lagHours: number;
  enabled: boolean;
  nextRunAt: string;
  lastRunId: string | null;
}

/** Local date and time of an instant in a zone, e.g. ['2026-11-22', '19:00']. */
function local(instant: Date, zone: string): [string, string] {
  const date = instant.toLocaleDateString('en-CA', { timeZone: zone });
  const time = instant.toLocaleTimeString('en-GB', {
    timeZone: zone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  return [date, time];
}

/**
 * Schedules, leases and the admin API, with two reconciler replicas on one database: scheduled
 * runs get the right closed window in the schedule's timezone, no run is executed twice, a run
 * whose replica died is finished by the other one, and the API refuses what it cannot do.
 */
describe('reconciler: schedules, leases and the admin API', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-sched`;
  let sim: Simulator;
  let replicas: AppUnderTest[] = [];
  let customer: Onboarded;

  const logsOf = (runId: string, msg: string) =>
    replicas.map(
      (r) => r.app.logs().filter((l) => l['runId'] === runId && l['msg'] === msg).length,
    );
  const schedules = async (a: AppUnderTest) =>
    (
      await a.admin<ScheduleBody[]>(
        'GET',
        `/admin/customers/${customer.id}/reconciliation-schedules`,
      )
    ).body;
  const scheduledRuns = async (): Promise<
    Array<{ id: string; window_start: Date; window_end: Date; status: string }>
  > =>
    stack.dataSource.query(
      `SELECT id, window_start, window_end, status FROM reconciliation_runs
        WHERE customer_id = $1 AND trigger = 'schedule' ORDER BY requested_at`,
      [customer.id],
    );

  beforeAll(async () => {
    sim = await startSimulator({ seed: 606 });
    customer = await createCustomer(stack, sim, `sched-${randomBytes(3).toString('hex')}`, {
      gifts: 3000,
      donors: 200,
    });
    const env = { RECONCILER_LEASE_SECONDS: '10', RECONCILER_PAGE_SIZE: '100' };
    // One after the other: two processes registering the same new schemas at the same instant
    // race in the registry's per-subject compatibility setup (libs/shared), unrelated to leases.
    for (const i of [0, 1]) {
      replicas[i] = await startReconciler(stack, prefix, sim, {
        ...env,
        SERVICE_NAME: `reconciler-${i}`,
      });
    }
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r?.app.stop('SIGTERM')));
    await sim?.stop();
  });

  it('creates the default schedules of a live customer: window daily, deletion daily, crm-consistency daily, webhook-log hourly', async () => {
    const [a] = replicas as [AppUnderTest];
    const list = await schedules(a);
    expect(list.map((s) => [s.kind, s.cadence, s.timezone, s.runAt])).toEqual([
      ['crm-consistency', 'daily', 'UTC', '06:00'],
      ['deletion', 'daily', 'UTC', '06:00'],
      ['webhook-log', 'hourly', 'UTC', '06:00'],
      ['window', 'daily', 'UTC', '06:00'],
    ]);
    for (const s of list) {
      expect(new Date(s.nextRunAt).getTime()).toBeGreaterThan(Date.now());
      expect(s.enabled).toBe(true);
    }
    // Keep the other kinds out of the way of this file's assertions.
    for (const kind of ['deletion', 'crm-consistency', 'webhook-log']) {
      const off = await a.admin('PUT', `/admin/customers/${customer.id}/reconciliation-schedules`, {
        kind,
        enabled: false,
      });
      expect(off.status).toBe(200);
    }
  });

  it('an hourly schedule in a half-hour zone reconciles the local clock hour that ended lag hours before it was due, exactly once', async () => {
    const [a] = replicas as [AppUnderTest];
    const due = new Date(Date.now() - 5000);
    const put = await a.admin<ScheduleBody>(
      'PUT',
      `/admin/customers/${customer.id}/reconciliation-schedules`,
      {
        kind: 'window',
        cadence: 'hourly',
        timezone: 'Asia/Kolkata',
        runAt: '00:00',
        lagHours: 2,
        nextRunAt: due.toISOString(),
      },
    );
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ cadence: 'hourly', timezone: 'Asia/Kolkata', lagHours: 2 });

    let runs: Awaited<ReturnType<typeof scheduledRuns>> = [];
    await expectEventually(
      async () => {
        runs = await scheduledRuns();
        expect(runs).toHaveLength(1);
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    // Kolkata is UTC+05:30 all year: local hours start at :30 UTC.
    const offset = 5.5 * HOUR;
    const expectedEnd = Math.floor((due.getTime() - 2 * HOUR + offset) / HOUR) * HOUR - offset;
    const run = runs[0] as (typeof runs)[number];
    expect(new Date(run.window_end).getTime()).toBe(expectedEnd);
    expect(new Date(run.window_start).getTime()).toBe(expectedEnd - HOUR);
    expect(local(new Date(run.window_start), 'Asia/Kolkata')[1]).toMatch(/^\d\d:00$/);

    const window = (await schedules(a)).find((s) => s.kind === 'window') as ScheduleBody;
    expect(window.lastRunId).toBe(run.id);
    const next = new Date(window.nextRunAt);
    expect(next.getTime()).toBeGreaterThan(due.getTime());
    expect(next.getTime() - due.getTime()).toBeLessThanOrEqual(HOUR);
    expect(local(next, 'Asia/Kolkata')[1]).toMatch(/^\d\d:00$/);

    const finished = await waitForRun(a, run.id);
    expect(finished).toMatchObject({ status: 'done', trigger: 'schedule' });
    // Both replicas kept ticking meanwhile: still one run for that due time, run by one replica.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await scheduledRuns()).toHaveLength(1);
    expect(logsOf(run.id, 'reconciliation run started').reduce((x, y) => x + y)).toBe(1);
  });

  it('a daily schedule in America/New_York reconciles the previous local day, never the current one', async () => {
    const [a] = replicas as [AppUnderTest];
    const zone = 'America/New_York';
    const due = new Date(Date.now() - 5000);
    const put = await a.admin('PUT', `/admin/customers/${customer.id}/reconciliation-schedules`, {
      kind: 'window',
      cadence: 'daily',
      timezone: zone,
      runAt: '06:00',
      nextRunAt: due.toISOString(),
    });
    expect(put.status).toBe(200);
    let runs: Awaited<ReturnType<typeof scheduledRuns>> = [];
    await expectEventually(
      async () => {
        runs = await scheduledRuns();
        expect(runs).toHaveLength(2);
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    const run = runs[1] as (typeof runs)[number];
    const start = new Date(run.window_start);
    const end = new Date(run.window_end);
    const [today] = local(due, zone);
    expect(local(end, zone)).toEqual([today, '00:00']);
    expect(end.getTime()).toBeLessThanOrEqual(due.getTime());
    expect(local(start, zone)[1]).toBe('00:00');
    expect(local(new Date(end.getTime() - 1), zone)[0]).toBe(local(start, zone)[0]);
    expect([23, 24, 25]).toContain((end.getTime() - start.getTime()) / HOUR);

    const window = (await schedules(a)).find((s) => s.kind === 'window') as ScheduleBody;
    expect(local(new Date(window.nextRunAt), zone)[1]).toBe('06:00');
    expect(new Date(window.nextRunAt).getTime()).toBeGreaterThan(Date.now());

    // On demand, today is refused as well: its window has not closed.
    const [todayHere] = local(new Date(), zone);
    const refused = await a.admin('POST', `/admin/customers/${customer.id}/reconciliations`, {
      date: todayHere,
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toMatch(/future|closed/);
    await waitForRun(a, run.id);
  });

  it('two replicas never run the same run twice', async () => {
    const [a, b] = replicas as [AppUnderTest, AppUnderTest];
    const end = new Date(Date.now() - 1000);
    const requested: RunBody[] = [];
    for (let i = 0; i < 6; i += 1) {
      requested.push(
        await requestRun(i % 2 === 0 ? a : b, customer.id, {
          windowStart: new Date(end.getTime() - (i + 1) * 24 * HOUR).toISOString(),
          windowEnd: new Date(end.getTime() - i * 24 * HOUR).toISOString(),
          resources: ['gift'],
        }),
      );
    }
    const finished = await Promise.all(requested.map((r) => waitForRun(a, r.id)));
    expect(finished.map((r) => r.status)).toEqual(Array(6).fill('done'));
    for (const run of finished) {
      expect(logsOf(run.id, 'reconciliation run started').reduce((x, y) => x + y)).toBe(1);
      expect(logsOf(run.id, 'reconciliation run finished').reduce((x, y) => x + y)).toBe(1);
    }
  });

  it('a run whose replica died is picked up by the other replica once the lease expired, and finished from scratch', async () => {
    // A slow source keeps the run busy long enough to kill its replica in the middle of it.
    sim.control.setFaults(customer.org, { latencyMs: 300 });
    const requested = await requestRun(replicas[0] as AppUnderTest, customer.id, {
      windowStart: new Date(Date.now() - 40 * 24 * HOUR).toISOString(),
      windowEnd: new Date(Date.now() - 1000).toISOString(),
      resources: ['gift'],
    });
    let owner = -1;
    await expectEventually(
      () => {
        owner = logsOf(requested.id, 'reconciliation run started').findIndex((n) => n > 0);
        expect(owner).toBeGreaterThanOrEqual(0);
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const victim = replicas[owner] as AppUnderTest;
    const survivor = replicas[1 - owner] as AppUnderTest;
    await victim.app.stop('SIGKILL');
    sim.control.setFaults(customer.org, {});
    const killedAt = Date.now();

    const finished = await waitForRun(survivor, requested.id, 60_000);
    expect(finished.status).toBe('done');
    expect(finished.counts).toMatchObject({ source_total: 3000 });
    // Not before the dead replica's lease ran out.
    const restarted = survivor.app
      .logs()
      .find((l) => l['runId'] === requested.id && l['msg'] === 'reconciliation run started');
    expect(restarted).toBeDefined();
    expect(Date.parse(String(restarted?.['time'])) - killedAt).toBeGreaterThan(5000);
    replicas = [survivor];
  });

  it('lists runs with their counts and trend, and shows a run with its discrepancies', async () => {
    const [a] = replicas as [AppUnderTest];
    const listed = await a.admin<{
      runs: RunBody[];
      trend: { runs: number; measures: Record<string, { values: number[]; last: number }> };
    }>('GET', `/admin/customers/${customer.id}/reconciliations?kind=window&limit=50`);
    expect(listed.status).toBe(200);
    expect(listed.body.runs.length).toBeGreaterThanOrEqual(9);
    const done = listed.body.runs.filter((r) => r.status === 'done');
    expect(done.every((r) => typeof r.counts['source_total'] === 'number')).toBe(true);
    expect(listed.body.trend.runs).toBe(done.length);
    expect(listed.body.trend.measures['source_total']?.values).toHaveLength(done.length);
    // The slow run republished the 3,000 gifts the warehouse never got.
    expect(listed.body.trend.measures['missing_in_destination']?.values).toContain(3000);

    const one = await a.admin<RunBody>(
      'GET',
      `/admin/reconciliations/${listed.body.runs[0]?.id}?limit=5&state=missing_in_destination`,
    );
    expect(one.status).toBe(200);
    expect(one.body.discrepancies.items.length).toBeLessThanOrEqual(5);
  });

  it('the admin API refuses bad requests with clear messages', async () => {
    const [a] = replicas as [AppUnderTest];
    const base = `/admin/customers/${customer.id}`;
    const noToken = await fetch(`${a.app.url}${base}/reconciliations`, { method: 'GET' });
    expect(noToken.status).toBe(401);
    const wrongToken = await fetch(`${a.app.url}${base}/reconciliations`, {
      headers: { authorization: `Bearer x${ADMIN_TOKEN}` },
    });
    expect(wrongToken.status).toBe(401);

    const post = (body: unknown, path = `${base}/reconciliations`) => a.admin('POST', path, body);
    const future = new Date(Date.now() + HOUR).toISOString();
    const past = new Date(Date.now() - 2 * HOUR).toISOString();
    const cases: Array<[unknown, RegExp]> = [
      [{ kind: 'everything' }, /kind must be one of/],
      [{ windowStart: past, windowEnd: future }, /future/],
      [{ windowStart: past, windowEnd: past }, /end after it starts/],
      [{ windowStart: past }, /go together/],
      [{ date: '2026-02-30' }, /not a calendar date/],
      [{ date: 'yesterday' }, /YYYY-MM-DD/],
      [{ date: '2026-01-01', windowEnd: past }, /either date or/],
      [{ windowStart: 'soon', windowEnd: past }, /windowStart must be an ISO 8601 instant/],
      [{ resources: ['gifts'] }, /resources must be among/],
      [{ resources: ['user'] }, /no vomo token/],
      [{ kind: 'deletion', windowStart: past }, /whole history/],
      [{ color: 'blue' }, /should not exist/],
    ];
    for (const [body, message] of cases) {
      const response = await post(body);
      expect({ body, status: response.status }).toEqual({ body, status: 400 });
      expect(JSON.stringify(response.body)).toMatch(message);
    }
    expect((await post({}, `/admin/customers/${randomUuid()}/reconciliations`)).status).toBe(404);
    expect((await post({}, '/admin/customers/not-a-uuid/reconciliations')).status).toBe(400);
    expect((await a.admin('GET', `/admin/reconciliations/${randomUuid()}`)).status).toBe(404);
    expect((await a.admin('GET', `${base}/reconciliations?kind=nope`)).status).toBe(400);
    expect((await a.admin('GET', `${base}/reconciliations?limit=0`)).status).toBe(400);

    const put = (body: unknown) => a.admin('PUT', `${base}/reconciliation-schedules`, body);
    const badZone = await put({ kind: 'window', timezone: 'Mars/Olympus_Mons' });
    expect(badZone.status).toBe(400);
    expect(JSON.stringify(badZone.body)).toMatch(/not a known IANA time zone/);
    expect((await put({ kind: 'window', cadence: 'monthly' })).status).toBe(400);
    expect((await put({ kind: 'window', runAt: '25:00' })).status).toBe(400);
    expect((await put({ kind: 'window', lagHours: 100 })).status).toBe(400);
    expect((await put({ cadence: 'daily' })).status).toBe(400);

    // A good request: yesterday by default, in the schedule's zone.
    const accepted = await reconcile(a, customer.id, { resources: ['gift'] });
    expect(accepted.status).toBe('done');
    expect(new Date(accepted.windowEnd).getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('the CLI requests a run, waits for it and prints its counts; list shows it', async () => {
    const [a] = replicas as [AppUnderTest];
    const cli = resolve(
      __dirname,
      '../../../dist/apps/reconciler/apps/reconciler/src/reconcile.cli.js',
    );
    const env = { PATH: process.env['PATH'], RECONCILER_URL: a.app.url, ADMIN_TOKEN };
    const to = new Date(Date.now() - 1000);
    const from = new Date(to.getTime() - 2 * 24 * HOUR);
    const ran = await promisify(execFile)(
      process.execPath,
      [
        cli,
        'run',
        '--customer',
        customer.id,
        '--from',
        from.toISOString(),
        '--to',
        to.toISOString(),
        '--resources',
        'gift',
        '--wait',
      ],
      { env },
    );
    expect(ran.stdout).toMatch(/\(window\) done in \d+ ms/);
    const total = /source_total\s+(\d+)/.exec(ran.stdout)?.[1];
    expect(Number(total)).toBeGreaterThan(0);

    const listed = await promisify(execFile)(
      process.execPath,
      [cli, 'list', '--customer', customer.id, '--limit', '1'],
      { env },
    );
    const body = JSON.parse(listed.stdout) as { runs: RunBody[] };
    expect(body.runs[0]).toMatchObject({ trigger: 'cli', status: 'done' });
    expect(body.runs[0]?.counts['source_total']).toBe(Number(total));
  });
});

function randomUuid(): string {
  const hex = randomBytes(16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  adminClient,
  artifactPath,
  expectEventually,
  freePort,
  startApp,
  stackEnv,
  sumMetric,
  useTestStack,
  type AdminCall,
  type AppName,
  type RunningApp,
} from '@raise-sync/testing';
import { exportedSeriesNames } from './exposition';
import { everyQuery, loadDashboards } from './observability-files';
import { analyzePromql } from './promql';

const ADMIN_TOKEN = randomBytes(24).toString('hex');
const SECRETS_KEY = randomBytes(32).toString('hex');
const APPS: AppName[] = ['ingest', 'submitter', 'reconciler', 'backfiller'];
const WEBHOOK_GIFTS = 5;

interface Service {
  app: RunningApp;
  admin: AdminCall;
}

/** Whether the exposition has a series of `name` whose labels include all of `labels`. */
function hasSeries(text: string, name: string, labels: Record<string, string>): boolean {
  return text.split('\n').some((line) => {
    const match = /^([^{\s]+)\{(.*)\}\s+\S+/.exec(line);
    if (!match || match[1] !== name) {
      return false;
    }
    const series = new Map(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((p) => [p[1], p[2]]),
    );
    return Object.entries(labels).every(([k, v]) => series.get(k) === v);
  });
}

/** Fails a setup step (hooks may not call expect) naming what answered what. */
function answered(what: string, response: { status: number; body: unknown }, status: number): void {
  if (response.status !== status) {
    throw new Error(`${what} answered ${response.status}: ${JSON.stringify(response.body)}`);
  }
}

async function scrape(service: Service): Promise<string> {
  const response = await fetch(`${service.app.url}/metrics`);
  if (response.status !== 200) {
    throw new Error(`${service.app.url}/metrics answered ${response.status}`);
  }
  return response.text();
}

/**
 * Dashboards and alert rules against what the four BUILT services really export: each service
 * runs against the test stack (Kafka, registry, PostgreSQL) and the Raise/VOMO simulator, one
 * customer goes through webhooks, a backfill and a reconciliation, and every metric a panel,
 * a template variable or a rule names must be in some service's /metrics.
 */
describe('dashboards and alert rules against the services /metrics', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-obs`;
  const services: Partial<Record<AppName, Service>> = {};
  const service = (name: AppName): Service => {
    const found = services[name];
    if (!found) {
      throw new Error(`${name} did not start`);
    }
    return found;
  };
  let sim: Simulator;
  let customerId: string;

  const start = async (name: AppName, env: Record<string, string>, port?: number) => {
    const app = startApp(
      name,
      { ...stackEnv(stack, prefix), SECRETS_KEY, ADMIN_TOKEN, LOG_LEVEL: 'info', ...env },
      port ?? (await freePort()),
    );
    services[name] = { app, admin: adminClient(app.url, ADMIN_TOKEN) };
    await app.waitUntilReady();
  };

  beforeAll(async () => {
    sim = await startSimulator({ seed: 8080 });
    const sources = {
      RAISE_API_URL: sim.raiseUrl,
      VOMO_API_URL: sim.vomoUrl,
      SOURCE_RATE_LIMITS: 'raise=200:200,vomo=200:200',
    };
    const ingestPort = await freePort();
    // One after the other: services starting on a fresh topic prefix race on schema registration.
    await start(
      'ingest',
      { ...sources, WEBHOOK_PUBLIC_URL: `http://127.0.0.1:${ingestPort}` },
      ingestPort,
    );
    // The submitter reads the donor of a webhook gift from Raise to complete it.
    await start('submitter', { ...sources, SUBMITTER_RETRY_DELAYS_MS: '1000,2000,4000' });
    await start('reconciler', { ...sources, RECONCILER_TICK_MS: '200' });
    await start('backfiller', { ...sources, BACKFILL_TICK_MS: '200' });

    // One customer onboarded through ingest: token checked, webhook registered, a warehouse.
    const org = `obs-${randomBytes(3).toString('hex')}`;
    const raiseToken = `raise-${org}`;
    sim.control.createOrg({
      id: org,
      raiseToken,
      vomoToken: `vomo-${org}`,
      donors: 5,
      gifts: 20,
      recurringGifts: 0,
      campaigns: 1,
      users: 0,
    });
    const ingest = service('ingest');
    const created = await ingest.admin<{ id: string }>('POST', '/admin/customers', {
      name: `Customer ${org}`,
      raise: { apiToken: raiseToken },
      polling: { enabled: false },
    });
    answered('onboarding', created, 201);
    customerId = created.body.id;
    // The Raise webhook is subscribed as part of onboarding.
    const subscription = (created.body as { webhookSubscription?: string }).webhookSubscription;
    if (subscription !== 'subscribed') {
      throw new Error(`onboarding: webhook ${JSON.stringify(created.body)}`);
    }
    answered(
      'destinations',
      await service('submitter').admin('PUT', `/admin/customers/${customerId}/destinations`, {
        destinations: [{ kind: 'warehouse', name: 'warehouse' }],
      }),
      200,
    );

    const windowStart = new Date(Date.now() - 3600_000).toISOString();
    sim.control.emitWebhooks(org, { count: WEBHOOK_GIFTS, resource: 'gift' });
    await sim.control.flushWebhooks();
    const backfill = await service('backfiller').admin(
      'POST',
      `/admin/customers/${customerId}/backfills`,
      { resource: 'gift' },
    );
    answered('backfill request', backfill, 202);
    // The window closes once the simulator's newest modified time (it runs slightly ahead) is past.
    const newest = sim.control
      .recordKeys(org, 'gift')
      .reduce((max, k) => Math.max(max, Date.parse(k.modifiedDate)), 0);
    await new Promise((done) => setTimeout(done, Math.max(0, newest + 5 - Date.now())));
    const run = await service('reconciler').admin<{ id: string }>(
      'POST',
      `/admin/customers/${customerId}/reconciliations`,
      { windowStart, windowEnd: new Date().toISOString() },
    );
    answered('reconciliation request', run, 202);
  });

  afterAll(async () => {
    await Promise.all(
      APPS.flatMap((name) => {
        const running = services[name];
        return running ? [running.app.stop('SIGTERM')] : [];
      }),
    );
    await sim?.stop();
  });

  it('every service exports its metrics, pipeline and process, under its own service label', async () => {
    for (const name of APPS) {
      const text = await scrape(service(name));
      const series = exportedSeriesNames(text);
      expect(series.get('raise_sync_deliveries_total')).toBe('counter');
      expect(series.get('raise_sync_end_to_end_seconds_bucket')).toBe('histogram');
      expect(series.get('raise_sync_process_resident_memory_bytes')).toBe('gauge');
      expect(sumMetric(text, 'raise_sync_service_info', { service: name })).toBe(1);
    }
  });

  it('every metric a dashboard panel, variable or alert rule names is exported by a service', async () => {
    const exported = new Map<string, AppName[]>();
    for (const name of APPS) {
      for (const series of exportedSeriesNames(await scrape(service(name))).keys()) {
        exported.set(series, [...(exported.get(series) ?? []), name]);
      }
    }
    const queries = everyQuery(loadDashboards());
    expect(queries.filter((q) => q.kind === 'panel').length).toBeGreaterThan(50);
    expect(queries.filter((q) => q.kind === 'variable').length).toBeGreaterThanOrEqual(4);
    expect(queries.filter((q) => q.kind === 'alert').length).toBeGreaterThanOrEqual(5);

    const report: Array<{ where: string; metric: string; exportedBy: AppName[] }> = [];
    for (const query of queries) {
      const { metrics, metricPatterns } = analyzePromql(query.expr);
      expect(metrics.length + metricPatterns.length).toBeGreaterThan(0);
      for (const metric of metrics) {
        report.push({ where: query.where, metric, exportedBy: exported.get(metric) ?? [] });
      }
      for (const pattern of metricPatterns) {
        const re = new RegExp(`^(?:${pattern})$`);
        report.push({
          where: query.where,
          metric: `{__name__=~"${pattern}"}`,
          exportedBy: [...exported].filter(([m]) => re.test(m)).flatMap(([, by]) => by),
        });
      }
    }
    writeFileSync(artifactPath('dashboard-metrics.json'), JSON.stringify(report, null, 2));
    expect(report.filter((r) => r.exportedBy.length === 0)).toEqual([]);
  });

  it("shows one customer's traffic under the labels the customer variable and panels filter on", async () => {
    const c = { customer_id: customerId };
    // The variable's source (label_values(raise_sync_delivery_ledger, customer_id)) lists it.
    await expectEventually(
      async () => {
        const text = await scrape(service('submitter'));
        expect(
          hasSeries(text, 'raise_sync_delivery_ledger', { ...c, destination: 'warehouse' }),
        ).toBe(true);
        expect(
          sumMetric(text, 'raise_sync_deliveries_total', { ...c, outcome: 'delivered' }),
        ).toBeGreaterThanOrEqual(WEBHOOK_GIFTS);
        expect(
          sumMetric(text, 'raise_sync_events_consumed_total', { ...c, outcome: 'decoded' }),
        ).toBeGreaterThanOrEqual(WEBHOOK_GIFTS);
        expect(
          sumMetric(text, 'raise_sync_end_to_end_seconds_count', { origin: 'webhook' }),
        ).toBeGreaterThanOrEqual(WEBHOOK_GIFTS);
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const ingest = await scrape(service('ingest'));
    expect(sumMetric(ingest, 'raise_sync_webhooks_total', { ...c, outcome: 'accepted' })).toBe(
      WEBHOOK_GIFTS,
    );
    expect(
      sumMetric(ingest, 'raise_sync_events_published_total', { ...c, origin: 'webhook' }),
    ).toBe(WEBHOOK_GIFTS);
    expect(
      sumMetric(ingest, 'raise_sync_produce_duration_seconds_count', { topic_kind: 'source' }),
    ).toBeGreaterThan(0);

    await expectEventually(
      async () => {
        const backfiller = await scrape(service('backfiller'));
        const done = sumMetric(backfiller, 'raise_sync_backfill_progress_records', {
          ...c,
          resource: 'gift',
          measure: 'done',
        });
        expect(done).toBeGreaterThanOrEqual(20);
        expect(
          sumMetric(backfiller, 'raise_sync_backfill_progress_records', {
            ...c,
            resource: 'gift',
            measure: 'total',
          }),
        ).toBe(done);
        expect(
          sumMetric(backfiller, 'raise_sync_backfill_eta_seconds', { ...c, resource: 'gift' }),
        ).toBe(0);
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    await expectEventually(
      async () => {
        const reconciler = await scrape(service('reconciler'));
        expect(
          sumMetric(reconciler, 'raise_sync_reconciliation_runs_total', {
            ...c,
            kind: 'window',
            status: 'done',
          }),
        ).toBeGreaterThanOrEqual(1);
        expect(
          hasSeries(reconciler, 'raise_sync_reconciliation_last_run', {
            ...c,
            kind: 'window',
            measure: 'actionable',
          }),
        ).toBe(true);
        expect(
          sumMetric(reconciler, 'raise_sync_reconciliation_last_run', {
            ...c,
            kind: 'window',
            measure: 'source_total',
          }),
        ).toBeGreaterThan(0);
        expect(
          hasSeries(reconciler, 'raise_sync_reconciliation_last_success_timestamp_seconds', {
            ...c,
            kind: 'window',
          }),
        ).toBe(true);
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { anchorsOf, REPO_ROOT } from './markdown';
import { declaredMetrics, TARGET_LABELS, type MetricCatalog } from './metric-catalog';
import {
  allPanels,
  alertRules,
  everyQuery,
  loadDashboards,
  panelQueries,
  variableQueryText,
  type DashboardFile,
  type Query,
} from './observability-files';
import { analyzePromql, PROMQL_FUNCTIONS, variableQueryPromql } from './promql';

const dashboards = loadDashboards();
const queries = everyQuery(dashboards);
const CUSTOMER_MATCHER = { name: 'customer_id', op: '=~', value: '$customer_id' };
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
/** Where every alert rule's runbook annotation points: one heading per alert. */
const RUNBOOKS = 'docs/runbooks.md';

/**
 * The stages the issue asks the dashboards to cover, each as a test on one panel query: the
 * metric it must read, and where a metric serves several stages, the selector or call that
 * singles the stage out.
 */
const STAGES: Array<[string, RegExp]> = [
  ['webhook intake by outcome', /by \([^)]*outcome[^)]*\) \(rate\(raise_sync_webhooks_total/],
  [
    'produce latency',
    /histogram_quantile\([^,]+, sum by \(le[^)]*\) \(rate\(raise_sync_produce_duration_seconds_bucket/,
  ],
  [
    'topic throughput in (written per topic)',
    /by \(source, resource\) \(rate\(raise_sync_events_published_total/,
  ],
  [
    'topic throughput out (consumed per topic)',
    /by \(source, resource\) \(rate\(raise_sync_events_consumed_total/,
  ],
  ['consumer lag', /raise_sync_consumer_lag_messages/],
  [
    'deliveries per destination',
    /by \(destination[^)]*\) \(rate\(raise_sync_deliveries_total\{[^}]*outcome="delivered"/,
  ],
  [
    'delivery latency per destination kind',
    /histogram_quantile\([^,]+, sum by \(le, kind\) \(rate\(raise_sync_delivery_duration_seconds_bucket/,
  ],
  ['retries', /raise_sync_deliveries_total\{[^}]*outcome="retry_scheduled"/],
  ['retries overdue', /raise_sync_retries_overdue/],
  ['dead letters written', /raise_sync_dead_letters_total/],
  ['dead letters open and their age', /raise_sync_dead_letter_oldest_age_seconds/],
  [
    'end-to-end latency',
    /histogram_quantile\([^,]+, sum by \(le[^)]*\) \(rate\(raise_sync_end_to_end_seconds_bucket/,
  ],
  ['backfill progress', /raise_sync_backfill_progress_records\{[^}]*measure="done"/],
  ['backfill rate and ETA', /raise_sync_backfill_eta_seconds/],
  ['topic replay', /raise_sync_replay_messages_total/],
  ['reconciliation gaps', /raise_sync_reconciliation_last_run\{[^}]*measure="actionable"/],
  ['credential failures', /raise_sync_source_credential_failing/],
];

let catalog: MetricCatalog;
beforeAll(async () => {
  catalog = await declaredMetrics();
});

describe('Grafana dashboards (deploy/grafana/dashboards)', () => {
  it('are four or more valid JSON files with unique uids and titles, tagged raise-sync', () => {
    expect(dashboards.length).toBeGreaterThanOrEqual(4);
    const uids = dashboards.map((d) => d.dashboard.uid);
    const titles = dashboards.map((d) => d.dashboard.title);
    expect(new Set(uids).size).toBe(uids.length);
    expect(new Set(titles).size).toBe(titles.length);
    for (const { dashboard } of dashboards) {
      expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
      expect(dashboard.tags).toContain('raise-sync');
      expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
      expect(dashboard).not.toHaveProperty('id', expect.any(Number));
    }
  });

  describe.each(dashboards.map((d) => [d.file, d] as const))('%s', (_file, file: DashboardFile) => {
    const panels = allPanels(file.dashboard);
    const shown = panels.filter((p) => p.type !== 'row');
    const variables = file.dashboard.templating?.list ?? [];

    it('has unique panel ids and panels that stay inside the grid without overlapping', () => {
      const ids = panels.map((p) => p.id);
      expect(ids.every((id) => Number.isInteger(id))).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
      const taken = new Map<string, number | undefined>();
      for (const panel of panels) {
        const g = panel.gridPos;
        expect(g).toBeDefined();
        if (!g) {
          continue;
        }
        expect(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0).toBe(true);
        for (let x = g.x; x < g.x + g.w; x++) {
          for (let y = g.y; y < g.y + g.h; y++) {
            expect({ cell: `${x},${y}`, by: taken.get(`${x},${y}`) }).toEqual({
              cell: `${x},${y}`,
              by: undefined,
            });
            taken.set(`${x},${y}`, panel.id);
          }
        }
      }
    });

    it('reads Prometheus through a data source variable, never an import-time ${DS_...} input', () => {
      expect(file.text).not.toMatch(/\$\{DS_/);
      expect(variables).toContainEqual(
        expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
      );
      for (const panel of shown) {
        expect({ panel: panel.title, datasource: panel.datasource }).toEqual({
          panel: panel.title,
          datasource: DATASOURCE,
        });
        for (const target of panel.targets ?? []) {
          expect(target.datasource).toEqual(DATASOURCE);
        }
      }
    });

    it('has a customer_id variable (all customers with a destination, multi-select, All)', () => {
      const customer = variables.find((v) => v.name === 'customer_id');
      expect(customer).toMatchObject({
        type: 'query',
        includeAll: true,
        multi: true,
        allValue: '.*',
        datasource: DATASOURCE,
      });
      const stored = customer ? variableQueryText(customer) : '';
      expect(stored).toMatch(/^label_values\(\s*raise_sync_[a-z_]+\s*,\s*customer_id\s*\)$/);
      const metric = analyzePromql(variableQueryPromql(stored) ?? '').metrics[0] ?? '';
      expect(catalog.labels(metric).has('customer_id')).toBe(true);
    });

    it('filters every customer-labelled selector by $customer_id', () => {
      let filtered = 0;
      for (const query of panelQueries(file)) {
        for (const selector of analyzePromql(query.expr).selectors) {
          if (selector.metric === null || !catalog.labels(selector.metric).has('customer_id')) {
            continue;
          }
          expect({
            where: query.where,
            metric: selector.metric,
            matchers: selector.matchers,
          }).toEqual({
            where: query.where,
            metric: selector.metric,
            matchers: expect.arrayContaining([CUSTOMER_MATCHER]) as unknown,
          });
          filtered++;
        }
      }
      expect(filtered).toBeGreaterThan(0);
    });

    it('gives every panel a title, a description, queries and a unit', () => {
      for (const panel of shown) {
        expect(panel.title).toBeTruthy();
        expect(panel.description).toBeTruthy();
        expect(panel.targets?.length).toBeGreaterThan(0);
        expect({ panel: panel.title, unit: panel.fieldConfig?.defaults?.unit }).toEqual({
          panel: panel.title,
          unit: expect.any(String) as unknown,
        });
      }
    });

    it('shows durations in seconds and sizes in bytes', () => {
      const expectedUnit = (metrics: string[]): string | undefined =>
        metrics.some((m) => /_seconds(_bucket|_sum)?$/.test(m))
          ? 's'
          : metrics.some((m) => m.endsWith('_bytes'))
            ? 'bytes'
            : undefined;
      const checked = shown
        .map((panel) => ({
          panel: panel.title,
          unit: panel.fieldConfig?.defaults?.unit,
          expected: expectedUnit(
            (panel.targets ?? []).flatMap((t) => analyzePromql(t.expr ?? '').metrics),
          ),
        }))
        .filter((p) => p.expected !== undefined);
      expect(checked.filter((p) => p.unit !== p.expected)).toEqual([]);
    });
  });

  it.each(STAGES)('cover the stage: %s', (_stage, pattern) => {
    const panelsExprs = dashboards.flatMap((d) => panelQueries(d)).map((q) => q.expr);
    expect(panelsExprs.filter((expr) => pattern.test(expr)).length).toBeGreaterThan(0);
  });
});

describe('every dashboard and alert query', () => {
  it('parses, and calls only PromQL functions', () => {
    expect(queries.length).toBeGreaterThan(50);
    for (const query of queries) {
      const unknown = analyzePromql(query.expr).functions.filter(
        (f) => !PROMQL_FUNCTIONS.has(f.toLowerCase()),
      );
      expect({ where: query.where, unknown }).toEqual({ where: query.where, unknown: [] });
    }
  });

  it('names only metrics a service declares (the e2e test checks the real /metrics too)', () => {
    for (const query of queries) {
      const summary = analyzePromql(query.expr);
      expect(summary.metrics.length + summary.metricPatterns.length).toBeGreaterThan(0);
      const undeclared = summary.metrics.filter((m) => !catalog.series.has(m));
      expect({ where: query.where, undeclared }).toEqual({ where: query.where, undeclared: [] });
    }
  });

  it('matches and groups only on labels those metrics carry', () => {
    const problems = (query: Query): string[] => {
      const summary = analyzePromql(query.expr);
      const known = new Set(
        summary.metrics.flatMap((m) => [...catalog.labels(m)]).concat(TARGET_LABELS),
      );
      return [
        ...summary.selectors.flatMap((s) =>
          s.metric === null
            ? []
            : s.matchers
                .filter((m) => m.name !== '__name__' && !catalog.labels(s.metric ?? '').has(m.name))
                .map((m) => `${s.metric} has no label ${m.name}`),
        ),
        ...summary.groupingLabels.filter((l) => !known.has(l)).map((l) => `no metric has ${l}`),
      ];
    };
    for (const query of queries) {
      expect({ where: query.where, problems: problems(query) }).toEqual({
        where: query.where,
        problems: [],
      });
    }
  });
});

describe('Prometheus alert rules (deploy/prometheus/alerts.yml)', () => {
  const rules = alertRules();
  const byName = new Map(rules.map((r) => [r.alert, r]));
  // Labels an alert may carry: all bounded (no record IDs, emails, URLs or instances).
  const BOUNDED = new Set([
    'customer_id',
    'destination',
    'source',
    'api',
    'group',
    'kind',
    'resource',
    'reason',
    'status',
    // the registry's default label: one of the four service names
    'service',
  ]);

  const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'count', 'group', 'topk', 'bottomk']);

  it('have unique names, a severity, a summary and a runbook entry each', () => {
    const runbooks = anchorsOf(readFileSync(join(REPO_ROOT, RUNBOOKS), 'utf8'));
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const rule of rules) {
      expect(rule.alert).toMatch(/^[A-Z][A-Za-z0-9]+$/);
      expect(['page', 'ticket']).toContain(rule.labels?.['severity']);
      expect(rule.annotations?.['summary']).toBeTruthy();
      expect(rule.annotations?.['runbook']).toBe(`${RUNBOOKS}#${rule.alert.toLowerCase()}`);
      // the entry exists: a heading named after the alert
      expect({ alert: rule.alert, entry: runbooks.has(rule.alert.toLowerCase()) }).toEqual({
        alert: rule.alert,
        entry: true,
      });
    }
  });

  it('group only by bounded labels and never by "without" (which keeps every other label)', () => {
    for (const rule of rules) {
      const summary = analyzePromql(rule.expr);
      expect({ alert: rule.alert, without: /\bwithout\b/i.test(rule.expr) }).toEqual({
        alert: rule.alert,
        without: false,
      });
      expect({
        alert: rule.alert,
        unbounded: summary.groupingLabels.filter((l) => !BOUNDED.has(l)),
      }).toEqual({ alert: rule.alert, unbounded: [] });
      // Every selector sits inside an aggregation, so an alert carries only its grouping labels
      // (one alert per customer and destination, not one per replica or instance).
      const bare = summary.selectors
        .filter((s) => !s.within.some((call) => AGGREGATIONS.has(call.toLowerCase())))
        .map((s) => s.metric);
      expect({ alert: rule.alert, bare }).toEqual({ alert: rule.alert, bare: [] });
    }
  });

  it('include the alerts the operations issue asks for', () => {
    const dead = byName.get('DeadLettersOlderThan4h');
    expect(dead?.expr).toMatch(/raise_sync_dead_letter_oldest_age_seconds\) > 4 \* 3600$/);
    expect(dead?.annotations?.['description']).toMatch(/N = 4 hours/);

    const lag = byName.get('ConsumerLagGrowing');
    expect(analyzePromql(lag?.expr ?? '').functions).toEqual(
      expect.arrayContaining(['deriv', 'max']),
    );
    expect(lag?.expr).toMatch(/> 25000/);
    expect(lag?.for).toBeTruthy();

    const gaps = byName.get('ReconciliationGapsAboveBaseline');
    expect(gaps?.expr).toMatch(
      /avg_over_time\(raise_sync_reconciliation_last_run\{measure="actionable"\}\[7d\] offset 1d\)/,
    );

    expect(byName.get('SourceCredentialFailing')?.expr).toMatch(
      /raise_sync_source_credential_failing/,
    );
    expect(byName.get('SourceAuthFailures')?.expr).toMatch(/raise_sync_source_auth_failures_total/);

    const errors = byName.get('DestinationErrorRate');
    expect(errors?.expr).toMatch(
      /sum by \(customer_id, destination\) \(rate\(raise_sync_deliveries_total\{outcome=~"retry_scheduled\|dead_lettered"\}/,
    );
    expect(errors?.for).toBeTruthy();
  });
});

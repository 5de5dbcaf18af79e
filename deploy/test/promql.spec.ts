import { exportedSeriesNames } from './exposition';
import { analyzePromql, promqlMetricNames, variableQueryPromql } from './promql';

describe('promqlMetricNames', () => {
  it.each<[string, string, string[]]>([
    ['a bare metric', 'raise_sync_consumer_lag_messages', ['raise_sync_consumer_lag_messages']],
    [
      'label names and values inside a selector',
      'raise_sync_webhooks_total{customer_id=~"$customer_id", outcome="rejected", reason!="replayed"}',
      ['raise_sync_webhooks_total'],
    ],
    [
      'functions, aggregation with a trailing by, ranges with Grafana intervals',
      'sum(rate(raise_sync_deliveries_total{destination="crm"}[$__rate_interval])) by (destination, outcome)',
      ['raise_sync_deliveries_total'],
    ],
    [
      'an aggregation whose grouping comes first, nested calls and a quantile number',
      'histogram_quantile(0.99, sum by (le, kind) (rate(raise_sync_delivery_duration_seconds_bucket{outcome="ok"}[5m])))',
      ['raise_sync_delivery_duration_seconds_bucket'],
    ],
    [
      'upper-case keywords, offset and durations',
      'SUM BY (customer_id) (raise_sync_backfill_records_total OFFSET 1h30m) / ignoring(resource) group_left raise_sync_backfill_pages_total',
      ['raise_sync_backfill_records_total', 'raise_sync_backfill_pages_total'],
    ],
    [
      'set operators, bool, on(), number literals and scientific notation',
      'raise_sync_retries_overdue > bool 1e3 and on (customer_id, destination) raise_sync_dead_letters_open unless raise_sync_delivery_ledger_imbalance or vector(0)',
      [
        'raise_sync_retries_overdue',
        'raise_sync_dead_letters_open',
        'raise_sync_delivery_ledger_imbalance',
      ],
    ],
    [
      'strings of label_replace and count_values, including one that looks like a metric',
      'label_replace(count_values("raise_sync_not_a_metric", raise_sync_service_info), "source", "$1", \'api\', `(.*)`)',
      ['raise_sync_service_info'],
    ],
    [
      'subqueries, the @ modifier with start(), and without()',
      'max_over_time(deriv(sum without (instance) (raise_sync_consumer_lag_messages)[30m:1m])[1h:]) @ start()',
      ['raise_sync_consumer_lag_messages'],
    ],
    [
      '__name__ matchers and a repeated metric named once',
      '{__name__="raise_sync_poll_records_total", customer_id="x"} + raise_sync_poll_records_total',
      ['raise_sync_poll_records_total'],
    ],
    [
      'comments, ${var}, [[var]] and inf/nan literals',
      '# the lag\nraise_sync_consumer_lag_messages{group=~"${group:regex}"}[[window]] > ${threshold} or Inf or NaN',
      ['raise_sync_consumer_lag_messages'],
    ],
    [
      'time() and scalar arithmetic leave only the metric',
      'time() - max by (customer_id, kind) (raise_sync_reconciliation_last_success_timestamp_seconds) > 2 * 86400',
      ['raise_sync_reconciliation_last_success_timestamp_seconds'],
    ],
  ])('%s', (_what, expr, expected) => {
    expect(promqlMetricNames(expr)).toEqual(expected);
  });

  it('keeps function names, grouping labels and selector matchers apart', () => {
    const summary = analyzePromql(
      'sum by (customer_id) (rate(raise_sync_webhooks_total{outcome="accepted", source=~"raise|vomo"}[5m])) / on (customer_id) group_left (source) count(raise_sync_source_credential_failing)',
    );
    expect(summary.functions).toEqual(['sum', 'rate', 'count']);
    expect(summary.groupingLabels).toEqual(['customer_id', 'customer_id', 'source']);
    expect(summary.selectors).toEqual([
      {
        metric: 'raise_sync_webhooks_total',
        matchers: [
          { name: 'outcome', op: '=', value: 'accepted' },
          { name: 'source', op: '=~', value: 'raise|vomo' },
        ],
        within: ['sum', 'rate'],
      },
      { metric: 'raise_sync_source_credential_failing', matchers: [], within: ['count'] },
    ]);
  });

  it('reports a misspelt function as a call, so checks can refuse it', () => {
    expect(analyzePromql('rat(raise_sync_webhooks_total[5m])').functions).toEqual(['rat']);
  });

  it('reads __name__ regular expressions as metric patterns', () => {
    expect(analyzePromql('count({__name__=~"raise_sync_backfill_.+"})').metricPatterns).toEqual([
      'raise_sync_backfill_.+',
    ]);
  });

  it('tells which calls a selector sits inside', () => {
    const within = analyzePromql(
      'time() - (max by (k) (last_over_time(raise_sync_a[1h])) or 0 * raise_sync_b)',
    ).selectors.map((s) => [s.metric, s.within]);
    expect(within).toEqual([
      ['raise_sync_a', ['', 'max', 'last_over_time']],
      ['raise_sync_b', ['']],
    ]);
  });

  it.each([
    'raise_sync_x{a="b"',
    'raise_sync_x{a=b}',
    'rate(raise_sync_x[5m)',
    'x{a="open',
    'sum(raise_sync_x',
    'raise_sync_x)',
  ])('throws on a malformed expression: %s', (expr) => {
    expect(() => analyzePromql(expr)).toThrow();
  });
});

describe('variableQueryPromql', () => {
  it.each<[string, string | null]>([
    ['label_values(raise_sync_delivery_ledger, customer_id)', 'raise_sync_delivery_ledger'],
    [
      'label_values(raise_sync_webhooks_total{source="raise"}, customer_id)',
      'raise_sync_webhooks_total{source="raise"}',
    ],
    ['label_values(customer_id)', null],
    ['label_names()', null],
    ['metrics(raise_sync_.*)', null],
    [
      'query_result(topk(5, raise_sync_dead_letters_open))',
      'topk(5, raise_sync_dead_letters_open)',
    ],
    ['raise_sync_service_info', 'raise_sync_service_info'],
  ])('%s', (query, expected) => {
    expect(variableQueryPromql(query)).toEqual(expected);
  });
});

describe('exportedSeriesNames', () => {
  it('expands histograms and summaries into the series Prometheus stores', () => {
    const text = [
      '# HELP raise_sync_deliveries_total Events handled.',
      '# TYPE raise_sync_deliveries_total counter',
      'raise_sync_deliveries_total{outcome="delivered"} 3',
      '# HELP raise_sync_end_to_end_seconds From change to destination.',
      '# TYPE raise_sync_end_to_end_seconds histogram',
      'raise_sync_end_to_end_seconds_bucket{le="+Inf"} 1',
      '# TYPE raise_sync_gc_pause summary',
      '# TYPE raise_sync_consumer_lag_messages gauge',
      'raise_sync_consumer_lag_messages{group="g"} 0',
    ].join('\n');
    expect([...exportedSeriesNames(text).keys()].sort()).toEqual(
      [
        'raise_sync_consumer_lag_messages',
        'raise_sync_deliveries_total',
        'raise_sync_end_to_end_seconds_bucket',
        'raise_sync_end_to_end_seconds_count',
        'raise_sync_end_to_end_seconds_sum',
        'raise_sync_gc_pause',
        'raise_sync_gc_pause_count',
        'raise_sync_gc_pause_sum',
      ].sort(),
    );
  });

  it('finds nothing in a body that is not an exposition', () => {
    expect(exportedSeriesNames('<html>not found</html>').size).toBe(0);
  });
});

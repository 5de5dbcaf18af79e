import { createMetricsRegistry, createPipelineMetrics } from '@raise-sync/shared/observability';
import { exportedSeriesNames } from './exposition';

/** Labels Prometheus adds to every scraped series (target labels). */
export const TARGET_LABELS = ['instance', 'job'] as const;

export interface MetricCatalog {
  /** Queryable series names (histograms expanded) and their metric type. */
  series: Map<string, string>;
  /** Label names a series carries: declared ones, the registry's default `service`, target labels, `le`. */
  labels(series: string): Set<string>;
}

/**
 * What a service process declares, built in-process the way every service builds its registry
 * (no network): the fast, static counterpart of scraping the real /metrics.
 */
export async function declaredMetrics(): Promise<MetricCatalog> {
  const registry = createMetricsRegistry('catalog');
  createPipelineMetrics(registry, 'catalog');
  const series = exportedSeriesNames(await registry.metrics());
  const declared = new Map(
    registry
      .getMetricsAsArray()
      .map((m) => [m.name, (m as unknown as { labelNames?: string[] }).labelNames ?? []] as const),
  );
  return {
    series,
    labels(name: string): Set<string> {
      const type = series.get(name);
      const base =
        type === 'histogram' || type === 'summary'
          ? name.replace(/_(bucket|sum|count)$/, '')
          : name;
      const labels = new Set([...(declared.get(base) ?? []), 'service', ...TARGET_LABELS]);
      if (type === 'histogram' && name.endsWith('_bucket')) {
        labels.add('le');
      }
      if (type === 'summary' && name === base) {
        labels.add('quantile');
      }
      return labels;
    },
  };
}

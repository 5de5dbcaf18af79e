import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { variableQueryPromql } from './promql';

/** The deployment folder (deploy/), wherever the repository is checked out. */
export const DEPLOY_DIR = resolve(__dirname, '..');
export const DASHBOARD_DIR = join(DEPLOY_DIR, 'grafana/dashboards');
export const ALERTS_FILE = join(DEPLOY_DIR, 'prometheus/alerts.yml');

export interface DatasourceRef {
  type?: string;
  uid?: string;
}

export interface Target {
  refId?: string;
  expr?: string;
  datasource?: DatasourceRef;
  [key: string]: unknown;
}

export interface Panel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  gridPos?: { h: number; w: number; x: number; y: number };
  datasource?: DatasourceRef;
  targets?: Target[];
  panels?: Panel[];
  fieldConfig?: { defaults?: { unit?: string; [key: string]: unknown } };
  [key: string]: unknown;
}

export interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string; [key: string]: unknown };
  definition?: string;
  datasource?: DatasourceRef;
  includeAll?: boolean;
  multi?: boolean;
  allValue?: string;
  [key: string]: unknown;
}

export interface Dashboard {
  uid: string;
  title: string;
  tags?: string[];
  schemaVersion: number;
  panels: Panel[];
  templating?: { list: Variable[] };
  [key: string]: unknown;
}

export interface DashboardFile {
  file: string;
  /** The raw text, for checks on how the file is written. */
  text: string;
  dashboard: Dashboard;
}

/** Every dashboard JSON file of deploy/grafana/dashboards (throws on invalid JSON). */
export function loadDashboards(): DashboardFile[] {
  return readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const text = readFileSync(join(DASHBOARD_DIR, file), 'utf8');
      try {
        return { file, text, dashboard: JSON.parse(text) as Dashboard };
      } catch (error) {
        throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
      }
    });
}

/** Panels of a dashboard, rows' nested panels included, in file order. */
export function allPanels(dashboard: Dashboard): Panel[] {
  const out: Panel[] = [];
  const walk = (panels: Panel[] | undefined): void => {
    for (const panel of panels ?? []) {
      out.push(panel);
      walk(panel.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

/** One PromQL text of a dashboard or rule file, with where it comes from. */
export interface Query {
  where: string;
  expr: string;
  kind: 'panel' | 'variable' | 'alert';
  /** The variable query as stored (label_values(...) etc.) for kind 'variable'. */
  variableQuery?: string;
}

/** The query of a template variable as text, whichever form Grafana stored it in. */
export function variableQueryText(variable: Variable): string {
  const q = variable.query;
  if (typeof q === 'string') {
    return q;
  }
  return q?.query ?? variable.definition ?? '';
}

/** Every panel target expression of a dashboard. */
export function panelQueries(file: DashboardFile): Query[] {
  return allPanels(file.dashboard).flatMap((panel) =>
    (panel.targets ?? [])
      .filter((t) => typeof t.expr === 'string')
      .map((t) => ({
        where: `${file.file} panel ${panel.id} "${panel.title}" ${t.refId ?? ''}`.trim(),
        expr: t.expr as string,
        kind: 'panel' as const,
      })),
  );
}

/** The PromQL inside each query-type template variable of a dashboard (none for label_names() etc.). */
export function variableQueries(file: DashboardFile): Query[] {
  return (file.dashboard.templating?.list ?? [])
    .filter((v) => v.type === 'query')
    .flatMap((v) => {
      const stored = variableQueryText(v);
      const expr = variableQueryPromql(stored);
      return expr === null
        ? []
        : [
            {
              where: `${file.file} variable ${v.name}`,
              expr,
              kind: 'variable' as const,
              variableQuery: stored,
            },
          ];
    });
}

/** Every dashboard query and variable query, then every alert rule expression. */
export function everyQuery(dashboards: DashboardFile[] = loadDashboards()): Query[] {
  return [
    ...dashboards.flatMap((d) => [...variableQueries(d), ...panelQueries(d)]),
    ...alertQueries(),
  ];
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleFile {
  groups: Array<{ name: string; interval?: string; rules: AlertRule[] }>;
}

export function loadRuleFile(): RuleFile {
  return parse(readFileSync(ALERTS_FILE, 'utf8')) as RuleFile;
}

export function alertRules(): AlertRule[] {
  return loadRuleFile().groups.flatMap((g) => g.rules);
}

export function alertQueries(): Query[] {
  return alertRules().map((rule) => ({
    where: `alert ${rule.alert}`,
    expr: rule.expr,
    kind: 'alert' as const,
  }));
}

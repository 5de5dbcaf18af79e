/**
 * The Grafana dashboards, schema-checked: each file against Grafana's published dashboard JSON
 * schema, each panel's options and custom field config against its panel type's schema, and each
 * query against the Prometheus data-query schema. The schemas are a copy of the jsonschema/ folder
 * of grafana/grafana-foundation-sdk (deploy/grafana/schema/README.md says which commit). This is a
 * check against the published schema, not a load into Grafana: no Grafana server runs here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { allPanels, DEPLOY_DIR, loadDashboards, type Dashboard } from './observability-files';

const SCHEMA_DIR = join(DEPLOY_DIR, 'grafana/schema');
const PANEL_TYPES = ['timeseries', 'stat', 'table', 'bargauge', 'gauge'] as const;

interface JsonSchema {
  definitions: Record<string, unknown>;
  [key: string]: unknown;
}

const schema = (name: string): JsonSchema =>
  JSON.parse(readFileSync(join(SCHEMA_DIR, `${name}.jsonschema.json`), 'utf8')) as JsonSchema;

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);

/** A validator for one definition of a schema file (its other definitions resolve within it). */
function definition(file: JsonSchema, name: string): ValidateFunction | null {
  return name in file.definitions ? ajv.compile({ ...file, $ref: `#/definitions/${name}` }) : null;
}

const dashboardSchema = ajv.compile(schema('dashboard'));
const querySchema = ajv.compile(schema('prometheus'));
const panelSchemas = new Map(
  PANEL_TYPES.map((type) => {
    const file = schema(type);
    return [
      type,
      { options: definition(file, 'Options'), custom: definition(file, 'FieldConfig') },
    ];
  }),
);

const describeErrors = (where: string, errors: ErrorObject[] | null | undefined): string[] =>
  (errors ?? []).map(
    (e) => `${where}${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );

/** Every finding of the schemas on one dashboard, as readable lines (none when it conforms). */
function findings(dashboard: unknown): string[] {
  const out: string[] = [];
  if (!dashboardSchema(dashboard)) {
    out.push(...describeErrors('dashboard', dashboardSchema.errors));
  }
  for (const panel of allPanels(dashboard as Dashboard)) {
    if (panel.type === 'row') {
      continue;
    }
    const where = `panel "${panel.title ?? panel.id}"`;
    const forType = panelSchemas.get(panel.type as (typeof PANEL_TYPES)[number]);
    if (!forType) {
      out.push(`${where}: no schema for panel type ${panel.type}`);
      continue;
    }
    if (forType.options && !forType.options(panel['options'] ?? {})) {
      out.push(...describeErrors(`${where} options`, forType.options.errors));
    }
    const custom = (panel.fieldConfig?.defaults as { custom?: unknown } | undefined)?.custom;
    if (forType.custom && !forType.custom(custom ?? {})) {
      out.push(...describeErrors(`${where} fieldConfig.defaults.custom`, forType.custom.errors));
    }
    for (const target of panel.targets ?? []) {
      const conforms: boolean = querySchema(target); // not a type guard: keep the target's type
      if (!conforms) {
        out.push(...describeErrors(`${where} target ${target.refId ?? ''}`, querySchema.errors));
      }
    }
  }
  return out;
}

describe("dashboards against Grafana's published JSON schema", () => {
  const dashboards = loadDashboards();

  it('finds the dashboards', () => {
    expect(dashboards.length).toBeGreaterThanOrEqual(4);
  });

  it.each(dashboards.map((d) => [d.file, d] as const))('%s conforms', (_file, { dashboard }) => {
    expect(findings(dashboard)).toEqual([]);
  });

  it('refuses a dashboard the schema does not allow (the check is live)', () => {
    const [first] = dashboards;
    const broken = JSON.parse(first?.text ?? '{}') as { panels: Array<Record<string, unknown>> };
    const panel = broken.panels.find((p) => p['type'] === 'timeseries');
    expect(panel).toBeDefined();
    (panel as Record<string, unknown>)['gridPos'] = { h: 'tall', w: 12, x: 0, y: 0 };
    (panel as Record<string, unknown>)['options'] = { legend: { displayMode: 'sideways' } };
    const found = findings(broken);
    expect(found.some((f) => f.includes('/gridPos/h'))).toBe(true);
    expect(found.some((f) => f.includes('options/legend'))).toBe(true);
  });
});

import { METRIC_NAMES } from '@raise-sync/shared/observability';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadConfig, SHARED_CONFIG } from '@raise-sync/shared/config';
import { SECTIONS_OF, SERVICES, VARIABLES } from './config-catalogue';

// docker-compose cannot run on the CI machines (no Docker engine), so this keeps it honest.
const ROOT = resolve(__dirname, '../..');
const APPS = SERVICES;

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  ports?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: unknown };
  command?: string[];
}

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = Object.entries(compose.services);

describe('docker-compose.yml', () => {
  it('has the infrastructure, observability and all four services', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        'backfiller',
        'grafana',
        'ingest',
        'kafka',
        'migrate',
        'postgres',
        'prometheus',
        'reconciler',
        'schema-registry',
        'submitter',
      ].sort(),
    );
    expect(compose.services['kafka']?.image).toMatch(/^apache\/kafka:3\.9\./);
  });

  it.each(services)('%s has either an image or a build', (_name, service) => {
    expect(Boolean(service.image) !== Boolean(service.build)).toBe(true);
  });

  it.each(services.filter(([, s]) => s.build))(
    '%s builds a real project with an existing Dockerfile',
    (name, service) => {
      const build = service.build ?? { context: '', dockerfile: '' };
      // One Dockerfile per project, next to its project.json (migrate: libs/shared).
      const project = name === 'migrate' ? 'libs/shared' : `apps/${name}`;
      expect(build.dockerfile).toBe(`${project}/Dockerfile`);
      expect(existsSync(join(ROOT, build.context, build.dockerfile))).toBe(true);
      expect(existsSync(join(ROOT, build.context, project, 'project.json'))).toBe(true);
    },
  );

  it.each(services.filter(([name]) => name !== 'migrate'))(
    '%s publishes ports and has a health check',
    (_name, service) => {
      expect(service.ports?.length).toBeGreaterThan(0);
      for (const port of service.ports ?? []) {
        expect(port).toMatch(/^\d+:\d+$/);
      }
      expect(service.healthcheck?.test).toBeDefined();
    },
  );

  it.each(APPS)(
    '%s gets every required variable, no unknown one, and a config that validates',
    (app) => {
      const env = compose.services[app]?.environment ?? {};
      for (const section of SECTIONS_OF[app]) {
        for (const [name, declared] of Object.entries(section.variables)) {
          expect({ name, set: !declared.required || name in env }).toEqual({ name, set: true });
        }
      }
      expect(Object.keys(env).filter((name) => !VARIABLES.has(name))).toEqual([]);
      expect(() => loadConfig(env, SECTIONS_OF[app])).not.toThrow();
      const config = loadConfig(env, [SHARED_CONFIG]);
      expect(config.http.port).toBe(3000);
      expect(compose.services[app]?.ports).toEqual([expect.stringMatching(/:3000$/)]);
      expect(config.kafka.brokers).toEqual(['kafka:9092']);
      expect(config.registry.url).toBe('http://schema-registry:8080/apis/ccompat/v7');
    },
  );

  it('lets Prometheus scrape every service on its HTTP port', () => {
    const prometheus = parse(
      readFileSync(join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8'),
    ) as {
      scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>;
    };
    const targets = prometheus.scrape_configs.flatMap((c) =>
      c.static_configs.flatMap((s) => s.targets),
    );
    expect(targets.sort()).toEqual(APPS.map((app) => `${app}:3000`).sort());
  });

  it('alert rules are loaded by Prometheus and only use metrics the services export', () => {
    const prometheus = parse(
      readFileSync(join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8'),
    ) as { rule_files: string[] };
    expect(prometheus.rule_files).toEqual(['/etc/prometheus/alerts.yml']);
    const alerts = parse(readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
    };
    const rules = alerts.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      const used = rule.expr.match(/raise_sync_[a-z_]+/g) ?? [];
      expect(used.length).toBeGreaterThan(0);
      for (const metric of used) {
        expect({ alert: rule.alert, metric, known: METRIC_NAMES.includes(metric) }).toEqual({
          alert: rule.alert,
          metric,
          known: true,
        });
      }
    }
  });
});

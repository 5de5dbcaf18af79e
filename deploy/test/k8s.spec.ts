/**
 * deploy/k8s without a cluster: render the base and the production overlay (test renderer, kept
 * honest against `kubectl kustomize` where kubectl exists), validate every object against the
 * API schema pinned by kubernetes-models@4.5.1 (Kubernetes 1.33 fields: it knows
 * lifecycle.stopSignal, not 1.34's hostnameOverride; 5.x is ESM only, which this Jest setup does
 * not load) and, for the ServiceMonitor and KEDA's ScaledObject,
 * @kubernetes-models/prometheus-operator@4.4.4 and @kubernetes-models/keda@0.4.2. Then check what a schema cannot: probes on the
 * real health paths and port, sizing, security context, every variable known to the services'
 * config and every secret from the Secret, selectors that select, and images that are the ones
 * the Dockerfiles build.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigError, loadConfig } from '@raise-sync/shared/config';
import { SECTIONS_OF, VARIABLES, type Service as App } from './config-catalogue';
import { METRIC_NAMES } from '@raise-sync/shared/observability';
import { bulkGroupId, liveGroupId } from '@raise-sync/shared/kafka';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { K8S_DIR, kustomizeHash, renderKustomization, type K8sObject } from './kustomize';
import {
  effectiveEnv,
  envValues,
  named,
  ofKind,
  quantity,
  selects,
  type Container,
  type LabelSelector,
  type Workload,
} from './manifests';
import { dockerfileImageTitle, REPO_ROOT } from './dockerfile';

const APPS = ['ingest', 'submitter', 'reconciler', 'backfiller'] as const;
const BASE = join(K8S_DIR, 'base');
const PRODUCTION = join(K8S_DIR, 'overlays/production');
const HPA_EXAMPLE = join(K8S_DIR, 'examples/submitter-hpa.yaml');
const KEDA_EXAMPLE = join(K8S_DIR, 'examples/submitter-keda.yaml');

/** Values a variable may only get from a Secret: declared secret (credentials, keys, URLs with tokens). */
const SECRET_VARIABLES = [...VARIABLES].filter(([, v]) => v.secret).map(([name]) => name);
/** Variables of the Node.js runtime, not of the services' config. */
const RUNTIME_VARIABLES = ['NODE_OPTIONS'];
const KNOWN = new Set<string>([...VARIABLES.keys(), ...RUNTIME_VARIABLES]);
const requiredOf = (app: App): string[] =>
  SECTIONS_OF[app].flatMap((section) =>
    Object.entries(section.variables)
      .filter(([, v]) => v.required)
      .map(([name]) => name),
  );
const defaultOf = (name: string): string => VARIABLES.get(name)?.defaultText ?? '';

/** What an operator writes into the git-ignored overlays/production/secrets.env. */
const productionSecrets = [
  `DATABASE_URL=postgres://raise_sync:${randomBytes(12).toString('hex')}@db.internal:5432/raise_sync?sslmode=require`,
  `SECRETS_KEY=${randomBytes(32).toString('hex')}`,
  `ADMIN_TOKEN=${randomBytes(24).toString('hex')}`,
  'RECONCILER_OPS_WEBHOOK_URL=https://alerts.example.org/hooks/raise-sync',
  '',
].join('\n');

const renders: Record<'base' | 'production', K8sObject[]> = {
  base: renderKustomization(BASE),
  production: renderKustomization(PRODUCTION, {
    files: { [join(PRODUCTION, 'secrets.env')]: productionSecrets },
  }),
};
const RENDERS = Object.entries(renders) as Array<['base' | 'production', K8sObject[]]>;

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
};

function validate(object: K8sObject): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) {
    throw new Error(`no pinned schema wired for ${object.apiVersion} ${object.kind}`);
  }
  // kustomize breaks long Secret values into 70-character base64 lines; the API server's decoder
  // skips the breaks, the schema's "byte" format does not, so validate them joined.
  new Model(normaliseSecretData(object) as never).validate();
}

function normaliseSecretData(object: K8sObject): K8sObject {
  if (object.kind !== 'Secret') {
    return object;
  }
  const data = (object['data'] ?? {}) as Record<string, string>;
  return {
    ...object,
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.replace(/\s+/g, '')])),
  };
}

/** Names of the variables the services' config validation rejects (empty when it passes). */
function configProblems(app: App, values: Record<string, string>): string[] {
  try {
    loadConfig(values, SECTIONS_OF[app]);
    return [];
  } catch (error) {
    const problems = error instanceof ConfigError ? error.problems : [String(error)];
    return problems.map((p) => p.split(' ')[0] ?? p).sort();
  }
}

const deploymentOf = (objects: K8sObject[], app: string): Workload =>
  named(ofKind<Workload>(objects, 'Deployment'), `raise-sync-${app}`);
const containerOf = (workload: Workload): Container => {
  const [container, ...others] = workload.spec.template.spec.containers;
  if (!container || others.length > 0) {
    throw new Error(`${workload.metadata.name} should run exactly one container`);
  }
  return container;
};
const configValue = (objects: K8sObject[], app: string, name: string): string =>
  envValues(effectiveEnv(containerOf(deploymentOf(objects, app)), objects))[name] ??
  defaultOf(name);

describe('kustomize renderer (test helper)', () => {
  it('names generated ConfigMaps and Secrets with the suffix kubectl kustomize gives', () => {
    // Suffixes produced by `kubectl kustomize` (kustomize v5.5.0) for these generators.
    const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' } };
    expect(kustomizeHash({ ...configMap, data: { A: '1' } })).toBe('89g4tffbfk');
    expect(kustomizeHash({ ...configMap, data: { B: '2' } })).toBe('588tk542k9');
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec' }, type: 'Opaque' };
    expect(kustomizeHash({ ...secret, data: { A: 'MQ==' } })).toBe('526mcbf5c2');
  });

  it('refuses kustomization features it does not implement', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kustomize-'));
    try {
      writeFileSync(join(dir, 'kustomization.yaml'), 'resources: []\ncommonLabels: { a: b }\n');
      expect(() => renderKustomization(dir)).toThrow(/commonLabels/);
      writeFileSync(join(dir, 'kustomization.yaml'), 'patches:\n  - path: p.yaml\n');
      writeFileSync(join(dir, 'p.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: { name: x }\n');
      expect(() => renderKustomization(dir)).toThrow(/no Service named x/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const kubectl = (() => {
    try {
      execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  // Only where kubectl (with its built-in kustomize) is installed; reported as skipped elsewhere.
  (kubectl ? describe : describe.skip)('against kubectl kustomize', () => {
    it('renders base and production exactly as kubectl kustomize does', () => {
      const copy = mkdtempSync(join(tmpdir(), 'k8s-render-'));
      try {
        cpSync(K8S_DIR, join(copy, 'k8s'), { recursive: true });
        writeFileSync(join(copy, 'k8s/overlays/production/secrets.env'), productionSecrets);
        for (const [which, dir] of [
          ['base', 'k8s/base'],
          ['production', 'k8s/overlays/production'],
        ] as const) {
          const output = execFileSync('kubectl', ['kustomize', join(copy, dir)], {
            encoding: 'utf8',
          });
          const fromKubectl = parseAllDocuments(output).map((d) => d.toJS() as K8sObject);
          expect(normalise(renders[which])).toEqual(normalise(fromKubectl));
        }
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    }, 20_000);
  });
});

/** Objects keyed by kind/name (the YAML emitter's line breaks in Secret values left out). */
function normalise(objects: K8sObject[]): Record<string, unknown> {
  return Object.fromEntries(
    objects.map((o) => {
      const copy = normaliseSecretData(JSON.parse(JSON.stringify(o)) as K8sObject);
      return [`${copy.kind}/${copy.metadata.name}`, copy];
    }),
  );
}

describe.each(RENDERS)('deploy/k8s %s', (which, objects) => {
  it('holds a Deployment, Service and PodDisruptionBudget per app, the migrate Job, config and monitoring', () => {
    const names = (kind: string) => ofKind(objects, kind).map((o) => o.metadata.name);
    for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget']) {
      expect(names(kind).sort()).toEqual(APPS.map((app) => `raise-sync-${app}`).sort());
    }
    expect(names('Job')).toEqual(['raise-sync-migrate']);
    expect(names('ServiceMonitor')).toEqual(['raise-sync']);
    expect(names('ConfigMap')).toEqual([expect.stringMatching(/^raise-sync-config-[a-z0-9]{10}$/)]);
    expect(names('Secret')).toEqual([expect.stringMatching(/^raise-sync-secrets-[a-z0-9]{10}$/)]);
  });

  it('validates every object against the pinned schemas', () => {
    for (const object of objects) {
      expect(() => validate(object)).not.toThrow();
    }
  });

  it('the schema check catches a broken object (it is not a no-op)', () => {
    const broken = JSON.parse(JSON.stringify(deploymentOf(objects, 'submitter'))) as Workload;
    (broken.spec.template.spec.containers[0] as unknown as Record<string, unknown>)['ports'] = [
      { containerPort: 'http' },
    ];
    expect(() => validate(broken)).toThrow(/containerPort/);
  });

  describe.each(APPS)('%s', (app) => {
    const deployment = deploymentOf(objects, app);
    const container = containerOf(deployment);
    const pod = deployment.spec.template.spec;
    const env = effectiveEnv(container, objects);
    const values = envValues(env);

    it('probes live and ready on the health paths, on the port the app listens on', () => {
      const port = Number(values['HTTP_PORT'] ?? defaultOf('HTTP_PORT'));
      const http = container.ports?.find((p) => p.name === 'http');
      expect(http?.containerPort).toBe(port);
      const portOf = (p: string | number | undefined) =>
        typeof p === 'number' ? p : container.ports?.find((c) => c.name === p)?.containerPort;
      expect(container.livenessProbe?.httpGet?.path).toBe('/health/live');
      expect(portOf(container.livenessProbe?.httpGet?.port)).toBe(port);
      expect(container.readinessProbe?.httpGet?.path).toBe('/health/ready');
      expect(portOf(container.readinessProbe?.httpGet?.port)).toBe(port);
      expect(container.startupProbe?.httpGet?.path).toBe('/health/live');
      expect(portOf(container.startupProbe?.httpGet?.port)).toBe(port);
      const service = named(
        ofKind<K8sObject & { spec: { ports: Array<{ targetPort: string | number }> } }>(
          objects,
          'Service',
        ),
        `raise-sync-${app}`,
      );
      expect(service.spec.ports.map((p) => portOf(p.targetPort))).toEqual([port]);
    });

    it('runs as non-root, without privilege escalation or capabilities, read-only root', () => {
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
      // With the above, what the "restricted" Pod Security Standard asks of a pod.
      expect(pod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
      expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
      expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
      expect(container.securityContext?.capabilities?.drop).toEqual(['ALL']);
      expect(container.securityContext?.capabilities?.add ?? []).toEqual([]);
    });

    it('gives the graceful shutdown the time it may take before the kubelet kills', () => {
      const shutdownSeconds =
        Number(values['SHUTDOWN_TIMEOUT_MS'] ?? defaultOf('SHUTDOWN_TIMEOUT_MS')) / 1000;
      const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
        preStop + shutdownSeconds + 5,
      );
    });

    it('requests no more than its limits, and keeps the V8 heap below the memory limit', () => {
      const requests = container.resources?.requests ?? {};
      const limits = container.resources?.limits ?? {};
      expect(quantity(requests['cpu'])).toBeGreaterThan(0);
      expect(quantity(requests['memory'])).toBeGreaterThan(0);
      expect(quantity(requests['memory'])).toBeLessThanOrEqual(quantity(limits['memory']));
      // No CPU limit is set on purpose (throttling stalls consumers' heartbeats); if one is added
      // it must not be below the request.
      expect(quantity(requests['cpu'])).toBeLessThanOrEqual(
        quantity(limits['cpu'] ?? requests['cpu']),
      );
      const heap = /--max-old-space-size=(\d+)/.exec(values['NODE_OPTIONS'] ?? '');
      expect(heap).not.toBeNull();
      const heapBytes = Number(heap?.[1]) * 1024 ** 2;
      // Every worker process (INGEST_WORKERS) inherits NODE_OPTIONS: each one's heap plus
      // ~100 MiB of code, buffers and native memory must fit under the pod's limit.
      const workers = Number(values['INGEST_WORKERS'] ?? '1');
      expect(workers * (heapBytes + 100 * 1024 ** 2)).toBeLessThanOrEqual(
        quantity(limits['memory']),
      );
    });

    it('gets only known variables, every required one, secrets only from the Secret', () => {
      expect([...env.keys()].filter((name) => !KNOWN.has(name))).toEqual([]);
      for (const required of requiredOf(app)) {
        expect({ required, provided: values[required] !== undefined }).toEqual({
          required,
          provided: true,
        });
      }
      for (const [name, source] of env) {
        const secretLooking =
          SECRET_VARIABLES.includes(name) || /TOKEN|PASSWORD|SECRET|_KEY$/.test(name);
        expect({ name, from: secretLooking ? source.from : 'not secret' }).toEqual({
          name,
          from: secretLooking ? 'secret' : 'not secret',
        });
      }
      expect(values['SERVICE_NAME']).toBe(app);
    });

    it('runs the image built from its Dockerfile', () => {
      const title = dockerfileImageTitle(`apps/${app}/Dockerfile`);
      expect(title).toBe(`raise-sync/${app}`);
      expect(container.image).toMatch(
        which === 'base' ? new RegExp(`^${title}$`) : new RegExp(`/${title}:[\\w.-]+$`),
      );
    });

    it('is selected by its own Deployment selector, Service and PodDisruptionBudget only', () => {
      const labels = deployment.spec.template.metadata.labels ?? {};
      expect(selects(deployment.spec.selector, labels)).toBe(true);
      for (const kind of ['Service', 'PodDisruptionBudget']) {
        const selecting = ofKind(objects, kind).filter((o) => {
          const { selector } = o['spec'] as { selector: Record<string, string> & LabelSelector };
          // A Service selects with plain labels, a PodDisruptionBudget with a label selector.
          return selects(kind === 'Service' ? { matchLabels: selector } : selector, labels);
        });
        expect(selecting.map((o) => o.metadata.name)).toEqual([`raise-sync-${app}`]);
      }
    });
  });

  it('configures every service so that the real config validation passes (placeholders aside)', () => {
    for (const app of APPS) {
      const values = envValues(effectiveEnv(containerOf(deploymentOf(objects, app)), objects));
      // The base's example secrets are invalid on purpose: a service refuses to start on them.
      expect({ app, invalid: configProblems(app, values) }).toEqual({
        app,
        invalid: which === 'production' ? [] : ['ADMIN_TOKEN', 'SECRETS_KEY'],
      });
    }
  });

  it('keeps secrets out of the ConfigMap', () => {
    const [config] = ofKind(objects, 'ConfigMap');
    const keys = Object.keys(config?.['data'] ?? {});
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((k) => SECRET_VARIABLES.includes(k) || !KNOWN.has(k))).toEqual([]);
  });

  it('has the ServiceMonitor scrape /metrics on a port every raise-sync Service names', () => {
    const [monitor] = ofKind<
      K8sObject & {
        spec: {
          selector: { matchLabels: Record<string, string> };
          endpoints: Array<{ port: string; path: string }>;
        };
      }
    >(objects, 'ServiceMonitor');
    const services = ofKind<K8sObject & { spec: { ports: Array<{ name: string }> } }>(
      objects,
      'Service',
    );
    const selected = services.filter((s) =>
      selects(monitor?.spec.selector, s.metadata.labels ?? {}),
    );
    expect(selected.map((s) => s.metadata.name).sort()).toEqual(
      APPS.map((app) => `raise-sync-${app}`).sort(),
    );
    for (const endpoint of monitor?.spec.endpoints ?? []) {
      expect(endpoint.path).toBe('/metrics');
      for (const service of selected) {
        expect(service.spec.ports.map((p) => p.name)).toContain(endpoint.port);
      }
    }
    expect(monitor?.spec.endpoints.length).toBeGreaterThan(0);
  });

  it('runs the migrations with the migrate image, the CLI it builds and only DATABASE_URL from the Secret', () => {
    const job = named(ofKind<Workload>(objects, 'Job'), 'raise-sync-migrate');
    const container = containerOf(job);
    const title = dockerfileImageTitle('libs/shared/Dockerfile');
    expect(title).toBe('raise-sync/migrate');
    expect(container.image).toMatch(
      which === 'base' ? new RegExp(`^${title}$`) : new RegExp(`/${title}:[\\w.-]+$`),
    );
    const script = [...(container.command ?? []), ...(container.args ?? [])].find((a) =>
      a.endsWith('.js'),
    );
    expect(script).toBe('dist/libs/shared/libs/shared/src/state/migrate.cli.js');
    expect(existsSync(join(REPO_ROOT, 'libs/shared/src/state/migrate.cli.ts'))).toBe(true);
    expect(container.args).toEqual(['up']);
    const env = effectiveEnv(container, objects);
    expect([...env.entries()].map(([name, s]) => [name, s.from])).toEqual([
      ['DATABASE_URL', 'secret'],
    ]);
    expect(job.spec.template.spec.securityContext?.runAsNonRoot).toBe(true);
    expect(job.spec.template.spec.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
    expect(container.securityContext?.capabilities?.drop).toEqual(['ALL']);
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(quantity(container.resources?.requests?.['memory'])).toBeLessThanOrEqual(
      quantity(container.resources?.limits?.['memory']),
    );
  });

  it('selects, with raise-sync/apply=before-rollout, the migrate Job and everything it needs', () => {
    const first = objects.filter(
      (o) => o.metadata.labels?.['raise-sync/apply'] === 'before-rollout',
    );
    const job = named(ofKind<Workload>(objects, 'Job'), 'raise-sync-migrate');
    expect(first).toContain(job);
    const container = containerOf(job);
    const refs = [
      ...(container.env ?? []).flatMap((e) => {
        const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
        return ref ? [ref.name] : [];
      }),
      ...(container.envFrom ?? []).flatMap((e) => [
        ...(e.configMapRef ? [e.configMapRef.name] : []),
        ...(e.secretRef ? [e.secretRef.name] : []),
      ]),
    ];
    expect(refs.length).toBeGreaterThan(0);
    for (const name of refs) {
      expect(first.map((o) => o.metadata.name)).toContain(name);
    }
    // Only the Job, the config, the secret (and the namespace): no service rolls in the first step.
    expect(first.map((o) => o.kind).sort()).toEqual(
      [...(which === 'production' ? ['Namespace'] : []), 'ConfigMap', 'Job', 'Secret'].sort(),
    );
  });

  it('keeps ingest receiving webhooks through a restart: 2+ replicas, surge-only rollouts, a PDB', () => {
    // One ingest pod restarting must never leave Raise without a receiver long enough to give up
    // on deliveries (issue 12: deletes lost that way only come back through the reconciler).
    const ingest = deploymentOf(objects, 'ingest');
    expect(ingest.spec.replicas).toBeGreaterThanOrEqual(2);
    const strategy = (ingest.spec as { strategy?: Record<string, unknown> }).strategy as {
      type?: string;
      rollingUpdate?: { maxUnavailable?: number | string };
    };
    expect(strategy.type).toBe('RollingUpdate');
    expect(strategy.rollingUpdate?.maxUnavailable).toBe(0);
    const pdb = named(ofKind<K8sObject>(objects, 'PodDisruptionBudget'), 'raise-sync-ingest') as {
      spec?: { maxUnavailable?: number; minAvailable?: number };
    };
    expect(pdb.spec?.maxUnavailable === 1 || (pdb.spec?.minAvailable ?? 0) >= 1).toBe(true);
  });

  it('never runs more submitters than the source topics have partitions', () => {
    const partitions = Number(configValue(objects, 'submitter', 'KAFKA_SOURCE_PARTITIONS'));
    expect(deploymentOf(objects, 'submitter').spec.replicas).toBeLessThanOrEqual(partitions);
  });
});

describe('production overlay', () => {
  const objects = renders.production;

  it('puts every namespaced object into its namespace', () => {
    const namespace = ofKind(objects, 'Namespace')[0]?.metadata.name;
    expect(namespace).toBe('raise-sync');
    for (const object of objects.filter((o) => o.kind !== 'Namespace')) {
      expect({
        object: `${object.kind}/${object.metadata.name}`,
        ns: object.metadata.namespace,
      }).toEqual({
        object: `${object.kind}/${object.metadata.name}`,
        ns: namespace,
      });
    }
  });

  it('replaces the example Secret with the operator-supplied one, same keys as the example file', () => {
    const exampleKeys = readFileSync(join(PRODUCTION, 'secrets.env.example'), 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => l.split('=')[0]);
    const [secret] = ofKind(objects, 'Secret');
    expect(Object.keys(secret?.['data'] ?? {}).sort()).toEqual([...exampleKeys].sort());
    const [baseSecret] = ofKind(renders.base, 'Secret');
    expect(secret?.metadata.name).not.toBe(baseSecret?.metadata.name);
    expect(readFileSync(join(PRODUCTION, '.gitignore'), 'utf8').split('\n')).toContain(
      'secrets.env',
    );
  });

  it('exposes only the webhook path of ingest publicly', () => {
    const ingresses = ofKind<
      K8sObject & {
        spec: {
          rules: Array<{
            http: {
              paths: Array<{
                path: string;
                backend: { service: { name: string; port: { name: string } } };
              }>;
            };
          }>;
        };
      }
    >(objects, 'Ingress');
    const paths = ingresses.flatMap((i) => i.spec.rules.flatMap((r) => r.http.paths));
    expect(paths.map((p) => [p.path, p.backend.service.name, p.backend.service.port.name])).toEqual(
      [['/webhooks', 'raise-sync-ingest', 'http']],
    );
  });

  it('never gives an app less memory than the measured base sizing', () => {
    for (const app of APPS) {
      const memory = (objects: K8sObject[]) =>
        quantity(containerOf(deploymentOf(objects, app)).resources?.limits?.['memory']);
      expect(memory(objects)).toBeGreaterThanOrEqual(memory(renders.base));
    }
  });
});

describe('submitter autoscaling example (deploy/k8s/examples/submitter-hpa.yaml)', () => {
  const [hpa] = parseAllDocuments(readFileSync(HPA_EXAMPLE, 'utf8')).map(
    (d) => d.toJS() as K8sObject,
  );
  const spec = (hpa?.['spec'] ?? {}) as {
    scaleTargetRef: { kind: string; name: string };
    minReplicas: number;
    maxReplicas: number;
    metrics: Array<{
      type: string;
      external?: { metric: { name: string; selector: { matchLabels: Record<string, string> } } };
    }>;
  };

  it('validates, targets the submitter Deployment and stays within the partitions', () => {
    expect(() => validate(hpa as K8sObject)).not.toThrow();
    expect(spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'raise-sync-submitter' });
    const partitions = Number(configValue(renders.base, 'submitter', 'KAFKA_SOURCE_PARTITIONS'));
    expect(spec.maxReplicas).toBeLessThanOrEqual(partitions);
    expect(spec.minReplicas).toBeLessThanOrEqual(spec.maxReplicas);
  });

  it("scales on the submitter group's lag metric the submitter exports", () => {
    const external = spec.metrics.map((m) => m.external?.metric);
    expect(external.map((m) => m?.name)).toEqual(['raise_sync_consumer_lag_messages']);
    expect(METRIC_NAMES).toContain('raise_sync_consumer_lag_messages');
    const prefix = configValue(renders.base, 'submitter', 'KAFKA_TOPIC_PREFIX');
    expect(external[0]?.selector.matchLabels).toEqual({ group: `${prefix}.submitter` });
  });
});

describe('submitter KEDA example (deploy/k8s/examples/submitter-keda.yaml)', () => {
  const [scaled] = parseAllDocuments(readFileSync(KEDA_EXAMPLE, 'utf8')).map(
    (d) => d.toJS() as K8sObject,
  );
  const spec = (scaled?.['spec'] ?? {}) as {
    scaleTargetRef: { kind: string; name: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    triggers: Array<{ type: string; metadata: Record<string, string> }>;
  };

  it('validates against the KEDA schema, targets the submitter and stays within the partitions', () => {
    expect(() => validate(scaled as K8sObject)).not.toThrow();
    expect(spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'raise-sync-submitter' });
    const partitions = Number(configValue(renders.base, 'submitter', 'KAFKA_SOURCE_PARTITIONS'));
    expect(spec.maxReplicaCount).toBeLessThanOrEqual(partitions);
    expect(spec.minReplicaCount).toBeGreaterThanOrEqual(2);
    expect(spec.minReplicaCount).toBeLessThanOrEqual(spec.maxReplicaCount);
  });

  it("reads the lag of both of the submitter's groups from the brokers the services use", () => {
    const prefix = configValue(renders.base, 'submitter', 'KAFKA_TOPIC_PREFIX');
    const brokers = configValue(renders.base, 'submitter', 'KAFKA_BROKERS');
    expect(spec.triggers.map((t) => t.type)).toEqual(['kafka', 'kafka']);
    expect(spec.triggers.map((t) => t.metadata['consumerGroup'])).toEqual([
      liveGroupId(prefix),
      bulkGroupId(prefix),
    ]);
    for (const { metadata } of spec.triggers) {
      expect(metadata['bootstrapServers']).toBe(brokers);
      expect(metadata['allowIdleConsumers']).toBe('false');
      expect(Number(metadata['lagThreshold'])).toBeGreaterThan(0);
    }
    // A backfill at its lag gate asks for one replica, not for the maximum.
    expect(Number(spec.triggers[1]?.metadata['lagThreshold'])).toBeGreaterThanOrEqual(
      Number(configValue(renders.base, 'submitter', 'BACKFILL_MAX_LAG')),
    );
  });
});

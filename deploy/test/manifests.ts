/** Helpers of k8s.spec.ts: reading rendered objects the way the kubelet would. */
import type { K8sObject } from './kustomize';

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{
    name: string;
    value?: string;
    valueFrom?: {
      secretKeyRef?: { name: string; key: string; optional?: boolean };
      configMapKeyRef?: { name: string; key: string; optional?: boolean };
    };
  }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  resources?: {
    requests?: Record<string, string | number>;
    limits?: Record<string, string | number>;
  };
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
  failureThreshold?: number;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  terminationGracePeriodSeconds?: number;
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    runAsGroup?: number;
    seccompProfile?: { type: string };
  };
}

export interface PodTemplate {
  metadata: { labels?: Record<string, string> };
  spec: PodSpec;
}

export type Workload = K8sObject & {
  spec: { replicas?: number; selector?: LabelSelector; template: PodTemplate };
};

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: unknown[];
}

export function ofKind<T extends K8sObject = K8sObject>(objects: K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

export function named<T extends K8sObject>(objects: T[], name: string): T {
  const found = objects.find((o) => o.metadata.name === name);
  if (!found) {
    throw new Error(`no object named ${name} among ${objects.map((o) => o.metadata.name).join()}`);
  }
  return found;
}

/** Does a label selector (matchLabels only) select these labels? */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string>) {
  if (!selector?.matchLabels || Object.keys(selector.matchLabels).length === 0) {
    return false; // an empty selector selects everything: not wanted anywhere here
  }
  if (selector.matchExpressions?.length) {
    throw new Error('matchExpressions are not used by these manifests');
  }
  return Object.entries(selector.matchLabels).every(([key, value]) => labels[key] === value);
}

/** A Kubernetes quantity in bytes (memory) or cores (cpu): 512Mi, 1Gi, 250m, 2, 1.5. */
export function quantity(value: string | number | undefined): number {
  if (value === undefined) {
    return Number.NaN;
  }
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(value));
  if (!match) {
    throw new Error(`not a quantity: ${value}`);
  }
  const factors: Record<string, number> = {
    m: 1e-3,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(match[1]) * (match[2] ? (factors[match[2]] ?? Number.NaN) : 1);
}

export interface EnvSource {
  /** The value the container sees (Secret values decoded); undefined when an optional key is absent. */
  value: string | undefined;
  from: 'literal' | 'configmap' | 'secret';
}

/**
 * Every variable a container gets and where it comes from, resolved against the rendered
 * ConfigMaps and Secrets. Throws when a reference points at nothing (unless marked optional).
 */
export function effectiveEnv(container: Container, objects: K8sObject[]): Map<string, EnvSource> {
  const env = new Map<string, EnvSource>();
  const dataOf = (kind: 'ConfigMap' | 'Secret', name: string): Record<string, string> => {
    const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!object) {
      throw new Error(`${container.name} refers to ${kind} ${name}, which is not rendered`);
    }
    const data = (object['data'] ?? {}) as Record<string, string>;
    return kind === 'Secret'
      ? Object.fromEntries(
          Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
        )
      : data;
  };
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      for (const [key, value] of Object.entries(dataOf('ConfigMap', source.configMapRef.name))) {
        env.set(key, { value, from: 'configmap' });
      }
    }
    if (source.secretRef) {
      for (const [key, value] of Object.entries(dataOf('Secret', source.secretRef.name))) {
        env.set(key, { value, from: 'secret' });
      }
    }
  }
  for (const variable of container.env ?? []) {
    const secret = variable.valueFrom?.secretKeyRef;
    const config = variable.valueFrom?.configMapKeyRef;
    const ref = secret ?? config;
    if (ref) {
      const data = dataOf(secret ? 'Secret' : 'ConfigMap', ref.name);
      if (data[ref.key] === undefined && !ref.optional) {
        throw new Error(`${container.name}: ${variable.name} refers to missing key ${ref.key}`);
      }
      env.set(variable.name, { value: data[ref.key], from: secret ? 'secret' : 'configmap' });
    } else {
      env.set(variable.name, { value: variable.value ?? '', from: 'literal' });
    }
  }
  return env;
}

/** Plain name=value pairs of an effective environment (absent optional values left out). */
export function envValues(env: Map<string, EnvSource>): Record<string, string> {
  return Object.fromEntries(
    [...env.entries()]
      .filter(([, source]) => source.value !== undefined)
      .map(([name, source]) => [name, source.value as string]),
  );
}

/**
 * A small kustomize renderer for the tests (no kustomize binary runs on the CI machines). It knows
 * only the features deploy/k8s uses, and throws on anything else so a new feature cannot slip in
 * unchecked: resources (files and directories), namespace, images, replicas, configMapGenerator
 * and secretGenerator (env files and labels; behaviors create, merge, replace; content-hash name
 * suffixes and the references to them), and strategic-merge patches matched by kind and name.
 * k8s.spec.ts compares its output with `kubectl kustomize` where kubectl is installed.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export interface RenderOptions {
  /** File contents by absolute path, used instead of the disk (files an operator creates). */
  files?: Record<string, string>;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Resource {
  object: K8sObject;
  /** Name in the kustomization files; a generated ConfigMap/Secret gets a hash suffix at the end. */
  originalName: string;
  generated: boolean;
}

interface Generator {
  name: string;
  behavior?: 'create' | 'merge' | 'replace';
  envs?: string[];
  type?: string;
  options?: { labels?: Record<string, string> };
}

const SUPPORTED_FIELDS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'images',
  'replicas',
  'configMapGenerator',
  'secretGenerator',
  'patches',
]);

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'StorageClass']);

/** Lists merged element by element (by this key) in a strategic-merge patch; others are replaced. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
};

/** Renders the kustomization in `dir` the way `kubectl kustomize dir` does (for what it supports). */
export function renderKustomization(dir: string, options: RenderOptions = {}): K8sObject[] {
  const resources = build(resolve(dir), options);
  return finish(resources);
}

function readText(path: string, options: RenderOptions): string {
  const override = options.files?.[path];
  if (override !== undefined) {
    return override;
  }
  if (!existsSync(path)) {
    throw new Error(`${path} does not exist`);
  }
  return readFileSync(path, 'utf8');
}

function parseYamlDocuments(text: string, source: string): JsonObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) {
        throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
      }
      return doc.toJS() as Json;
    })
    .filter((value): value is JsonObject => value !== null && typeof value === 'object')
    .map((value) => {
      if (Array.isArray(value)) {
        throw new Error(`${source}: a document must be an object`);
      }
      return value;
    });
}

function asObject(value: Json): K8sObject {
  const object = value as unknown as K8sObject;
  if (typeof object.kind !== 'string' || typeof object.metadata?.name !== 'string') {
    throw new Error(`a resource without kind or metadata.name: ${JSON.stringify(value)}`);
  }
  return object;
}

function build(dir: string, options: RenderOptions): Resource[] {
  const file = join(dir, 'kustomization.yaml');
  const [kustomization] = parseYamlDocuments(readText(file, options), file);
  if (!kustomization) {
    throw new Error(`${file} is empty`);
  }
  const unsupported = Object.keys(kustomization).filter((key) => !SUPPORTED_FIELDS.has(key));
  if (unsupported.length > 0) {
    throw new Error(`${file}: fields the test renderer does not implement: ${unsupported.join()}`);
  }

  let resources: Resource[] = [];
  for (const entry of (kustomization['resources'] ?? []) as string[]) {
    const path = resolve(dir, entry);
    if (existsSync(path) && statSync(path).isDirectory()) {
      resources.push(...build(path, options));
    } else {
      for (const doc of parseYamlDocuments(readText(path, options), path)) {
        const object = asObject(doc);
        resources.push({ object, originalName: object.metadata.name, generated: false });
      }
    }
  }

  const generators: Array<[string, Generator]> = [
    ...((kustomization['configMapGenerator'] ?? []) as unknown as Generator[]).map(
      (g): [string, Generator] => ['ConfigMap', g],
    ),
    ...((kustomization['secretGenerator'] ?? []) as unknown as Generator[]).map(
      (g): [string, Generator] => ['Secret', g],
    ),
  ];
  for (const [kind, generator] of generators) {
    resources = generate(kind, generator, dir, resources, options);
  }

  for (const patch of (kustomization['patches'] ?? []) as unknown as JsonObject[]) {
    const unknownKeys = Object.keys(patch).filter((key) => key !== 'path');
    if (unknownKeys.length > 0) {
      throw new Error(
        `${file}: patch fields the test renderer does not implement: ${unknownKeys.join(', ')}`,
      );
    }
    const path = resolve(dir, patch['path'] as string);
    for (const doc of parseYamlDocuments(readText(path, options), path)) {
      const target = asObject(doc);
      const match = resources.find(
        (r) => r.object.kind === target.kind && r.originalName === target.metadata.name,
      );
      if (!match) {
        throw new Error(`${path}: no ${target.kind} named ${target.metadata.name} to patch`);
      }
      const { metadata: patchMetadata, ...rest } = doc as JsonObject & { metadata: JsonObject };
      const { name: _name, ...metadataRest } = patchMetadata;
      match.object = strategicMerge(match.object as unknown as JsonObject, {
        ...rest,
        metadata: metadataRest,
      }) as unknown as K8sObject;
    }
  }

  for (const image of (kustomization['images'] ?? []) as unknown as JsonObject[]) {
    setImages(resources, image);
  }

  for (const replica of (kustomization['replicas'] ?? []) as unknown as JsonObject[]) {
    const targets = resources.filter(
      (r) =>
        ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(r.object.kind) &&
        r.originalName === replica['name'],
    );
    if (targets.length === 0) {
      throw new Error(
        `${file}: replicas for ${JSON.stringify(replica['name'])}, which does not exist`,
      );
    }
    for (const target of targets) {
      (target.object['spec'] as JsonObject)['replicas'] = replica['count'] as number;
    }
  }

  const namespace = kustomization['namespace'];
  if (typeof namespace === 'string') {
    for (const resource of resources) {
      if (!CLUSTER_SCOPED.has(resource.object.kind)) {
        resource.object.metadata.namespace = namespace;
      }
    }
  }
  return resources;
}

/** Reads a kustomize env file: KEY=VALUE lines, blank lines and # comments skipped, values verbatim. */
export function parseEnvFile(text: string, source: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^\s+/, '').replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const at = line.indexOf('=');
    if (at <= 0) {
      // kustomize would read a bare KEY from its own environment: not used here.
      throw new Error(`${source}: "${line}" is not KEY=VALUE`);
    }
    values[line.slice(0, at)] = line.slice(at + 1);
  }
  return values;
}

function generate(
  kind: string,
  generator: Generator,
  dir: string,
  resources: Resource[],
  options: RenderOptions,
): Resource[] {
  const unknownKeys = [
    ...Object.keys(generator).filter(
      (key) => !['name', 'behavior', 'envs', 'type', 'options'].includes(key),
    ),
    ...Object.keys(generator.options ?? {}).filter((key) => key !== 'labels'),
  ];
  if (unknownKeys.length > 0) {
    throw new Error(
      `${kind} generator fields the test renderer does not implement: ${unknownKeys.join(', ')}`,
    );
  }
  const values: Record<string, string> = {};
  for (const env of generator.envs ?? []) {
    const path = resolve(dir, env);
    Object.assign(values, parseEnvFile(readText(path, options), path));
  }
  const data =
    kind === 'Secret'
      ? Object.fromEntries(Object.entries(values).map(([k, v]) => [k, kustomizeBase64(v)]))
      : values;
  const behavior = generator.behavior ?? 'create';
  const existing = resources.find(
    (r) => r.object.kind === kind && r.originalName === generator.name && r.generated,
  );
  if (behavior === 'create') {
    if (existing) {
      throw new Error(`${kind} ${generator.name} is generated twice (use behavior merge/replace)`);
    }
    const labels = generator.options?.labels;
    const object: K8sObject = {
      apiVersion: 'v1',
      kind,
      metadata: { name: generator.name, ...(labels ? { labels: { ...labels } } : {}) },
      data: sortKeys(data),
      ...(kind === 'Secret' ? { type: generator.type ?? 'Opaque' } : {}),
    };
    return [...resources, { object, originalName: generator.name, generated: true }];
  }
  if (!existing) {
    throw new Error(`${kind} ${generator.name}: behavior ${behavior} but no base generates it`);
  }
  const before = (existing.object['data'] ?? {}) as Record<string, string>;
  existing.object['data'] = sortKeys(behavior === 'merge' ? { ...before, ...data } : data);
  // Labels stay (kustomize keeps the base generator's labels with either behavior).
  if (generator.options?.labels) {
    existing.object.metadata.labels = {
      ...existing.object.metadata.labels,
      ...generator.options.labels,
    };
  }
  return resources;
}

/**
 * Base64 the way kustomize's secretGenerator writes it: 70-character lines, each ending in a line
 * break once the text is 70 characters or longer (Kubernetes and Node decoders skip the breaks).
 * The hash suffix is computed over these exact strings.
 */
export function kustomizeBase64(value: string): string {
  const encoded = Buffer.from(value).toString('base64');
  if (encoded.length < 70) {
    return encoded;
  }
  let out = '';
  for (let i = 0; i < encoded.length; i += 70) {
    out += `${encoded.slice(i, i + 70)}\n`;
  }
  return out;
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function isPlainObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Strategic-merge patch for the list keys in MERGE_KEYS; directives ($patch, ...) are refused. */
export function strategicMerge(target: JsonObject, patch: JsonObject): JsonObject {
  const result: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) {
      throw new Error(`strategic-merge directive ${key} is not implemented by the test renderer`);
    }
    const current = result[key];
    if (value === null) {
      delete result[key];
    } else if (isPlainObject(value) && isPlainObject(current)) {
      result[key] = strategicMerge(current, value);
    } else if (Array.isArray(value) && Array.isArray(current) && MERGE_KEYS[key]) {
      // Like kustomize: the patch's items first, in its order (merged into the matching item
      // where there is one), then the items the patch does not name, in their order.
      const mergeKey = MERGE_KEYS[key];
      const keyOf = (item: Json): Json | undefined =>
        isPlainObject(item) ? item[mergeKey] : undefined;
      const patched = value.map((item) => {
        if (!isPlainObject(item) || item[mergeKey] === undefined) {
          throw new Error(`patch item of ${key} without ${mergeKey}`);
        }
        const existing = current.find((c) => keyOf(c) === item[mergeKey]);
        return isPlainObject(existing) ? strategicMerge(existing, item) : item;
      });
      const named = new Set(value.map(keyOf));
      result[key] = [...patched, ...current.filter((c) => !named.has(keyOf(c)))];
    } else {
      result[key] = value;
    }
  }
  return result;
}

function podSpecOf(object: K8sObject): JsonObject | undefined {
  const spec = object['spec'] as JsonObject | undefined;
  if (object.kind === 'Pod') {
    return spec;
  }
  if (object.kind === 'CronJob') {
    const jobTemplate = spec?.['jobTemplate'] as JsonObject | undefined;
    return ((jobTemplate?.['spec'] as JsonObject)?.['template'] as JsonObject)?.['spec'] as
      JsonObject | undefined;
  }
  return (spec?.['template'] as JsonObject | undefined)?.['spec'] as JsonObject | undefined;
}

/** Containers and init containers of a workload (Deployment, Job, ...), empty for other kinds. */
export function containersOf(object: K8sObject): JsonObject[] {
  const pod = podSpecOf(object);
  return [
    ...((pod?.['initContainers'] ?? []) as JsonObject[]),
    ...((pod?.['containers'] ?? []) as JsonObject[]),
  ];
}

function setImages(resources: Resource[], image: JsonObject): void {
  const unknownKeys = Object.keys(image).filter((k) => !['name', 'newName', 'newTag'].includes(k));
  if (unknownKeys.length > 0) {
    throw new Error(`image fields the test renderer does not implement: ${unknownKeys.join(', ')}`);
  }
  for (const resource of resources) {
    for (const container of containersOf(resource.object)) {
      const current = container['image'] as string;
      const match = /^(.*?)(?::([^:/@]+))?(@.+)?$/.exec(current);
      if (!match || match[1] !== image['name']) {
        continue;
      }
      const name = (image['newName'] as string | undefined) ?? match[1] ?? current;
      const tag = (image['newTag'] as string | undefined) ?? match[2];
      container['image'] = tag ? `${name}:${tag}` : name;
    }
  }
}

/** Go's encoding/json escapes these characters; the hash must see the same bytes. */
function goJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * kustomize's name suffix of a generated ConfigMap or Secret: sha256 over a JSON of kind, data
 * (and type for a Secret), first 10 hex digits with 0,1,3,a,e swapped for letters. kustomize looks
 * the name up as a single field called "metadata/name", finds nothing and hashes an empty name;
 * mirrored here so the suffixes are the ones kubectl produces.
 */
export function kustomizeHash(object: K8sObject): string {
  const data = (object['data'] ?? {}) as Record<string, string>;
  const fields: Record<string, unknown> =
    object.kind === 'Secret'
      ? { data: sortKeys(data), kind: 'Secret', name: '', type: object['type'] ?? '' }
      : { data: sortKeys(data), kind: 'ConfigMap', name: '' };
  const hex = createHash('sha256').update(goJson(fields)).digest('hex').slice(0, 10);
  const swap: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return [...hex].map((c) => swap[c] ?? c).join('');
}

function finish(resources: Resource[]): K8sObject[] {
  const renamed = new Map<string, string>(); // "ConfigMap/name" -> hashed name
  for (const resource of resources.filter((r) => r.generated)) {
    const name = `${resource.originalName}-${kustomizeHash(resource.object)}`;
    renamed.set(`${resource.object.kind}/${resource.originalName}`, name);
    resource.object.metadata.name = name;
  }
  const rename = (kind: string, holder: JsonObject | undefined, field = 'name'): void => {
    const current = holder?.[field];
    const next = typeof current === 'string' ? renamed.get(`${kind}/${current}`) : undefined;
    if (holder && next) {
      holder[field] = next;
    }
  };
  for (const { object } of resources) {
    for (const container of containersOf(object)) {
      for (const source of (container['envFrom'] ?? []) as JsonObject[]) {
        rename('ConfigMap', source['configMapRef'] as JsonObject | undefined);
        rename('Secret', source['secretRef'] as JsonObject | undefined);
      }
      for (const variable of (container['env'] ?? []) as JsonObject[]) {
        const from = variable['valueFrom'] as JsonObject | undefined;
        rename('ConfigMap', from?.['configMapKeyRef'] as JsonObject | undefined);
        rename('Secret', from?.['secretKeyRef'] as JsonObject | undefined);
      }
    }
    for (const volume of (podSpecOf(object)?.['volumes'] ?? []) as JsonObject[]) {
      rename('ConfigMap', volume['configMap'] as JsonObject | undefined);
      rename('Secret', volume['secret'] as JsonObject | undefined, 'secretName');
    }
  }
  return resources.map((r) => r.object);
}

/** The directory of this repository's deploy/k8s. */
export const K8S_DIR = resolve(dirname(__filename), '..', 'k8s');

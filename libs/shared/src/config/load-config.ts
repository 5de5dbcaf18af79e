import type { AnyConfigSection, Variable } from './declare';

/** Thrown for invalid configuration; the message lists every bad variable by name, never a value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration, fix these environment variables:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

type BuiltBy<S> = S extends { build: (values: never) => infer R } ? R : never;
type Intersect<U> = (U extends unknown ? (k: U) => void : never) extends (k: infer I) => void
  ? I
  : never;

/** The config object the given sections build together. */
export type ConfigOf<S extends readonly AnyConfigSection[]> = Intersect<BuiltBy<S[number]>>;

/** Every variable of the sections by name; a name declared twice is a programming error. */
export function variablesOf(
  sections: readonly AnyConfigSection[],
): ReadonlyMap<string, Variable<unknown> & { owner: string }> {
  const all = new Map<string, Variable<unknown> & { owner: string }>();
  for (const section of sections) {
    for (const [name, declared] of Object.entries(section.variables)) {
      const other = all.get(name);
      if (other) {
        throw new Error(`${name} is declared by both ${other.owner} and ${section.owner}`);
      }
      all.set(name, { ...declared, owner: section.owner });
    }
  }
  return all;
}

/**
 * Parses and validates the environment once, at startup, for the given sections: every problem
 * goes into one ConfigError. Variables of other sections are ignored.
 */
export function loadConfig<const S extends readonly AnyConfigSection[]>(
  env: Readonly<Record<string, unknown>>,
  sections: S,
): ConfigOf<S> {
  variablesOf(sections);
  const problems: string[] = [];
  const valuesBySection = sections.map((section) => {
    const values: Record<string, unknown> = {};
    for (const [name, declared] of Object.entries(section.variables)) {
      const raw = env[name];
      if (raw === undefined || raw === '') {
        if (declared.required) {
          problems.push(`${name} is required (${declared.expected})`);
        }
        values[name] = declared.fallback;
        continue;
      }
      const parsed = typeof raw === 'string' ? declared.parse(raw) : undefined;
      if (parsed === undefined) {
        problems.push(`${name} must be ${declared.expected}`);
      }
      values[name] = parsed;
    }
    return values;
  });
  if (problems.length === 0) {
    sections.forEach((section, i) =>
      problems.push(...(section.check?.(valuesBySection[i] as never) ?? [])),
    );
  }
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  const config: Record<string, unknown> = {};
  sections.forEach((section, i) => {
    const part = section.build(valuesBySection[i] as never) as Record<string, unknown>;
    for (const key of Object.keys(part)) {
      if (key in config) {
        throw new Error(`config key ${key} is built by two sections (${section.owner})`);
      }
    }
    Object.assign(config, part);
  });
  return config as ConfigOf<S>;
}

/**
 * What the operator CLIs (dead letters, backfills, reconciliations) share: reading `--name value`
 * options and flags, their configuration (declared like a service's), and calling a service's
 * admin API with the bearer token. Plain Node, no Nest, no database: a CLI only needs the service
 * URL and ADMIN_TOKEN.
 */
import {
  ConfigError,
  configSection,
  loadConfig,
  SHARED_CONFIG,
  type AnyConfigSection,
  type SectionConfig,
} from '../config';

/** `--name value`; undefined when absent or followed by another option. */
export function cliOption(
  name: string,
  argv: readonly string[] = process.argv,
): string | undefined {
  const i = argv.indexOf(`--${name}`);
  const value = i > 0 ? argv[i + 1] : undefined;
  return value !== undefined && !value.startsWith('--') ? value : undefined;
}

export const cliFlag = (name: string, argv: readonly string[] = process.argv): boolean =>
  argv.includes(`--${name}`);

export type AdminApiCall = <T = unknown>(
  method: string,
  path: string,
  body?: unknown,
) => Promise<T>;

/**
 * ADMIN_TOKEN as the CLIs read it: the services' own declaration (libs/shared), required here,
 * since a CLI without it can only be refused.
 */
const CLI_TOKEN = configSection({
  owner: 'libs/shared',
  variables: { ADMIN_TOKEN: { ...SHARED_CONFIG.variables.ADMIN_TOKEN, required: true } },
  build: (v) => ({ token: v.ADMIN_TOKEN ?? '' }),
});

/** A CLI's section builds at least the URL of the service it calls. */
type CliSection = AnyConfigSection & { build: (values: never) => { url: string } };

/** What a CLI has once configured: its section's values and the admin token. */
export type CliConfig<S extends CliSection> = SectionConfig<S> & { token: string };

/**
 * A CLI's configuration from `env`: its own section and ADMIN_TOKEN. Throws one ConfigError
 * naming every bad or missing variable (never a value).
 */
export function loadCliConfig<S extends CliSection>(
  env: Readonly<Record<string, unknown>>,
  section: S,
): CliConfig<S> {
  return loadConfig(env, [section, CLI_TOKEN]) as CliConfig<S>;
}

/** loadCliConfig for a CLI's entry point: a ConfigError is printed and the CLI exits 2 (usage). */
export function cliConfigOrExit<S extends CliSection>(section: S, usage: string): CliConfig<S> {
  try {
    return loadCliConfig(process.env, section);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n${usage}\n`);
      process.exit(2);
    }
    throw error;
  }
}

/**
 * A caller of one service's admin API at `url` with the bearer `token`. A non-2xx answer throws
 * with the method, path, status and body.
 */
export function adminApi({ url, token }: { url: string; token: string }): AdminApiCall {
  const base = url.replace(/\/+$/, '');
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
    }
    return (text ? JSON.parse(text) : null) as T;
  };
}

/** What a CLI's command answers when its arguments do not name a command it knows. */
export const USAGE_ERROR = Symbol('usage');

/**
 * Runs a CLI's command: its result is printed as JSON; USAGE_ERROR prints the usage and exits 2;
 * an error prints its message and exits 1.
 */
export function runCli(usage: string, command: () => Promise<unknown>): void {
  command()
    .then((result) => {
      if (result === USAGE_ERROR) {
        process.stderr.write(`${usage}\n`);
        process.exit(2);
      }
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    })
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    });
}

/**
 * What the operator CLIs (dead letters, backfills, reconciliations) share: reading `--name value`
 * options and flags, and calling a service's admin API with the bearer token. Plain Node, no Nest,
 * no database: a CLI only needs the service URL and ADMIN_TOKEN.
 */

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
 * A caller of one service's admin API: base URL from `urlVariable` (else `defaultUrl`), token from
 * ADMIN_TOKEN. A non-2xx answer throws with the method, path, status and body.
 */
export function adminApi(urlVariable: string, defaultUrl: string): AdminApiCall {
  const base = (process.env[urlVariable] ?? defaultUrl).replace(/\/+$/, '');
  const token = process.env['ADMIN_TOKEN'] ?? '';
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

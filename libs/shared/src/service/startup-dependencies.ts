import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'pg';
import { redactUrl, redactUrlsIn, urlSecrets } from '../observability/redact-url';
import { probeKafka } from '../kafka/connection';

/** The variables whose dependencies a service needs before it can start. */
export type DependencyVariable = 'DATABASE_URL' | 'KAFKA_BROKERS' | 'SCHEMA_REGISTRY_URL';

/**
 * A dependency still unreachable when the startup window (STARTUP_DEPENDENCY_TIMEOUT_MS) ended.
 * The message names the variable and the address (password and query values redacted), never
 * a stack; bootstrapService turns it into one JSON line and exit code 1.
 */
export class DependencyUnreachableError extends Error {
  constructor(
    readonly variable: DependencyVariable,
    readonly address: string,
    readonly waitedMs: number,
    readonly reason: string,
  ) {
    super(`${variable}: ${address} is unreachable (${reason}); gave up after ${waitedMs} ms`);
    this.name = 'DependencyUnreachableError';
  }
}

/** One dependency: where it is (for messages, already redacted) and how to try it once. */
export interface DependencyCheck {
  variable: DependencyVariable;
  address: string;
  /** Resolves when the dependency answers; should give up by itself after `timeoutMs`. */
  attempt(timeoutMs: number): Promise<void>;
  /** Strings never to show in a failure reason (the DATABASE_URL password). */
  secrets?: readonly string[];
}

export interface WaitingInfo {
  variable: DependencyVariable;
  address: string;
  reason: string;
  timeoutMs: number;
}

export interface WaitForDependencyOptions {
  /** The startup window: retry until this much time has passed, then throw. */
  timeoutMs: number;
  /** Called once, at the first failed attempt, so the service can log that it waits. */
  onWaiting?: (info: WaitingInfo) => void;
  retryIntervalMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Bounds of one attempt: enough for a TCP + TLS handshake, short enough to retry. */
const MIN_ATTEMPT_MS = 2000;
const MAX_ATTEMPT_MS = 5000;

/**
 * Tries `check` until it succeeds or the window ends; throws DependencyUnreachableError with
 * the last failure. Every attempt is bounded, so a black-holed address cannot stretch the
 * window by more than one attempt (at most MAX_ATTEMPT_MS).
 */
export async function waitForDependency(
  check: DependencyCheck,
  options: WaitForDependencyOptions,
): Promise<void> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const intervalMs = options.retryIntervalMs ?? 500;
  const started = now();
  const deadline = started + options.timeoutMs;
  let warned = false;
  for (;;) {
    const attemptMs = Math.min(MAX_ATTEMPT_MS, Math.max(MIN_ATTEMPT_MS, deadline - now()));
    try {
      await bounded(attemptMs, check.attempt(attemptMs));
      return;
    } catch (error) {
      const reason = reasonOf(error, check.secrets ?? []);
      if (now() + intervalMs >= deadline) {
        throw new DependencyUnreachableError(
          check.variable,
          check.address,
          now() - started,
          reason,
        );
      }
      if (!warned) {
        warned = true;
        options.onWaiting?.({
          variable: check.variable,
          address: check.address,
          reason,
          timeoutMs: options.timeoutMs,
        });
      }
      await sleep(intervalMs);
    }
  }
}

/** The one "waiting" line of a starting service (a warning: it may yet succeed). */
export function logWaiting(log: { warn(obj: object, msg: string): void }, info: WaitingInfo): void {
  log.warn(
    {
      component: 'startup',
      variable: info.variable,
      address: info.address,
      err: info.reason,
      timeoutMs: info.timeoutMs,
    },
    `waiting for ${info.variable} (up to ${info.timeoutMs} ms)`,
  );
}

/** PostgreSQL answers `SELECT 1` on DATABASE_URL (a separate short-lived connection). */
export function postgresCheck(databaseUrl: string): DependencyCheck {
  return {
    variable: 'DATABASE_URL',
    address: redactUrl(databaseUrl),
    secrets: urlSecrets(databaseUrl),
    async attempt(timeoutMs) {
      const client = new Client({
        connectionString: databaseUrl,
        connectionTimeoutMillis: timeoutMs,
        query_timeout: timeoutMs,
      });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}

/** A Kafka broker of KAFKA_BROKERS answers a metadata request (no retries, no client logs). */
export function kafkaCheck(brokers: readonly string[], clientId: string): DependencyCheck {
  return {
    variable: 'KAFKA_BROKERS',
    address: brokers.join(','),
    attempt: (timeoutMs) => probeKafka(brokers, clientId, timeoutMs),
  };
}

/** The schema registry on SCHEMA_REGISTRY_URL lists its subjects. */
export function registryCheck(registryUrl: string): DependencyCheck {
  return {
    variable: 'SCHEMA_REGISTRY_URL',
    address: redactUrl(registryUrl),
    secrets: urlSecrets(registryUrl),
    async attempt(timeoutMs) {
      // fetch refuses URLs with credentials: send them as basic auth instead.
      const url = new URL(`${registryUrl}/subjects`);
      const headers: Record<string, string> = {};
      if (url.username || url.password) {
        const user = decodeURIComponent(url.username);
        const password = decodeURIComponent(url.password);
        headers['authorization'] = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
        url.username = '';
        url.password = '';
      }
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
      await response.body?.cancel();
      if (!response.ok) {
        throw new Error(`answered HTTP ${response.status}`);
      }
    },
  };
}

/**
 * The one JSON line a service writes when it cannot start (before or instead of its logger):
 * the message, and for an unreachable dependency the variable and its redacted address.
 */
export function startFailureLine(service: string, error: unknown): string {
  const line: Record<string, unknown> = {
    level: 'fatal',
    service,
    time: new Date().toISOString(),
    msg: 'service failed to start',
    error: redactUrlsIn(error instanceof Error ? error.message : String(error)),
  };
  if (error instanceof DependencyUnreachableError) {
    line['variable'] = error.variable;
    line['address'] = error.address;
    line['waitedMs'] = error.waitedMs;
  }
  return JSON.stringify(line);
}

async function bounded<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** One line: the error's message and its causes', URLs redacted, secrets removed. */
function reasonOf(error: unknown, secrets: readonly string[]): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth += 1) {
    const message = messageOf(current);
    if (message !== '' && !parts.includes(message)) {
      parts.push(message);
    }
    current = (current as { cause?: unknown }).cause;
  }
  let reason = redactUrlsIn(parts.join(': ') || 'unknown error').replace(/\s+/g, ' ');
  for (const secret of secrets) {
    reason = reason.split(secret).join('[redacted]');
  }
  return reason.slice(0, 500);
}

/** An error's message; for an AggregateError without one (IPv4 + IPv6 tried), its parts'. */
function messageOf(error: unknown): string {
  if (typeof error !== 'object' || error === null) {
    return String(error);
  }
  const { message, errors, code } = error as {
    message?: unknown;
    errors?: unknown;
    code?: unknown;
  };
  if (typeof message === 'string' && message !== '') {
    return message;
  }
  if (Array.isArray(errors) && errors.length > 0) {
    return [...new Set(errors.map(messageOf))].join(', ');
  }
  return typeof code === 'string' ? code : '';
}

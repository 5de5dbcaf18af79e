import cluster from 'node:cluster';
import type { Params } from 'nestjs-pino';
import { stdSerializers, type LoggerOptions } from 'pino';
import { redactUrl, redactUrlsIn } from './redact-url';

/** Paths pino blanks out in every log line: tokens, secrets, credentials, auth headers. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  '*.apiToken',
  'secret',
  '*.secret',
  '*.webhookSecret',
  'password',
  '*.password',
  'credentials',
  '*.credentials',
  'secretsKey',
  '*.secretsKey',
  'SECRETS_KEY',
  'req.headers.authorization',
  'req.headers["x-raise-signature"]',
  'headers.authorization',
];

/**
 * The `err` field of any log line, an error or a message string, with URLs in its message and
 * stack redacted (a fetch error quotes the URL it failed on, query and all).
 */
export function serializeLoggedError(value: unknown): unknown {
  if (typeof value === 'string') {
    return redactUrlsIn(value);
  }
  const serialized = stdSerializers.err(value as Error) as unknown;
  // Not error-like (returned as is): nothing of ours to rewrite.
  if (serialized === value || typeof serialized !== 'object' || serialized === null) {
    return serialized;
  }
  const fields = serialized as Record<string, unknown>;
  for (const [key, field] of Object.entries(fields)) {
    if (typeof field === 'string') {
      fields[key] = redactUrlsIn(field);
    }
  }
  // Node's ERR_INVALID_URL carries the rejected URL as `input`.
  if (typeof fields['input'] === 'string') {
    fields['input'] = redactUrl(fields['input']);
  }
  return fields;
}

/**
 * pino options shared by every service: JSON, service + version fields (and the worker's number
 * when the service runs several workers), redaction.
 */
export function loggerOptions(service: string, level: string, version: string): LoggerOptions {
  return {
    level,
    base: { service, version, ...(cluster.worker ? { worker: cluster.worker.id } : {}) },
    messageKey: 'msg',
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeLoggedError },
    formatters: { level: (label) => ({ level: label }) },
  };
}

/** The path of a request URL, without its query. */
const pathOf = (url: string | undefined): string => (url ?? '').split('?')[0] ?? '';

/**
 * nestjs-pino module parameters: request logs only for failures, never request bodies, and the
 * URL with its query values redacted (a token someone puts in a URL never reaches the log).
 */
export function nestLoggerParams(service: string, level: string, version: string): Params {
  return {
    pinoHttp: {
      ...loggerOptions(service, level, version),
      autoLogging: {
        ignore: (req) => pathOf(req.url).startsWith('/health') || pathOf(req.url) === '/metrics',
      },
      customLogLevel: (_req, res, error) =>
        error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'debug',
      serializers: {
        err: serializeLoggedError,
        req: (req: { method?: string; url?: string }) => ({
          method: req.method,
          url: redactUrl(req.url ?? ''),
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
    },
  };
}

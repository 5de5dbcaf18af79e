import type { Params } from 'nestjs-pino';
import type { LoggerOptions } from 'pino';

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

/** pino options shared by every service: JSON, service + version fields, redaction. */
export function loggerOptions(service: string, level: string, version: string): LoggerOptions {
  return {
    level,
    base: { service, version },
    messageKey: 'msg',
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  };
}

/** nestjs-pino module parameters: request logs only for failures, never request bodies. */
export function nestLoggerParams(service: string, level: string, version: string): Params {
  return {
    pinoHttp: {
      ...loggerOptions(service, level, version),
      autoLogging: {
        ignore: (req) => (req.url ?? '').startsWith('/health') || req.url === '/metrics',
      },
      customLogLevel: (_req, res, error) =>
        error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'debug',
      serializers: {
        req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
    },
  };
}

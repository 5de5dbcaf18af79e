import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import { Logger, PinoLogger } from 'nestjs-pino';
import type { SharedConfig } from '../config/shared.config';
import { PIPELINE_METRICS } from './tokens';
import type { PipelineMetrics } from '../observability/metrics';
import { ReadinessService } from './readiness.service';
import { startFailureLine } from './startup-dependencies';
import { routeProcessWarnings } from './process-warnings';

/**
 * Starts a service: builds the Nest app (config is validated here; a bad variable, or PostgreSQL,
 * Kafka or the registry still unreachable after STARTUP_DEPENDENCY_TIMEOUT_MS, ends the process
 * with exit code 1 and one JSON line naming the variable), listens on HTTP_PORT, and installs the
 * graceful shutdown: on SIGTERM/SIGINT report not-ready, run every module's shutdown hooks
 * (consumers stop fetching, finish in-flight messages and commit, then producers and the
 * database disconnect), log "shutdown complete" and exit 0; if that takes longer than
 * SHUTDOWN_TIMEOUT_MS, exit 1.
 */
export interface BootstrapOptions {
  /** false: no global body parser (ingest reads raw webhook bodies itself). Default true. */
  bodyParser?: boolean;
  /** Extra setup before listening (OpenAPI docs, middleware). */
  configure?: (app: INestApplication) => void | Promise<void>;
}

export async function bootstrapService(
  appModule: unknown,
  name: string,
  options: BootstrapOptions = {},
): Promise<void> {
  // Node's process warnings become JSON lines from the start (the dependency checks below may
  // already raise one), and go through the service's logger once it exists.
  const warnings = routeProcessWarnings(name);
  // The logger module may not exist yet (bad config), so write one JSON line ourselves; Nest's
  // buffered console lines (stack traces) are never flushed on failure (autoFlushLogs: false).
  function failStart(error: unknown): never {
    process.stderr.write(`${startFailureLine(name, error)}\n`);
    process.exit(1);
  }
  let app: INestApplication;
  try {
    app = await NestFactory.create(appModule as never, {
      bufferLogs: true,
      autoFlushLogs: false,
      abortOnError: false,
      bodyParser: options.bodyParser ?? true,
    });
  } catch (error) {
    failStart(error);
  }
  app.useLogger(app.get(Logger));
  app.flushLogs();
  const log = await app.resolve(PinoLogger);
  log.setContext('bootstrap');
  warnings.use((level, { msg, ...fields }) => log[level](fields, String(msg)));
  const config = app.get<ConfigService<SharedConfig, true>>(ConfigService);
  const { port, host } = config.get('http', { infer: true });
  const shutdownTimeoutMs = config.get('shutdownTimeoutMs', { infer: true });

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) {
      return;
    }
    stopping = true;
    log.info({ signal }, 'shutdown started');
    app.get(ReadinessService).markShuttingDown();
    app.get<PipelineMetrics>(PIPELINE_METRICS).shuttingDown.set(1);
    const timer = setTimeout(() => {
      log.error({ shutdownTimeoutMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, shutdownTimeoutMs);
    timer.unref();
    try {
      await app.close();
      log.info('shutdown complete');
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  await options.configure?.(app);
  // Bound slow clients: Node's defaults allow 60 s for headers and 300 s for a whole request.
  const { headersTimeoutMs, requestTimeoutMs } = config.get('http', { infer: true });
  const httpServer = app.getHttpServer() as { headersTimeout: number; requestTimeout: number };
  httpServer.headersTimeout = headersTimeoutMs;
  httpServer.requestTimeout = requestTimeoutMs;
  try {
    await app.listen(port, host); // runs the modules' init hooks: Kafka and the registry
  } catch (error) {
    failStart(error);
  }
  const server = app.getHttpServer() as { address(): { port: number } | string | null };
  const address = server.address();
  log.info(
    { port: typeof address === 'object' && address ? address.port : port, host },
    'service started',
  );
}

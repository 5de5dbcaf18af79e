import cluster, { type Worker } from 'node:cluster';
import pino, { type Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { AnyConfigSection } from '../config/declare';
import { loadConfig, type ConfigOf } from '../config/load-config';
import { SHARED_CONFIG, type SharedConfig } from '../config/shared.config';
import { loggerOptions } from '../observability/logger';
import { SERVICE_VERSION } from './version';
import { startFailureLine } from './startup-dependencies';

/** One worker's metrics as `Registry.getMetricsAsJSON()` gives them. */
type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * A service as N worker processes behind one port (node:cluster). The primary validates the
 * configuration once, forks the workers, and from then on only supervises them; every worker is
 * a whole service (its own Kafka producer, database pool, schedulers), exactly what one replica
 * is, and the kernel's connections are handed to the workers in turn. With one worker nothing is
 * forked: the service runs in this process, as it always did.
 *
 * - A worker that exits before it listens ends the service (exit 1), like a replica that cannot
 *   start: its own "service failed to start" line says why.
 * - A worker that exits later is replaced; more than MAX_REPLACEMENTS within REPLACEMENT_WINDOW_MS
 *   ends the service (exit 1) instead of a restart loop in one pod.
 * - SIGTERM/SIGINT reach every worker, which shuts down gracefully; the primary exits 0 once all
 *   exited 0, 1 otherwise, or 1 (workers killed) after SHUTDOWN_TIMEOUT_MS and a margin.
 * - /metrics on any worker answers for the whole process group (counters and histograms summed).
 */
export interface WorkerServiceOptions<S extends readonly AnyConfigSection[]> {
  /** The service's own sections (the shared one is added); validated in the primary. */
  sections: S;
  /** How many workers the configuration asks for. */
  workers: (config: ConfigOf<[typeof SHARED_CONFIG, ...S]>) => number;
  /** Starts the service in this process (a worker, or the only process). */
  start: () => Promise<void>;
}

const MAX_REPLACEMENTS = 5;
const REPLACEMENT_WINDOW_MS = 60_000;
const STOP_MARGIN_MS = 5_000;
const METRICS_TIMEOUT_MS = 3_000;

/** Messages between the primary and its workers (only for /metrics). */
type WorkerMessage =
  | { type: 'raise-sync:metrics-ready' }
  | { type: 'raise-sync:metrics-ask'; id: number }
  | { type: 'raise-sync:metrics-part'; id: number; metrics: MetricsJson }
  | { type: 'raise-sync:metrics-collect'; id: number }
  | { type: 'raise-sync:metrics-answer'; id: number; text?: string; error?: string };

function isWorkerMessage(message: unknown): message is WorkerMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    String((message as { type?: unknown }).type).startsWith('raise-sync:metrics-')
  );
}

export async function runWorkerService<const S extends readonly AnyConfigSection[]>(
  name: string,
  options: WorkerServiceOptions<S>,
): Promise<void> {
  if (cluster.isWorker) {
    await options.start();
    return;
  }
  let config: ConfigOf<[typeof SHARED_CONFIG, ...S]>;
  try {
    config = loadConfig(process.env, [SHARED_CONFIG, ...options.sections]) as never;
  } catch (error) {
    process.stderr.write(`${startFailureLine(name, error)}\n`);
    process.exit(1);
  }
  const count = options.workers(config);
  if (count <= 1) {
    await options.start();
    return;
  }
  // The shared section is always loaded first; the generic intersection does not narrow to it.
  const { logLevel, shutdownTimeoutMs } = config as unknown as SharedConfig;
  const log = pino(loggerOptions(name, logLevel, SERVICE_VERSION)).child({ context: 'workers' });
  superviseWorkers(log, count, shutdownTimeoutMs + STOP_MARGIN_MS);
}

function superviseWorkers(log: Logger, count: number, stopTimeoutMs: number): void {
  const listening = new Set<number>();
  const withMetrics = new Set<number>();
  const replacements: number[] = [];
  let stopping = false;
  let failed = false;
  let announced = false;

  const stopAll = (signal: NodeJS.Signals, exitCode: number): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    failed = exitCode !== 0;
    log.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, 'stopping workers');
    for (const worker of Object.values(cluster.workers ?? {})) {
      worker?.process.kill(signal);
    }
    setTimeout(() => {
      log.error({ stopTimeoutMs }, 'workers did not stop in time; killing them');
      for (const worker of Object.values(cluster.workers ?? {})) {
        worker?.process.kill('SIGKILL');
      }
      process.exit(1);
    }, stopTimeoutMs).unref();
  };

  cluster.on('listening', (worker) => {
    listening.add(worker.id);
    log.info({ worker: worker.id, workerPid: worker.process.pid }, 'worker listening');
    if (!announced && listening.size >= count) {
      announced = true;
      log.info({ workers: count }, 'workers started');
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    const started = listening.delete(worker.id);
    withMetrics.delete(worker.id);
    const fields = { worker: worker.id, workerPid: worker.process.pid, code, signal };
    if (stopping) {
      failed ||= code !== 0;
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        log.info({ failed }, 'workers stopped');
        process.exit(failed ? 1 : 0);
      }
      return;
    }
    if (!started) {
      log.fatal(fields, 'worker failed to start; stopping the service');
      stopAll('SIGTERM', 1);
      return;
    }
    const now = Date.now();
    replacements.push(now);
    while ((replacements[0] ?? now) < now - REPLACEMENT_WINDOW_MS) {
      replacements.shift();
    }
    if (replacements.length > MAX_REPLACEMENTS) {
      log.fatal(
        { ...fields, replacements: replacements.length, windowMs: REPLACEMENT_WINDOW_MS },
        'workers keep exiting; stopping the service',
      );
      stopAll('SIGTERM', 1);
      return;
    }
    log.error(fields, 'worker exited; starting another');
    cluster.fork();
  });
  cluster.on('message', (worker, message: unknown) => {
    if (!isWorkerMessage(message)) {
      return;
    }
    if (message.type === 'raise-sync:metrics-ready') {
      withMetrics.add(worker.id);
    } else if (message.type === 'raise-sync:metrics-ask') {
      void collectMetrics(withMetrics).then(
        (text) => worker.send({ type: 'raise-sync:metrics-answer', id: message.id, text }),
        (error: unknown) =>
          worker.send({
            type: 'raise-sync:metrics-answer',
            id: message.id,
            error: error instanceof Error ? error.message : String(error),
          }),
      );
    }
  });
  process.once('SIGTERM', () => stopAll('SIGTERM', 0));
  process.once('SIGINT', () => stopAll('SIGINT', 0));
  log.info({ workers: count, primaryPid: process.pid }, 'starting workers');
  for (let i = 0; i < count; i += 1) {
    cluster.fork();
  }
}

let nextCollection = 0;
const collections = new Map<number, (part: MetricsJson | undefined) => void>();
cluster.on('message', (_worker, message: unknown) => {
  if (isWorkerMessage(message) && message.type === 'raise-sync:metrics-part') {
    collections.get(message.id)?.(message.metrics);
  }
});

/** The primary asks every worker whose registry exists for its metrics and sums them. */
async function collectMetrics(workers: ReadonlySet<number>): Promise<string> {
  const id = nextCollection++;
  const parts: MetricsJson[] = [];
  const targets = [...workers]
    .map((workerId) => cluster.workers?.[workerId])
    .filter((w): w is Worker => w !== undefined && w.isConnected());
  await new Promise<void>((done, fail) => {
    let pending = targets.length;
    const timer = setTimeout(() => {
      collections.delete(id);
      fail(
        new Error(
          `${pending} of ${targets.length} workers sent no metrics within ${METRICS_TIMEOUT_MS} ms`,
        ),
      );
    }, METRICS_TIMEOUT_MS);
    collections.set(id, (part) => {
      if (part) {
        parts.push(part);
      }
      pending -= 1;
      if (pending === 0) {
        clearTimeout(timer);
        collections.delete(id);
        done();
      }
    });
    if (pending === 0) {
      clearTimeout(timer);
      collections.delete(id);
      done();
      return;
    }
    for (const worker of targets) {
      worker.send({ type: 'raise-sync:metrics-collect', id });
    }
  });
  return AggregatorRegistry.aggregate(parts).metrics();
}

let nextAsk = 0;
const asks = new Map<number, { resolve: (text: string) => void; reject: (e: Error) => void }>();

/**
 * In a worker: answers the primary's collections from `registry` and tells it the registry
 * exists. Outside a cluster it does nothing.
 */
export function shareWorkerMetrics(registry: Registry): void {
  if (!cluster.isWorker || !process.send) {
    return;
  }
  process.on('message', (message: unknown) => {
    if (!isWorkerMessage(message)) {
      return;
    }
    if (message.type === 'raise-sync:metrics-collect') {
      void registry
        .getMetricsAsJSON()
        .then((metrics) =>
          process.send?.({ type: 'raise-sync:metrics-part', id: message.id, metrics }),
        );
    } else if (message.type === 'raise-sync:metrics-answer') {
      const ask = asks.get(message.id);
      asks.delete(message.id);
      if (message.text !== undefined) {
        ask?.resolve(message.text);
      } else {
        ask?.reject(new Error(message.error ?? 'no metrics'));
      }
    }
  });
  process.send({ type: 'raise-sync:metrics-ready' });
}

/**
 * The text of /metrics: this process's registry, or in a worker, every worker's metrics summed
 * by the primary (a scrape reaches one worker at random, and must see the whole process group).
 */
export function serviceMetrics(registry: Registry): Promise<string> {
  if (!cluster.isWorker || !process.send) {
    return registry.metrics();
  }
  const id = nextAsk++;
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      asks.delete(id);
      reject(new Error('the primary sent no metrics'));
    }, METRICS_TIMEOUT_MS + 1_000);
    asks.set(id, {
      resolve: (text) => {
        clearTimeout(timer);
        resolve(text);
      },
      reject: (error) => {
        clearTimeout(timer);
        reject(error);
      },
    });
    process.send?.({ type: 'raise-sync:metrics-ask', id });
  });
}

import { isKafkaClientNoise } from '../kafka/client-noise';
import { redactUrlsIn } from '../observability/redact-url';

/** Where a warning goes: one structured line, at a level. */
export type WarningSink = (level: 'warn' | 'debug', fields: Record<string, unknown>) => void;

/**
 * Node's process warnings as structured log lines instead of the bare text Node writes to stderr
 * by default, so every line a service prints is JSON. Until the service's logger exists, `sink`
 * writes one JSON line itself; `use` swaps in the logger. Known noise goes at debug level.
 * Returns the function that swaps the sink.
 */
export function routeProcessWarnings(service: string): { use(sink: WarningSink): void } {
  let sink: WarningSink = (level, fields) => {
    if (level === 'warn') {
      process.stderr.write(
        `${JSON.stringify({ level, service, time: new Date().toISOString(), ...fields })}\n`,
      );
    }
  };
  // Node's own printer is a 'warning' listener; without it nothing else writes the bare text.
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error) => {
    sink(isKafkaClientNoise(warning) ? 'debug' : 'warn', {
      msg: 'process warning',
      warning: warning.name,
      error: redactUrlsIn(warning.message),
    });
  });
  return {
    use(next) {
      sink = next;
    },
  };
}

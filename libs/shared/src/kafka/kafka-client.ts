import { Kafka, logLevel, type LogEntry } from 'kafkajs';

/** The logger shape we forward kafkajs logs to (pino's). */
export interface LoggerLike {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger?: LoggerLike;
  /** kafkajs log level; defaults to WARN so normal operation is quiet. */
  level?: logLevel;
}

/** A kafkajs client whose logs go to our structured logger. */
export function createKafka(options: KafkaClientOptions): Kafka {
  const { logger } = options;
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 200, retries: 8 },
    logLevel: options.level ?? logLevel.WARN,
    logCreator:
      () =>
      ({ level, log, namespace }: LogEntry) => {
        if (!logger) {
          return;
        }
        const { message, timestamp: _timestamp, ...rest } = log;
        const fields = { ...rest, namespace, component: 'kafkajs' };
        if (level === logLevel.ERROR) {
          logger.error(fields, message);
        } else if (level === logLevel.WARN) {
          logger.warn(fields, message);
        } else if (level === logLevel.INFO) {
          logger.info(fields, message);
        } else {
          logger.debug(fields, message);
        }
      },
  });
}

export { logLevel as KafkaLogLevel };

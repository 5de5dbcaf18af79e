/** Where the integration tests get Kafka, the schema registry and PostgreSQL from. */
export type StackStrategy = 'environment' | 'testcontainers' | 'local-processes';

export const STACK_VARIABLES = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'DATABASE_URL'] as const;

/**
 * Services named by environment variables win; else testcontainers when a Docker engine answers;
 * else the project's own local processes (tools/infra/infra.sh).
 */
export function chooseStackStrategy(
  env: Record<string, string | undefined>,
  dockerAvailable: boolean,
): StackStrategy {
  if (STACK_VARIABLES.every((name) => (env[name] ?? '') !== '')) {
    return 'environment';
  }
  return dockerAvailable ? 'testcontainers' : 'local-processes';
}

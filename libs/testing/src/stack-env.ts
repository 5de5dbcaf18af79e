import type { TestStack } from './test-stack';

/** What every service needs to run against the test stack: brokers, registry, database, topic prefix. */
export function stackEnv(stack: TestStack, topicPrefix: string): Record<string, string> {
  return {
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    DATABASE_URL: stack.databaseUrl,
    KAFKA_TOPIC_PREFIX: topicPrefix,
  };
}

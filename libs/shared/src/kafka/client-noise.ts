/**
 * A process warning the Kafka client is known to raise harmlessly: kafkajs 2.2.4 computes a
 * negative delay in its request queue (tulios/kafkajs#1751), which Node 24 reports once per
 * client; Node clamps it to 1 ms, as Node 20 did without a word (docs/kafka-client.md).
 */
export function isKafkaClientNoise(warning: Error): boolean {
  return warning.name === 'TimeoutNegativeWarning' && /[/\\]kafkajs[/\\]/.test(warning.stack ?? '');
}

/**
 * A broker answer kafkajs retries on its own after refreshing metadata: a partition's leader
 * moved or is being elected (seen right after topic creation and under load). Logged as a
 * warning; the request's own failure, if retries run out, still surfaces as an error.
 */
export function isRetriedLeadershipError(log: Record<string, unknown>): boolean {
  const error = log['error'];
  return (
    typeof error === 'string' &&
    /not the leader for that topic-partition|no leader for this topic-partition|does not host this topic-partition/.test(
      error,
    )
  );
}

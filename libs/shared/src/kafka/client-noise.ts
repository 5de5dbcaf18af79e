/**
 * A process warning the Kafka client is known to raise harmlessly: kafkajs 2.2.4 computes a
 * negative delay in its request queue (tulios/kafkajs#1751), which Node 24 reports once per
 * client; Node clamps it to 1 ms, as Node 20 did without a word (docs/kafka-client.md).
 */
export function isKafkaClientNoise(warning: Error): boolean {
  return warning.name === 'TimeoutNegativeWarning' && /[/\\]kafkajs[/\\]/.test(warning.stack ?? '');
}

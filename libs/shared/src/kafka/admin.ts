import type { TopicSpec } from './connection';
import { RETRY_DELAYS, type Topics } from './topics';

export interface TopicLayout {
  /** Partitions of each source topic: the submitter's unit of parallelism. */
  sourcePartitions: number;
  replicationFactor: number;
  /** min.insync.replicas; with acks=all a write survives a broker loss when RF >= 2 and this is RF-1. */
  minInsyncReplicas: number;
}

export const LOCAL_TOPIC_LAYOUT: TopicLayout = {
  sourcePartitions: 6,
  replicationFactor: 1,
  minInsyncReplicas: 1,
};

const DAY_MS = 24 * 60 * 60 * 1000;

/** Every topic of a deployment: source topics (replayable for 14 days), retry topics, dead letters (90 days). */
export function pipelineTopicSpecs(
  topics: Topics,
  layout: TopicLayout = LOCAL_TOPIC_LAYOUT,
): TopicSpec[] {
  const base = {
    replicationFactor: layout.replicationFactor,
    configs: {
      'min.insync.replicas': String(layout.minInsyncReplicas),
      'cleanup.policy': 'delete',
    },
  };
  const withRetention = (days: number) => ({
    ...base.configs,
    'retention.ms': String(days * DAY_MS),
  });
  return [
    ...[...topics.allSourceEvents(), ...topics.allBulkEvents()].map((topic) => ({
      ...base,
      topic,
      numPartitions: layout.sourcePartitions,
      configs: withRetention(14),
    })),
    ...RETRY_DELAYS.map((delay) => ({
      ...base,
      topic: topics.submitRetry(delay),
      numPartitions: layout.sourcePartitions,
      configs: withRetention(7),
    })),
    { ...base, topic: topics.deadLetters, numPartitions: 3, configs: withRetention(90) },
  ];
}

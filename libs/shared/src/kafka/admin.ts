import type { Admin, Kafka } from 'kafkajs';
import { RETRY_DELAYS, type Topics } from './topics';

/** A topic the pipeline creates itself, with explicit partitions and configs. */
export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
}

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

/**
 * Waits until every partition of `topics` has a leader. A freshly created topic can briefly be
 * unknown to the broker's metadata cache (UNKNOWN_TOPIC_OR_PARTITION on KRaft), so errors are
 * retried until the deadline.
 */
export async function waitForTopics(
  admin: Admin,
  topics: string[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics });
      if (
        meta.topics.every(
          (t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0),
        )
      ) {
        return;
      }
    } catch (error) {
      if (Date.now() >= deadline) {
        throw error;
      }
    }
    if (Date.now() >= deadline) {
      throw new Error(`topics ${topics.join(', ')} have no leader after ${timeoutMs}ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Creates the topics that do not exist yet and waits for their leaders. Idempotent. Existing
 * topics are left alone; one with fewer partitions than asked is reported in the result so the
 * caller can log it (partitions are never changed behind an operator's back).
 */
export async function ensureTopics(
  kafka: Kafka,
  specs: TopicSpec[],
): Promise<{ created: string[]; underPartitioned: string[] }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        // kafkajs' own leader wait fails on KRaft while metadata propagates; waitForTopics polls instead.
        waitForLeaders: false,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.numPartitions,
          replicationFactor: s.replicationFactor,
          configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
        })),
      });
      await waitForTopics(
        admin,
        missing.map((s) => s.topic),
      );
    }
    const present = specs.filter((s) => existing.has(s.topic));
    const underPartitioned: string[] = [];
    if (present.length > 0) {
      const { topics } = await admin.fetchTopicMetadata({ topics: present.map((s) => s.topic) });
      for (const meta of topics) {
        const wanted = present.find((s) => s.topic === meta.name)?.numPartitions ?? 0;
        if (meta.partitions.length < wanted) {
          underPartitioned.push(meta.name);
        }
      }
    }
    return { created: missing.map((s) => s.topic), underPartitioned };
  } finally {
    await admin.disconnect();
  }
}

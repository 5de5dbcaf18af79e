import { randomBytes } from 'node:crypto';
import {
  TopicRangeReader,
  type ConsumedMessage,
  type KafkaConnection,
} from '@raise-sync/shared/kafka';
import { expectEventually } from './expect-eventually';

/**
 * Everything a topic holds once it holds at least `atLeast` messages (default: whatever it holds
 * now), read from each partition's start to its high-water mark with a throw-away group. Throws
 * when the count is not reached, or the read does not finish, within `timeoutMs`.
 */
export async function readTopic(
  kafka: KafkaConnection,
  topic: string,
  { atLeast = 0, timeoutMs = 20_000 }: { atLeast?: number; timeoutMs?: number } = {},
): Promise<ConsumedMessage[]> {
  const deadline = Date.now() + timeoutMs;
  let held = 0;
  try {
    await expectEventually(
      async () => {
        held = await kafka.messageCount(topic);
        expect(held).toBeGreaterThanOrEqual(atLeast);
      },
      { timeoutMs, intervalMs: 100 },
    );
  } catch {
    throw new Error(
      `expected ${atLeast} message(s) on ${topic}, got ${held} within ${timeoutMs}ms`,
    );
  }
  const ranges = (await kafka.topicOffsets(topic))
    .filter((p) => p.high > p.low)
    .map((p) => ({ partition: p.partition, position: p.low, to: p.high }));
  const out: ConsumedMessage[] = [];
  const signal = AbortSignal.timeout(Math.max(1000, deadline - Date.now()));
  const reader = new TopicRangeReader(
    kafka,
    `reader-${randomBytes(4).toString('hex')}`,
    topic,
    ranges,
  );
  const outcome = await reader.read((page) => {
    out.push(...page.messages);
    return Promise.resolve(true);
  }, signal);
  if (outcome !== 'done') {
    throw new Error(`reading ${topic} did not finish within ${timeoutMs}ms`);
  }
  return out;
}

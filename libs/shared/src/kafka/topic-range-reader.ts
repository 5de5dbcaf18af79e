import type { Consumer } from 'kafkajs';
import { clientOf, type KafkaConnection } from './connection';
import { toConsumedMessage, type ConsumedMessage } from './consumed-message';

/** The part of one partition still to read: from `position` (inclusive) to `to` (exclusive). */
export interface PartitionRange {
  partition: number;
  position: number;
  to: number;
}

/** Messages of one partition within its range, and the position to checkpoint once handled. */
export interface RangePage {
  partition: number;
  messages: ConsumedMessage[];
  /** The next offset to read in this partition after the page (≤ the range end). */
  position: number;
}

/** done: every partition reached its end; stopped: the handler or the signal asked to stop. */
export type ReadOutcome = 'done' | 'stopped';

/**
 * Reads given offset ranges of one topic with a consumer of its own throw-away group: it seeks
 * every partition to its position, hands over one page per fetched batch (only messages inside
 * the range), pauses a partition once it reached its end, and stops when all have. Nothing is
 * committed to Kafka: the caller keeps positions itself (in PostgreSQL) and starts a new reader
 * at them to resume. A handler error stops the reader and is thrown from `read`.
 */
export class TopicRangeReader {
  private consumer?: Consumer;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly groupId: string,
    private readonly topic: string,
    private readonly ranges: PartitionRange[],
  ) {}

  async read(
    onPage: (page: RangePage) => Promise<boolean>,
    signal: AbortSignal,
  ): Promise<ReadOutcome> {
    const left = new Map(
      this.ranges.filter((r) => r.position < r.to).map((r) => [r.partition, { ...r }]),
    );
    if (left.size === 0) {
      return 'done';
    }
    let settle: (outcome: ReadOutcome | Error) => void = () => undefined;
    const settled = new Promise<ReadOutcome | Error>((resolve) => {
      settle = resolve;
    });
    let ended = false;
    const end = (outcome: ReadOutcome | Error): void => {
      ended = true;
      settle(outcome);
    };
    const onAbort = (): void => end('stopped');
    signal.addEventListener('abort', onAbort, { once: true });

    const consumer = clientOf(this.connection).consumer({
      groupId: this.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: 30000,
      retry: { retries: 5, initialRetryTime: 300 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) {
        end(payload.error);
      }
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async (payload) => {
          const { batch } = payload;
          const range = left.get(batch.partition);
          if (!range) {
            payload.pause(); // finished, or not part of the replay
            return;
          }
          if (ended || !payload.isRunning() || payload.isStale()) {
            return;
          }
          const inRange = batch.messages
            .filter((m) => {
              const offset = Number(m.offset);
              return offset >= range.position && offset < range.to;
            })
            .map((m) => toConsumedMessage(batch.topic, batch.partition, m));
          const last = batch.messages[batch.messages.length - 1];
          const next = last
            ? Math.min(range.to, Math.max(range.position, Number(last.offset) + 1))
            : range.position;
          if (next === range.position && inRange.length === 0) {
            return;
          }
          let more: boolean;
          try {
            more = await onPage({ partition: batch.partition, messages: inRange, position: next });
          } catch (error) {
            end(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          if (last) {
            payload.resolveOffset(last.offset);
          }
          range.position = next;
          if (range.position >= range.to) {
            left.delete(batch.partition);
            payload.pause();
            if (left.size === 0) {
              end('done');
            }
          }
          if (!more) {
            end('stopped');
          }
          await payload.heartbeat();
        },
      });
      for (const range of left.values()) {
        consumer.seek({
          topic: this.topic,
          partition: range.partition,
          offset: String(range.position),
        });
      }
      const outcome = await settled;
      if (outcome instanceof Error) {
        throw outcome;
      }
      return outcome;
    } finally {
      signal.removeEventListener('abort', onAbort);
      ended = true;
      // Waits for a page in progress to finish (and be checkpointed) before leaving the group.
      await consumer.disconnect().catch(() => undefined);
      await this.deleteGroup();
    }
  }

  /** The group held no offsets and has no members now; removing it keeps the broker tidy. */
  private async deleteGroup(): Promise<void> {
    // Best effort: an empty group without offsets expires on its own.
    await this.connection.deleteGroups([this.groupId]).catch(() => undefined);
  }
}

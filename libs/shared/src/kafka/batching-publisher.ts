import type { Message } from 'kafkajs';
import type { SourceEvent } from '../events/source-event';
import { EventTooLargeError, isMessageError, messageBytes } from './producer';

/** What the batching publisher needs from a producer (EventProducer in production). */
export interface BatchSink {
  /** Encodes one event; throws (EventTooLargeError) when it cannot fit a request. */
  toMessage(topic: string, event: SourceEvent): Promise<Message>;
  sendBatch(topicMessages: Array<{ topic: string; messages: Message[] }>): Promise<void>;
  /** The partition a key lands on; messages of different partitions never share a request. */
  partitionOf?(topic: string, key: Message['key']): Promise<number>;
  /** Most message bytes one request may carry. */
  readonly maxRequestBytes?: number;
}

export interface BatchingPublisherOptions {
  /** How long the first queued message waits for company before a send starts. */
  lingerMs: number;
  /** Most messages in one produce request. */
  maxBatchMessages?: number;
  /** Most message bytes in one produce request (defaults to the sink's limit, else 900 KiB). */
  maxBatchBytes?: number;
  /** Called after every send, for metrics. */
  onSend?: (info: { messages: number; durationMs: number; ok: boolean }) => void;
}

interface Pending {
  message: Message;
  bytes: number;
  settle: (error?: unknown) => void;
}

/** One topic partition's queue: its own linger timer and at most one send in flight. */
interface Lane {
  topic: string;
  queue: Pending[];
  timer: NodeJS.Timeout | undefined;
  sending: boolean;
}

/**
 * Gathers messages from many concurrent callers into few produce requests (the kafkajs producer
 * has no linger of its own). A caller's promise resolves only once the broker acknowledged its
 * messages with acks=all, and rejects if its send failed, so a webhook is answered 2xx only for
 * what is durably written.
 *
 * Isolation: every topic partition is its own lane with its own queue and at most one request
 * in flight (which also keeps the partition's order). A partition that fails, or is slow while
 * the client retries, holds back only callers whose keys land there; the other lanes keep
 * sending. A request never holds more than `maxBatchBytes`, so co-batched messages can never
 * together pass the broker's record-batch limit, and an event that alone cannot fit is refused
 * by `toMessage` before it joins any lane. Should a request still fail with an error that
 * belongs to its messages, it is split in halves and resent, so only the guilty message fails.
 */
export class BatchingPublisher {
  private readonly lanes = new Map<string, Lane>();
  private readonly maxBatch: number;
  private readonly maxBytes: number;

  constructor(
    private readonly sink: BatchSink,
    private readonly options: BatchingPublisherOptions,
  ) {
    this.maxBatch = options.maxBatchMessages ?? 1000;
    this.maxBytes = options.maxBatchBytes ?? sink.maxRequestBytes ?? 900 * 1024;
  }

  /**
   * Encodes and queues `events` for `topic`; resolves when all are acknowledged. An event the
   * sink refuses (too large) fails the call before anything is queued, unless `onRefused` is
   * given: then that event is left out and reported there, and the others go ahead.
   */
  async publish(
    topic: string,
    events: SourceEvent[],
    onRefused?: (error: EventTooLargeError, event: SourceEvent) => void,
  ): Promise<void> {
    if (events.length === 0) {
      return;
    }
    const encoded = await Promise.all(
      events.map((event) =>
        this.sink.toMessage(topic, event).catch((error: unknown) => {
          if (onRefused && error instanceof EventTooLargeError) {
            onRefused(error, event);
            return undefined;
          }
          throw error;
        }),
      ),
    );
    const messages = encoded.filter((m): m is Message => m !== undefined);
    const partitionOf = this.sink.partitionOf?.bind(this.sink);
    const lanes = partitionOf
      ? await Promise.all(messages.map((message) => partitionOf(topic, message.key)))
      : messages.map(() => 0);
    const touched = new Set<Lane>();
    const acknowledged = messages.map(
      (message, i) =>
        new Promise<void>((resolve, reject) => {
          const lane = this.lane(topic, lanes[i] ?? 0);
          touched.add(lane);
          lane.queue.push({
            message,
            bytes: messageBytes(message),
            settle: (error) =>
              error === undefined
                ? resolve()
                : reject(error instanceof Error ? error : new Error('send failed')),
          });
        }),
    );
    for (const lane of touched) {
      this.schedule(lane);
    }
    await Promise.all(acknowledged);
  }

  /** Messages waiting for a send (for readiness and metrics). */
  queued(): number {
    let n = 0;
    for (const lane of this.lanes.values()) {
      n += lane.queue.length;
    }
    return n;
  }

  /** Sends everything still queued; used on shutdown. */
  async flush(): Promise<void> {
    for (;;) {
      const busy = [...this.lanes.values()].filter((l) => l.queue.length > 0 || l.sending);
      if (busy.length === 0) {
        return;
      }
      for (const lane of busy) {
        if (!lane.sending) {
          void this.drain(lane);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private lane(topic: string, partition: number): Lane {
    const key = `${topic}\u0000${partition}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { topic, queue: [], timer: undefined, sending: false };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private schedule(lane: Lane): void {
    if (lane.sending || lane.timer) {
      return;
    }
    if (lane.queue.length >= this.maxBatch || this.options.lingerMs === 0) {
      void this.drain(lane);
      return;
    }
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      void this.drain(lane);
    }, this.options.lingerMs);
  }

  /** The next request's worth of a lane's queue: in order, within the message and byte bounds. */
  private take(lane: Lane): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < lane.queue.length && n < this.maxBatch) {
      const next = lane.queue[n] as Pending;
      if (n > 0 && bytes + next.bytes > this.maxBytes) {
        break;
      }
      bytes += next.bytes;
      n++;
    }
    return lane.queue.splice(0, n);
  }

  private async drain(lane: Lane): Promise<void> {
    if (lane.sending) {
      return;
    }
    clearTimeout(lane.timer);
    lane.timer = undefined;
    lane.sending = true;
    try {
      while (lane.queue.length > 0) {
        await this.send(lane.topic, this.take(lane));
      }
    } finally {
      lane.sending = false;
    }
  }

  /** Sends one request; on a message's own fault, halves it until only that message fails. */
  private async send(topic: string, batch: Pending[]): Promise<void> {
    const started = Date.now();
    try {
      await this.sink.sendBatch([{ topic, messages: batch.map((item) => item.message) }]);
      this.options.onSend?.({ messages: batch.length, durationMs: Date.now() - started, ok: true });
      for (const item of batch) {
        item.settle();
      }
    } catch (error) {
      this.options.onSend?.({
        messages: batch.length,
        durationMs: Date.now() - started,
        ok: false,
      });
      if (batch.length > 1 && isMessageError(error)) {
        const half = Math.ceil(batch.length / 2);
        await this.send(topic, batch.slice(0, half));
        await this.send(topic, batch.slice(half));
        return;
      }
      for (const item of batch) {
        item.settle(error ?? new Error('send failed'));
      }
    }
  }
}

import type { OutgoingMessage } from './connection';
import type { SourceEvent } from '../events/source-event';
import { EventTooLargeError, isMessageError, messageBytes } from './producer';

/** What the batching publisher needs from a producer (EventProducer in production). */
export interface BatchSink {
  /** Encodes one event; throws (EventTooLargeError) when it cannot fit a request. */
  toMessage(topic: string, event: SourceEvent): Promise<OutgoingMessage>;
  /** One produce request; `once`: no client-side resend (a shared request fails fast). */
  sendBatch(
    topicMessages: Array<{ topic: string; messages: OutgoingMessage[] }>,
    options?: { once?: boolean },
  ): Promise<void>;
  /** The partition a key lands on; each partition is a lane with its own byte budget. */
  partitionOf?(topic: string, key: OutgoingMessage['key']): Promise<number>;
  /** Most message bytes one request may carry for one partition. */
  readonly maxRequestBytes?: number;
}

export interface BatchingPublisherOptions {
  /** How long the first queued message waits for company before a send starts. */
  lingerMs: number;
  /** Most messages in one produce request. */
  maxBatchMessages?: number;
  /** Most message bytes of one partition in one request (defaults to the sink's limit). */
  maxBatchBytes?: number;
  /** How long a partition whose writes failed is sent on its own, out of shared requests. */
  isolateMs?: number;
  /** Called after every send, for metrics. */
  onSend?: (info: { messages: number; durationMs: number; ok: boolean }) => void;
}

interface Pending {
  message: OutgoingMessage;
  bytes: number;
  settle: (error?: unknown) => void;
}

/** One topic partition's queue; `sending` while any of its messages is in flight. */
interface Lane {
  topic: string;
  queue: Pending[];
  sending: boolean;
  /** Until then the lane sends on its own (its last write failed). */
  isolatedUntil: number;
}

/**
 * Gathers messages from many concurrent callers into few produce requests (the kafkajs producer
 * has no linger of its own). A caller's promise resolves only once the broker acknowledged its
 * messages with acks=all, and rejects if its send failed, so a webhook is answered 2xx only for
 * what is durably written.
 *
 * Every topic partition is a lane: its messages leave in order, at most one request of a lane
 * is in flight, and a lane's part of a request never passes the broker's record-batch limit (so
 * co-batched messages can never together be too large; an event too large alone is refused by
 * `toMessage` before it joins anything). Healthy lanes share one request per linger window.
 *
 * Isolation: a shared request is sent without client-side resends. If it fails, each lane's part
 * is resent on its own with the client's full retries, and the shared requests go on for every
 * other lane meanwhile. A lane that still fails is isolated for `isolateMs`: it sends alone, so
 * a failing or slow partition holds back only the callers whose keys land there. A request that
 * fails with a message's own error is halved until only that message fails.
 */
export class BatchingPublisher {
  private readonly lanes = new Map<string, Lane>();
  private readonly maxBatch: number;
  private readonly maxBytes: number;
  private readonly isolateMs: number;
  private timer: NodeJS.Timeout | undefined;
  private pumping = false;

  constructor(
    private readonly sink: BatchSink,
    private readonly options: BatchingPublisherOptions,
  ) {
    this.maxBatch = options.maxBatchMessages ?? 1000;
    this.maxBytes = options.maxBatchBytes ?? sink.maxRequestBytes ?? 900 * 1024;
    this.isolateMs = options.isolateMs ?? 30_000;
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
    const messages = encoded.filter((m): m is OutgoingMessage => m !== undefined);
    const partitionOf = this.sink.partitionOf?.bind(this.sink);
    const partitions = partitionOf
      ? await Promise.all(messages.map((message) => partitionOf(topic, message.key)))
      : messages.map(() => 0);
    const touched = new Set<Lane>();
    const acknowledged = messages.map(
      (message, i) =>
        new Promise<void>((resolve, reject) => {
          const lane = this.lane(topic, partitions[i] ?? 0);
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
      if (this.isolated(lane) && !lane.sending) {
        void this.drainAlone(lane);
      }
    }
    this.schedule();
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
      const lanes = [...this.lanes.values()];
      if (!this.pumping && lanes.every((l) => l.queue.length === 0 && !l.sending)) {
        return;
      }
      if (!this.pumping) {
        void this.pump();
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private lane(topic: string, partition: number): Lane {
    const key = `${topic}\u0000${partition}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { topic, queue: [], sending: false, isolatedUntil: 0 };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private isolated(lane: Lane): boolean {
    return lane.isolatedUntil > Date.now();
  }

  /** Lanes that may join the next shared request. */
  private ready(): Lane[] {
    return [...this.lanes.values()].filter(
      (l) => l.queue.length > 0 && !l.sending && !this.isolated(l),
    );
  }

  private schedule(): void {
    if (this.pumping || this.timer) {
      return;
    }
    const ready = this.ready();
    if (ready.length === 0) {
      return;
    }
    const queued = ready.reduce((n, l) => n + l.queue.length, 0);
    if (queued >= this.maxBatch || this.options.lingerMs === 0) {
      void this.pump();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pump();
    }, this.options.lingerMs);
  }

  /** The next part of a lane's queue: in order, within the message and byte bounds. */
  private take(lane: Lane, maxMessages: number): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < lane.queue.length && n < maxMessages) {
      const next = lane.queue[n] as Pending;
      if (n > 0 && bytes + next.bytes > this.maxBytes) {
        break;
      }
      bytes += next.bytes;
      n++;
    }
    return lane.queue.splice(0, n);
  }

  /** Sends shared requests while lanes are ready; one shared request in flight at a time. */
  private async pump(): Promise<void> {
    if (this.pumping) {
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pumping = true;
    try {
      for (;;) {
        const parts: Array<{ lane: Lane; items: Pending[] }> = [];
        let room = this.maxBatch;
        for (const lane of this.ready()) {
          if (room <= 0) {
            break;
          }
          const items = this.take(lane, room);
          room -= items.length;
          lane.sending = true;
          parts.push({ lane, items });
        }
        if (parts.length === 0) {
          return;
        }
        await this.sendShared(parts);
      }
    } finally {
      this.pumping = false;
      this.schedule();
    }
  }

  /**
   * One request for several lanes, without resends. On failure every lane's part is resent on
   * its own, not awaited here, so the next shared request does not wait for a failing lane.
   */
  private async sendShared(parts: Array<{ lane: Lane; items: Pending[] }>): Promise<void> {
    if (parts.length === 1) {
      // Nothing to share: the lane's own send, with the client's retries.
      const [{ lane, items }] = parts as [{ lane: Lane; items: Pending[] }];
      void this.sendLane(lane, items);
      return;
    }
    const byTopic = new Map<string, OutgoingMessage[]>();
    for (const { lane, items } of parts) {
      const list = byTopic.get(lane.topic) ?? [];
      list.push(...items.map((item) => item.message));
      byTopic.set(lane.topic, list);
    }
    const count = parts.reduce((n, p) => n + p.items.length, 0);
    const started = Date.now();
    try {
      await this.sink.sendBatch(
        [...byTopic.entries()].map(([topic, messages]) => ({ topic, messages })),
        { once: true },
      );
    } catch {
      this.options.onSend?.({ messages: count, durationMs: Date.now() - started, ok: false });
      for (const { lane, items } of parts) {
        void this.sendLane(lane, items);
      }
      return;
    }
    this.options.onSend?.({ messages: count, durationMs: Date.now() - started, ok: true });
    for (const { lane, items } of parts) {
      lane.sending = false;
      for (const item of items) {
        item.settle();
      }
    }
  }

  /** A lane's part on its own, with the client's retries; isolates the lane if it fails. */
  private async sendLane(lane: Lane, items: Pending[]): Promise<void> {
    lane.sending = true;
    const ok = await this.send(lane.topic, items);
    lane.isolatedUntil = ok ? 0 : Date.now() + this.isolateMs;
    lane.sending = false;
    if (this.isolated(lane)) {
      void this.drainAlone(lane);
    } else {
      this.schedule();
    }
  }

  /** An isolated lane sends its queue alone until a send succeeds or the isolation ends. */
  private async drainAlone(lane: Lane): Promise<void> {
    if (lane.sending) {
      return;
    }
    lane.sending = true;
    try {
      while (lane.queue.length > 0 && this.isolated(lane)) {
        const ok = await this.send(lane.topic, this.take(lane, this.maxBatch));
        lane.isolatedUntil = ok ? 0 : Date.now() + this.isolateMs;
      }
    } finally {
      lane.sending = false;
    }
    this.schedule();
  }

  /**
   * Sends one lane's messages (client resends on); on a message's own fault, halves the request
   * until only that message fails. Resolves false when the partition itself failed.
   */
  private async send(topic: string, batch: Pending[]): Promise<boolean> {
    if (batch.length === 0) {
      return true;
    }
    const started = Date.now();
    try {
      await this.sink.sendBatch([{ topic, messages: batch.map((item) => item.message) }]);
      this.options.onSend?.({ messages: batch.length, durationMs: Date.now() - started, ok: true });
      for (const item of batch) {
        item.settle();
      }
      return true;
    } catch (error) {
      this.options.onSend?.({
        messages: batch.length,
        durationMs: Date.now() - started,
        ok: false,
      });
      if (isMessageError(error)) {
        if (batch.length === 1) {
          batch[0]?.settle(error);
          return true;
        }
        const half = Math.ceil(batch.length / 2);
        const first = await this.send(topic, batch.slice(0, half));
        const second = await this.send(topic, batch.slice(half));
        return first && second;
      }
      for (const item of batch) {
        item.settle(error ?? new Error('send failed'));
      }
      return false;
    }
  }
}

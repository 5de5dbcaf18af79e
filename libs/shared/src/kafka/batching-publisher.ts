import type { Message } from 'kafkajs';
import type { SourceEvent } from '../events/source-event';

/** What the batching publisher needs from a producer (EventProducer in production). */
export interface BatchSink {
  toMessage(topic: string, event: SourceEvent): Promise<Message>;
  sendBatch(topicMessages: Array<{ topic: string; messages: Message[] }>): Promise<void>;
}

export interface BatchingPublisherOptions {
  /** How long the first queued message waits for company before a send starts. */
  lingerMs: number;
  /** Most messages in one produce request. */
  maxBatchMessages?: number;
  /** Called after every send, for metrics. */
  onSend?: (info: { messages: number; durationMs: number; ok: boolean }) => void;
}

interface Pending {
  topic: string;
  message: Message;
  settle: (error?: unknown) => void;
}

/**
 * Gathers messages from many concurrent callers into few produce requests (the kafkajs producer
 * has no linger of its own). A caller's promise resolves only once the broker acknowledged its
 * messages with acks=all, and rejects if that send failed, so a webhook is answered 2xx only
 * for what is durably written. One send is in flight at a time (the idempotent producer keeps
 * order that way); while it runs, new messages queue and leave together in the next request, so
 * batches grow with load and latency stays near one round trip when idle.
 */
export class BatchingPublisher {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending = false;
  private readonly maxBatch: number;

  constructor(
    private readonly sink: BatchSink,
    private readonly options: BatchingPublisherOptions,
  ) {
    this.maxBatch = options.maxBatchMessages ?? 1000;
  }

  /** Encodes and queues `events` for `topic`; resolves when all are acknowledged. */
  async publish(topic: string, events: SourceEvent[]): Promise<void> {
    if (events.length === 0) {
      return;
    }
    const messages = await Promise.all(events.map((event) => this.sink.toMessage(topic, event)));
    const acknowledged = messages.map(
      (message) =>
        new Promise<void>((resolve, reject) => {
          this.queue.push({
            topic,
            message,
            settle: (error) =>
              error === undefined
                ? resolve()
                : reject(error instanceof Error ? error : new Error('send failed')),
          });
        }),
    );
    this.schedule();
    await Promise.all(acknowledged);
  }

  /** Messages waiting for a send (for readiness and metrics). */
  queued(): number {
    return this.queue.length;
  }

  /** Sends everything still queued; used on shutdown. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.sending) {
      if (!this.sending) {
        await this.drain();
      } else {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }

  private schedule(): void {
    if (this.sending || this.timer) {
      return;
    }
    if (this.queue.length >= this.maxBatch || this.options.lingerMs === 0) {
      void this.drain();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, this.options.lingerMs);
  }

  private async drain(): Promise<void> {
    if (this.sending) {
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        const byTopic = new Map<string, Message[]>();
        for (const item of batch) {
          const list = byTopic.get(item.topic) ?? [];
          list.push(item.message);
          byTopic.set(item.topic, list);
        }
        const started = Date.now();
        try {
          await this.sink.sendBatch(
            [...byTopic.entries()].map(([topic, messages]) => ({ topic, messages })),
          );
          this.options.onSend?.({
            messages: batch.length,
            durationMs: Date.now() - started,
            ok: true,
          });
          for (const item of batch) {
            item.settle();
          }
        } catch (error) {
          this.options.onSend?.({
            messages: batch.length,
            durationMs: Date.now() - started,
            ok: false,
          });
          for (const item of batch) {
            item.settle(error ?? new Error('send failed'));
          }
        }
      }
    } finally {
      this.sending = false;
    }
  }
}

import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import {
  RETRY_DELAYS,
  customerIdFromKey,
  readRetryHeaders,
  type RetryInfo,
  type Topics,
} from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import {
  ConsumerLoopFactory,
  PIPELINE_METRICS,
  ReadinessService,
  TOPICS,
  isUuid,
} from '@raise-sync/shared/service';
import {
  EventCodec,
  EventProducer,
  type BatchConsumer,
  type BatchControl,
  type ConsumedMessage,
  type PartitionBatch,
} from '@raise-sync/shared/kafka';
import { PinoLogger } from 'nestjs-pino';
import { customerScope } from '@raise-sync/shared/state';
import { UnroutableMessages } from '../dead-letters/unroutable-messages.service';
import { DeliveryEngine, type WorkItem } from '../delivery/delivery-engine.service';
import { DeliveryRepository } from '../delivery/delivery.repository';
import { retryTierFor } from '../delivery/retry-tier';
import { runLimited } from './run-limited';
import { DestinationDirectory } from '../delivery/destination-directory.service';
import { RecordCompletion } from '../delivery/record-completion.service';
import { ErasedDonors } from '../delivery/erased-donors.service';
import type { SubmitterConfig } from '../submitter.config';

/** Most retry messages delivered in one pass (one engine call and transaction per destination). */
const RETRY_BATCH = 500;
/**
 * Most bytes fetched per retry partition (a few hundred events). Every partition of a tier may
 * hold its batch while its head waits for its due time, so fetches here stay small.
 */
const RETRY_FETCH_BYTES_PER_PARTITION = 256 * 1024;
/** Destinations of one pass written at the same time. */
const PARALLEL_DESTINATIONS = 8;
/**
 * How long a retry message may wait for its retry entry. The engine publishes a retry before the
 * transaction that writes its entry commits; a message delivered before that would leave the
 * entry behind with nothing to resolve it (in_retry stuck at 1, seen in the kill -9 test on a
 * loaded machine). Older than this without an entry, a message is an orphan of a crash.
 */
const ENTRY_GRACE_MS = 30_000;
/** A message due within this much of now waits for its time rather than moving to another tier. */
const MOVE_MIN_MS = 1000;

/** When a message was written (its Kafka timestamp), now if it has none. */
const publishedAt = (message: ConsumedMessage): number => Number(message.timestamp) || Date.now();

interface Held {
  message: ConsumedMessage;
  info: RetryInfo | null;
  /** When to look at it: its due time, but never later than its tier's delay after publishing. */
  readyAt: number;
  done: boolean;
}

/**
 * Consumes the three retry topics (non-blocking retries). The engine sends a retry to the tier
 * whose delay covers the wait it needs, so a tier holds only messages due within about its own
 * delay. Each partition batch is worked by due time, not by offset: every message whose time has
 * come is delivered at once, in batches per destination (one transaction each), and a message
 * still far from due when its tier's delay has passed (a `Retry-After` or budget reset beyond the
 * longest tier) is moved on to the tier that fits what is left, spending no attempt. So no
 * message waits behind one due later, and a batch is held at most one tier delay. Offsets are
 * resolved up to the first message not yet done; after a crash, messages done past that point
 * come again and find their retry entry gone (orphans, not counted again). A message without
 * valid retry headers, an undecodable one, and one naming a destination of another customer
 * (`destination_mismatch`) go to the dead-letter topic and index.
 */
@Injectable()
export class RetryConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private consumers: BatchConsumer[] = [];
  private readonly delaysMs: readonly number[];
  /** How long one destination's reads (gift completion) may hold a batch. */
  private readonly taskBudgetMs: number;

  constructor(
    private readonly loops: ConsumerLoopFactory,
    private readonly codec: EventCodec,
    private readonly engine: DeliveryEngine,
    private readonly directory: DestinationDirectory,
    @Inject(TOPICS) private readonly topics: Topics,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly readiness: ReadinessService,
    private readonly log: PinoLogger,
    private readonly completion: RecordCompletion,
    private readonly erasedDonors: ErasedDonors,
    private readonly producer: EventProducer,
    private readonly unroutable: UnroutableMessages,
    config: ConfigService<SubmitterConfig, true>,
    private readonly deliveries: DeliveryRepository,
  ) {
    this.log.setContext(RetryConsumer.name);
    this.delaysMs = config.get('submitter', { infer: true }).retryDelaysMs;
    this.taskBudgetMs = config.get('submitter', { infer: true }).taskBudgetMs;
  }

  groupId(delay: string): string {
    return `${this.topics.prefix}.submitter.retry.${delay}`;
  }

  /** One consumer per retry topic, so a message waiting an hour never holds up 30-second ones. */
  async onApplicationBootstrap(): Promise<void> {
    for (const delay of RETRY_DELAYS) {
      const consumer = this.loops.createBatch(
        {
          groupId: this.groupId(delay),
          topics: [this.topics.submitRetry(delay)],
          // every partition of the topic may be waiting for its head message at the same time
          partitionsConsumedConcurrently: 32,
          // Small fetches: a waiting partition holds its batch until its head is due, and four
          // tiers of 32 partitions at the default 1 MiB could hold 128 MiB doing nothing.
          maxBytesPerPartition: RETRY_FETCH_BYTES_PER_PARTITION,
          onError: (error) => this.log.error({ err: error, delay }, 'retry batch left unresolved'),
        },
        (batch, control) => this.handleBatch(batch, control),
      );
      this.consumers.push(consumer);
      await consumer.start();
      this.metrics.consumerRunning.set({ group: this.groupId(delay) }, 1);
    }
    this.readiness.register('retry-consumers', () =>
      this.consumers.every((c) => c.isHealthy())
        ? Promise.resolve()
        : Promise.reject(new Error('a retry consumer is not running')),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.stop()));
    for (const delay of RETRY_DELAYS) {
      this.metrics.consumerRunning.set({ group: this.groupId(delay) }, 0);
    }
  }

  private async handleBatch(batch: PartitionBatch, control: BatchControl): Promise<void> {
    const tier = RETRY_DELAYS.findIndex((delay) => this.topics.submitRetry(delay) === batch.topic);
    const tierDelayMs = this.delaysMs[tier] ?? 0;
    const held: Held[] = batch.slice(0).map((message) => {
      const info = readRetryHeaders(message.headers);
      const readyAt = info ? Math.min(info.dueAt.getTime(), publishedAt(message) + tierDelayMs) : 0;
      return { message, info, readyAt, done: false };
    });
    let resolved = 0;
    while (control.shouldContinue()) {
      const now = Date.now();
      const ready = held.filter((h) => !h.done && h.readyAt <= now);
      if (ready.length > 0) {
        await this.work(ready.slice(0, RETRY_BATCH));
        while (resolved < held.length && held[resolved]?.done) {
          resolved += 1;
        }
        if (resolved > 0) {
          control.resolveOffset((held[resolved - 1] as Held).message.offset);
        }
        await control.heartbeat();
        continue;
      }
      const waiting = held.filter((h) => !h.done);
      if (waiting.length === 0) {
        return;
      }
      const next = Math.min(...waiting.map((h) => h.readyAt));
      await new Promise((r) => setTimeout(r, Math.max(10, Math.min(1000, next - now))));
      await control.heartbeat();
    }
  }

  /** One pass over messages whose time has come; marks each one done once it is settled. */
  private async work(ready: Held[]): Promise<void> {
    const now = Date.now();
    const hops = new Map<string, Held[]>();
    const deliverable: Array<{ held: Held; info: RetryInfo }> = [];
    for (const h of ready) {
      if (!h.info || !isUuid(h.info.destinationId)) {
        await this.unroutable.deadLetter(h.message, {
          reason: 'undecodable',
          detail: 'retry message without valid retry headers',
          customerId: customerIdFromKey(h.message.key) ?? null,
        });
        h.done = true;
      } else if (h.info.dueAt.getTime() > now + MOVE_MIN_MS) {
        const topic = this.topics.submitRetry(
          RETRY_DELAYS[retryTierFor(h.info.dueAt.getTime() - now, this.delaysMs)] ?? '1h',
        );
        hops.set(topic, [...(hops.get(topic) ?? []), h]);
      } else if (h.info.dueAt.getTime() > now) {
        h.readyAt = h.info.dueAt.getTime(); // nearly due: wait here (never before its due time)
      } else {
        deliverable.push({ held: h, info: h.info });
      }
    }
    for (const [topic, moving] of hops) {
      // Same key, value and headers (due time, attempt): a move is not an attempt.
      await this.producer.publishRaw(
        topic,
        moving.map(({ message }) => ({
          key: message.key,
          value: message.value,
          headers: message.headers,
        })),
      );
      for (const h of moving) {
        h.done = true;
      }
      this.log.info(
        { topic, moved: moving.length },
        'retries not yet due moved to the tier that fits',
      );
    }

    type Entry = { held: Held; item: WorkItem };
    const groups = new Map<string, Map<string, Entry>>();
    for (const { held: h, info } of deliverable) {
      const decoded = await this.codec.decode(h.message.value);
      if (!decoded.ok) {
        if (decoded.error.retriable) {
          throw decoded.error; // e.g. registry down: left unresolved, seen again
        }
        await this.unroutable.deadLetter(h.message, {
          reason: decoded.error.reason,
          detail: decoded.error.message,
          customerId: customerIdFromKey(h.message.key) ?? null,
        });
        h.done = true;
        continue;
      }
      const group = groups.get(info.destinationId) ?? new Map<string, Entry>();
      // The same event twice (a copy that outlived a crash) is delivered once: the other copy is
      // the orphan of the same retry entry.
      const earlier = group.get(decoded.event.eventId);
      if (earlier) {
        earlier.held.done = true;
      }
      group.set(decoded.event.eventId, {
        held: h,
        item: {
          event: decoded.event,
          message: h.message,
          attemptsMade: info.attempt,
          firstFailedAt: info.firstFailedAt,
          fromRetry: true,
        },
      });
      groups.set(info.destinationId, group);
    }

    const tasks = [...groups].map(([destinationId, group]) => async () => {
      const entries = [...group.values()];
      const destination = await this.directory.byId(destinationId);
      if (!destination || !destination.enabled) {
        // A removed destination's entries went with it (ON DELETE CASCADE): nothing to drop.
        const scope = destination ? customerScope(destination.customerId) : null;
        for (const { held: h, item } of entries) {
          if (scope) {
            await this.engine.dropRetry(scope, destinationId, item.event.eventId);
          }
          h.done = true;
        }
        this.log.warn(
          { destinationId, dropped: entries.length },
          'retries for a removed or disabled destination dropped',
        );
        return;
      }
      const mine = entries.filter(({ item }) => item.event.customerId === destination.customerId);
      for (const { held: h, item } of entries.filter((e) => !mine.includes(e))) {
        await this.unroutable.deadLetter(h.message, {
          reason: 'destination_mismatch',
          detail: `retry names destination ${destinationId}, which does not belong to customer ${item.event.customerId}`,
          customerId: item.event.customerId,
          event: item.event,
        });
        h.done = true;
      }
      // A young message whose entry is not written yet waits for it (see ENTRY_GRACE_MS).
      const tracked = await this.deliveries.retryEntriesOf(
        customerScope(destination.customerId),
        destinationId,
        mine.map((e) => e.item.event.eventId),
      );
      const now = Date.now();
      const early = mine.filter(
        ({ held: h, item }) =>
          !tracked.has(item.event.eventId) && now - publishedAt(h.message) < ENTRY_GRACE_MS,
      );
      for (const { held: h } of early) {
        h.readyAt = now + 500;
      }
      const due = mine.filter((e) => !early.includes(e));
      if (due.length === 0) {
        return;
      }
      const items = due.map((e) => e.item);
      // A retried or re-driven webhook gift is completed again, with the donor as known now.
      await this.erasedDonors.apply(destination.customerId, items);
      await this.completion.complete(destination.customerId, items, Date.now() + this.taskBudgetMs);
      await this.engine.deliver(destination, items);
      for (const { held: h } of due) {
        h.done = true;
      }
    });
    await runLimited(tasks, PARALLEL_DESTINATIONS);
  }
}

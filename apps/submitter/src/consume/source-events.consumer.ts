import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { SourceEvent } from '@raise-sync/shared/events';
import { bulkGroupId, customerIdFromKey, liveGroupId, type Topics } from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import {
  ConsumerLoopFactory,
  PIPELINE_METRICS,
  ReadinessService,
  TOPICS,
} from '@raise-sync/shared/service';
import {
  EventCodec,
  type BatchConsumer,
  type BatchControl,
  type ConsumedMessage,
  type PartitionBatch,
} from '@raise-sync/shared/kafka';
import { PinoLogger } from 'nestjs-pino';
import {
  REPLAY_DESTINATION_HEADER,
  WriteIntentRepository,
  customerScope,
} from '@raise-sync/shared/state';
import { DeliveryEngine, type WorkItem } from '../delivery/delivery-engine.service';
import { DestinationDirectory } from '../delivery/destination-directory.service';
import { ErasedDonors } from '../delivery/erased-donors.service';
import { RecordCompletion } from '../delivery/record-completion.service';
import { RelatedRedrive } from '../dead-letters/related-redrive.service';
import { UnroutableMessages } from '../dead-letters/unroutable-messages.service';
import { runLimited } from './run-limited';
import type { SubmitterConfig } from '../submitter.config';

const CHUNK = 2000;
/** Bulk chunks are smaller: a live chunk that arrives meanwhile waits for less. */
const BULK_CHUNK = 1000;
const PARALLEL_DESTINATIONS = 8;
/** Longest a bulk chunk waits for live chunks in flight to finish (then it goes anyway). */
const BULK_YIELD_MAX_MS = 1000;

type Lane = 'live' | 'bulk';

/**
 * Consumes every source topic (live and backfill events alike) and fans each event out to the
 * customer's enabled destinations. Partition batches are worked in chunks: the events of a chunk
 * go to every destination at once (one destination's failure never waits on another: it goes to
 * a retry topic), different records are written concurrently, one record's events keep their
 * order, and the chunk's offsets are resolved only after every destination has delivered,
 * scheduled a retry or dead-lettered each event. Undecodable messages go to the dead-letter topic.
 *
 * Two consumer groups: live source topics, and bulk topics (backfills, reconciliation
 * republishes, replays, a customer's live events beyond its fair share). A bulk chunk waits (up
 * to BULK_YIELD_MAX_MS) while live chunks are in flight, so bulk work never queues in front of
 * anyone's live events and takes the capacity live work leaves.
 */
@Injectable()
export class SourceEventsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly consumers: Array<{ lane: Lane; groupId: string; consumer: BatchConsumer }> = [];
  private liveInFlight = 0;
  /** How long one customer's reads (gift completion) may hold a chunk. */
  private readonly taskBudgetMs: number;

  constructor(
    private readonly loops: ConsumerLoopFactory,
    private readonly codec: EventCodec,
    private readonly engine: DeliveryEngine,
    private readonly directory: DestinationDirectory,
    @Inject(TOPICS) private readonly topics: Topics,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly readiness: ReadinessService,
    private readonly config: ConfigService<SubmitterConfig, true>,
    private readonly log: PinoLogger,
    private readonly intents: WriteIntentRepository,
    private readonly completion: RecordCompletion,
    private readonly redrive: RelatedRedrive,
    private readonly unroutable: UnroutableMessages,
    private readonly erasedDonors: ErasedDonors,
  ) {
    this.log.setContext(SourceEventsConsumer.name);
    this.taskBudgetMs = config.get('submitter', { infer: true }).taskBudgetMs;
  }

  async onApplicationBootstrap(): Promise<void> {
    const submitter = this.config.get('submitter', { infer: true });
    const lanes: Array<{ lane: Lane; groupId: string; topics: string[]; concurrency: number }> = [
      {
        lane: 'live',
        groupId: liveGroupId(this.topics.prefix),
        topics: this.topics.allSourceEvents(),
        concurrency: submitter.partitionsConcurrency,
      },
      {
        lane: 'bulk',
        groupId: bulkGroupId(this.topics.prefix),
        topics: this.topics.allBulkEvents(),
        concurrency: submitter.bulkPartitionsConcurrency,
      },
    ];
    for (const { lane, groupId, topics, concurrency } of lanes) {
      const consumer = this.loops.createBatch(
        {
          groupId,
          topics,
          partitionsConsumedConcurrently: concurrency,
          onError: (error) => {
            if ((error as { type?: unknown }).type === 'REBALANCE_IN_PROGRESS') {
              // A member joined or left (a deploy, a scale-out): nothing failed.
              this.log.warn(
                { lane },
                'the group is rebalancing: the unresolved rest of the batch goes to the next owner of the partition',
              );
              return;
            }
            this.metrics.handlerErrors.inc({
              reason: (error as { reason?: string }).reason ?? 'unexpected',
            });
            this.log.error({ err: error, lane }, 'batch left unresolved for redelivery');
          },
        },
        (batch, control) => this.handleBatch(batch, control, lane),
      );
      this.consumers.push({ lane, groupId, consumer });
    }
    this.readiness.register('source-events-consumer', () =>
      this.consumers.every((c) => c.consumer.isHealthy())
        ? Promise.resolve()
        : Promise.reject(new Error('a source consumer is not running')),
    );
    for (const { lane, groupId, consumer } of this.consumers) {
      await consumer.start();
      this.metrics.consumerRunning.set({ group: groupId }, 1);
      this.log.info({ lane, groupId }, 'consuming source topics');
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.consumer.stop()));
    for (const { groupId } of this.consumers) {
      this.metrics.consumerRunning.set({ group: groupId }, 0);
    }
    this.log.info('stopped consuming; handled offsets committed');
  }

  private async handleBatch(
    batch: PartitionBatch,
    control: BatchControl,
    lane: Lane,
  ): Promise<void> {
    const size = lane === 'live' ? CHUNK : BULK_CHUNK;
    for (let start = 0; start < batch.size; start += size) {
      if (!control.shouldContinue()) {
        return; // the unresolved rest is delivered again after the restart or rebalance
      }
      const chunk = batch.slice(start, start + size);
      if (lane === 'live') {
        this.liveInFlight += 1;
        try {
          await this.handleChunk(chunk);
        } finally {
          this.liveInFlight -= 1;
        }
      } else {
        await this.yieldToLive();
        await this.handleChunk(chunk);
      }
      control.resolveOffset((chunk[chunk.length - 1] as ConsumedMessage).offset);
      await control.heartbeat();
    }
  }

  /** Lets live chunks in flight finish first (bounded, so bulk work always moves). */
  private async yieldToLive(): Promise<void> {
    const until = Date.now() + BULK_YIELD_MAX_MS;
    while (this.liveInFlight > 0 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private async handleChunk(messages: ConsumedMessage[]): Promise<void> {
    const byCustomer = new Map<string, WorkItem[]>();
    const decoded = new Map<string, number>();
    for (const message of messages) {
      const event = await this.decode(message);
      if (!event) {
        continue;
      }
      const counted = `${event.customerId}\u0000${event.source}\u0000${event.resource}`;
      decoded.set(counted, (decoded.get(counted) ?? 0) + 1);
      const list = byCustomer.get(event.customerId) ?? [];
      // A replay may name the one destination it is for (see DeliveryEngine.decide).
      const target =
        event.origin === 'replay' ? message.headers[REPLAY_DESTINATION_HEADER] : undefined;
      list.push({
        event,
        message,
        attemptsMade: 0,
        firstFailedAt: null,
        fromRetry: false,
        ...(target ? { targetDestinationId: target } : {}),
      });
      byCustomer.set(event.customerId, list);
    }
    for (const [key, n] of decoded) {
      const [customerId, source, resource] = key.split('\u0000') as [string, string, string];
      this.metrics.eventsConsumed.inc(
        { customer_id: customerId, source, resource, outcome: 'decoded' },
        n,
      );
    }
    await this.markEchoes(byCustomer);
    // Erasures first (ErasedDonors), then related records (the donors this chunk shows), then the
    // gifts that lack theirs, so every destination gets the complete record (see RecordCompletion).
    // Customers side by side, each read bounded by the task budget: one customer's slow source
    // or used-up Raise budget never holds the chunk for the others.
    const ready = new Map<string, string[]>();
    const deadline = Date.now() + this.taskBudgetMs;
    await runLimited(
      [...byCustomer].map(([customerId, items]) => async () => {
        // Donors flagged isGDPRDeleted are erased first; erased donors' events are not synced out.
        await this.erasedDonors.apply(customerId, items);
        ready.set(customerId, await this.completion.learn(customerId, items));
        await this.completion.complete(customerId, items, deadline);
      }),
      PARALLEL_DESTINATIONS,
    );
    const tasks: Array<() => Promise<void>> = [];
    for (const [customerId, items] of byCustomer) {
      for (const ctx of await this.directory.forCustomer(customerId)) {
        tasks.push(async () => {
          await this.engine.deliver(ctx, items);
        });
      }
    }
    await runLimited(tasks, PARALLEL_DESTINATIONS);
    // After the donors themselves went out: gifts dead-lettered for want of them follow.
    for (const [customerId, donorIds] of ready) {
      await this.redrive.donorsReady(customerId, donorIds);
    }
  }

  /** Donor changes that are the echo of our own writes to Raise (write intents) are not synced out. */
  private async markEchoes(byCustomer: Map<string, WorkItem[]>): Promise<void> {
    for (const [customerId, items] of byCustomer) {
      const donors = items.filter((i) => i.event.resource === 'donor' && i.event.record !== null);
      if (donors.length === 0) {
        continue;
      }
      const echoes = await this.intents.takeEchoes(
        customerScope(customerId),
        'donor',
        donors.map((i) => ({
          sourceId: i.event.recordId,
          fields: i.event.record as unknown as Record<string, unknown>,
        })),
      );
      for (const item of donors.filter((i) => echoes.has(i.event.recordId))) {
        item.echo = true;
        this.log.info(
          { customerId, recordId: item.event.recordId, eventId: item.event.eventId },
          'echo of our own write to Raise; not synced out again',
        );
      }
    }
  }

  /** The event, or undefined after dead-lettering an undecodable message; throws if retriable. */
  private async decode(message: ConsumedMessage): Promise<SourceEvent | undefined> {
    const decoded = await this.codec.decode(message.value);
    if (decoded.ok) {
      return decoded.event;
    }
    if (decoded.error.retriable) {
      throw decoded.error; // e.g. registry down: leave unresolved, try again
    }
    const customerId = customerIdFromKey(message.key) ?? null;
    await this.unroutable.deadLetter(message, {
      reason: decoded.error.reason,
      detail: decoded.error.message,
      customerId,
    });
    this.metrics.eventsConsumed.inc({
      customer_id: customerId ?? 'unknown',
      source: 'unknown',
      resource: 'unknown',
      outcome: 'undecodable',
    });
    return undefined;
  }
}

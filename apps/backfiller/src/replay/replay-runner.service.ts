import { DestinationRepository } from '@raise-sync/shared/state';
import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { SourceEvent } from '@raise-sync/shared/events';
import {
  KafkaConnection,
  TopicRangeReader,
  type OutgoingMessage,
  type RangePage,
  type Topics,
} from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import {
  BulkPushback,
  PIPELINE_METRICS,
  PUSHBACK_RECHECK_MS,
  countRefusedEvent,
  TOPICS,
  type LaneState,
} from '@raise-sync/shared/service';
import { EventCodec, EventProducer, EventTooLargeError } from '@raise-sync/shared/kafka';
import { PinoLogger } from 'nestjs-pino';
import { customerScope } from '@raise-sync/shared/state';
import { BackfillPublisher } from '../work/backfill-publisher.service';
import { backoffMs } from '../work/failure';
import { positionKey, remainingPartitions, type RemainingPartition } from './replay-bounds';
import { eventMatches, keyBelongsTo, replayCopy, replayHeaders } from './replay-filter';
import { ReplayRunRepository, type ReplayRunRow } from './replay-run.repository';
import type { BackfillerConfig } from '../backfiller.config';

/**
 * How a replay attempt ended. `held`: the customer's destination lanes are too deep
 * (push-back); the run was handed back, unfailed, to be claimed again after PUSHBACK_RECHECK_MS.
 */
export type ReplayOutcome = 'done' | 'lease_lost' | 'stopped' | 'retry' | 'failed' | 'held';

/** Largest produce request of replayed copies. */
const PUBLISH_CHUNK = 1000;

/**
 * Works one leased replay run: reads its topics (one, or a resource's live and bulk topic, one
 * after the other) between the run's bounds from the checkpointed positions, keeps the
 * customer's events (key first, then the decoded event), publishes copies with origin replay
 * (and the destination header when the run names one) to the bulk topic, acks=all and behind
 * the submitter-lag gate, and only then checkpoints the page's partition position in one UPDATE
 * guarded by the lease. A crash republishes at most the page in flight; destinations write
 * idempotently, so that is harmless.
 *
 * Push-back: before it starts reading and before each page it would publish, the run looks at
 * its customer's destination lanes. While more than BACKFILL_MAX_WAITING of the customer's events
 * wait there, it publishes nothing and hands its lease back for a few seconds (the page is read
 * again later), so its replay slot goes to other customers' runs meanwhile.
 */
@Injectable()
export class ReplayRunner {
  private readonly settings: BackfillerConfig['backfill'];
  /** Consecutive failed attempts per run in this process, for the backoff. */
  private readonly failures = new Map<string, number>();

  constructor(
    config: ConfigService<BackfillerConfig, true>,
    private readonly replays: ReplayRunRepository,
    private readonly gate: BackfillPublisher,
    private readonly pushback: BulkPushback,
    private readonly producer: EventProducer,
    private readonly codec: EventCodec,
    private readonly destinations: DestinationRepository,
    private readonly kafka: KafkaConnection,
    @Inject(TOPICS) private readonly topics: Topics,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.settings = config.get('backfill', { infer: true });
    this.log.setContext('replay');
  }

  async run(
    run: ReplayRunRow,
    owner: string,
    stopping: () => boolean,
    signal: AbortSignal,
  ): Promise<ReplayOutcome> {
    const context = {
      customerId: run.customer_id,
      runId: run.id,
      topic: run.topic,
      resource: run.resource,
      destinationId: run.destination_id,
    };
    const labels = { customer_id: run.customer_id, resource: run.resource };
    const customer = customerScope(run.customer_id);
    let leased = true;
    let pages = 0;
    let interrupted = false;
    /** Set by a page that found the customer held: the run is handed back after the reader stops. */
    const pushedBack: { lane: LaneState | null } = { lane: null };
    const renew = setInterval(
      () => {
        this.replays
          .renew(customer, run.id, owner, this.settings.leaseSeconds)
          .then((ok) => {
            leased &&= ok;
          })
          .catch(() => undefined); // a failed renewal proves nothing; the lease still runs
      },
      Math.max(500, (this.settings.leaseSeconds * 1000) / 3),
    );
    try {
      if (
        run.destination_id !== null &&
        !(await this.destinations.exists(customer, run.destination_id))
      ) {
        const message = `destination ${run.destination_id} no longer exists`;
        await this.replays.fail(customer, run.id, message);
        this.log.error({ ...context, err: message }, 'replay run failed');
        return 'failed';
      }
      const lane = await this.pushback.state(run.customer_id);
      if (lane.held) {
        return await this.yieldHeld(run, owner, lane, context);
      }
      const left = remainingPartitions(run.bounds, run.positions);
      this.log.info(
        {
          ...context,
          owner,
          attempt: run.attempts,
          partitions: left.map(
            (p) => `${p.topic ? `${p.topic}:` : ''}${p.partition}:${p.position}-${p.to}`,
          ),
        },
        'replay run started',
      );
      const scope = { customerId: run.customer_id, resource: run.resource };
      const extraHeaders = replayHeaders(run.destination_id);
      const onPage = async (page: RangePage, topic: string | undefined): Promise<boolean> => {
        if (!leased) {
          return false;
        }
        const copies: SourceEvent[] = [];
        let undecodable = 0;
        for (const message of page.messages) {
          if (!keyBelongsTo(message.key, scope)) {
            continue;
          }
          const decoded = await this.codec.decode(message.value);
          if (!decoded.ok) {
            if (decoded.error.retriable) {
              throw decoded.error; // registry unreachable: try the page again later
            }
            undecodable += 1;
            continue;
          }
          if (eventMatches(decoded.event, scope)) {
            copies.push(replayCopy(decoded.event));
          }
        }
        if (copies.length > 0) {
          const now = await this.pushback.state(run.customer_id);
          if (now.held) {
            pushedBack.lane = now;
            return false; // not published, not checkpointed: read again once the lanes drained
          }
          await this.gate.waitForRoom(signal);
          if (signal.aborted) {
            interrupted = true;
            return false; // not published, not checkpointed: the next attempt reads it again
          }
          // Copies go to the bulk lane, which yields to everyone's live events.
          await this.publish(this.topics.bulkFor(topic ?? run.topic), copies, extraHeaders);
        }
        const kept = await this.replays.checkpoint(
          customer,
          run.id,
          owner,
          this.settings.leaseSeconds,
          {
            key: positionKey({ topic, partition: page.partition }),
            position: page.position,
            scanned: page.messages.length,
            matched: copies.length,
            published: copies.length,
            undecodable,
          },
        );
        this.metrics.replayMessages.inc({ ...labels, outcome: 'scanned' }, page.messages.length);
        this.metrics.replayMessages.inc({ ...labels, outcome: 'matched' }, copies.length);
        this.metrics.replayMessages.inc({ ...labels, outcome: 'published' }, copies.length);
        this.metrics.replayMessages.inc({ ...labels, outcome: 'undecodable' }, undecodable);
        if (!kept) {
          leased = false;
          return false;
        }
        this.failures.delete(run.id);
        pages += 1;
        if (pages % this.settings.logEveryPages === 0) {
          this.log.info(
            { ...context, partition: page.partition, position: page.position, pages },
            'replay progress',
          );
        }
        return !stopping();
      };
      // One topic after the other (a replay by resource: live, then bulk), each with its own
      // throw-away consumer group; partitions whose bounds name no topic are the run's topic.
      let outcome: 'done' | 'stopped' = 'done';
      for (const [topic, partitions] of byTopic(left)) {
        if (stopping()) {
          outcome = 'stopped'; // shutdown between two topics: the next one is read after resuming
          break;
        }
        const groupId = `${this.topics.prefix}.replay.${run.id}.${randomBytes(3).toString('hex')}`;
        outcome = await new TopicRangeReader(
          this.kafka,
          groupId,
          topic ?? run.topic,
          partitions,
        ).read((page) => onPage(page, topic), signal);
        if (outcome === 'stopped' || !leased || interrupted || pushedBack.lane) {
          break;
        }
      }
      if (!leased) {
        this.log.warn(context, 'replay lease lost or run cancelled; stopped');
        return 'lease_lost';
      }
      if (pushedBack.lane) {
        return await this.yieldHeld(run, owner, pushedBack.lane, context);
      }
      if (outcome === 'stopped' || interrupted) {
        await this.replays.release(customer, run.id, owner, 0, null);
        this.log.info(context, 'replay run handed back (shutdown); it resumes from its checkpoint');
        return 'stopped';
      }
      if (!(await this.replays.finish(customer, run.id, owner))) {
        this.log.warn(context, 'replay finished but its lease was lost or it was cancelled');
        return 'lease_lost';
      }
      const row = await this.replays.get(customer, run.id);
      this.log.info(
        {
          ...context,
          scanned: Number(row?.messages_scanned ?? 0),
          matched: Number(row?.messages_matched ?? 0),
          published: Number(row?.messages_published ?? 0),
          undecodable: Number(row?.messages_undecodable ?? 0),
        },
        'replay run done',
      );
      return 'done';
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (signal.aborted || stopping()) {
        await this.replays.release(customer, run.id, owner, 0, null).catch(() => undefined);
        this.log.info(context, 'replay run interrupted by shutdown; handed back');
        return 'stopped';
      }
      const attempts = (this.failures.get(run.id) ?? 0) + 1;
      this.failures.set(run.id, attempts);
      const wait = backoffMs(attempts);
      await this.replays
        .release(customer, run.id, owner, wait / 1000, message.slice(0, 2000))
        .catch(() => undefined);
      this.log.error(
        { ...context, err: message, attempts, retryInMs: wait },
        'replay attempt failed; the run resumes from its checkpoint later',
      );
      return 'retry';
    } finally {
      clearInterval(renew);
    }
  }

  /** Push-back: hands the run back (still running, no error), claimable after the recheck delay. */
  private async yieldHeld(
    run: ReplayRunRow,
    owner: string,
    lane: LaneState,
    context: Record<string, unknown>,
  ): Promise<ReplayOutcome> {
    await this.replays.release(
      customerScope(run.customer_id),
      run.id,
      owner,
      PUSHBACK_RECHECK_MS / 1000,
      null,
    );
    this.pushback.noteYield(lane, 'replay', { runId: run.id, resource: run.resource });
    this.log.debug({ ...context, waiting: lane.waiting }, 'replay run held back (push-back)');
    return 'held';
  }

  /** Copies as Kafka messages (same key, Avro value, the usual headers plus the target). */
  private async publish(
    topic: string,
    events: SourceEvent[],
    extraHeaders: Record<string, string>,
  ): Promise<void> {
    for (let i = 0; i < events.length; i += PUBLISH_CHUNK) {
      const chunk = events.slice(i, i + PUBLISH_CHUNK);
      // A copy too large for today's event limit (written before it existed) is counted and
      // left out, so the run goes on past it.
      const encoded = await Promise.all(
        chunk.map(async (event): Promise<OutgoingMessage | undefined> => {
          try {
            const message = await this.producer.toMessage(topic, event);
            return { ...message, headers: { ...message.headers, ...extraHeaders } };
          } catch (error) {
            if (error instanceof EventTooLargeError) {
              countRefusedEvent(this.metrics, this.log, error, event);
              return undefined;
            }
            throw error;
          }
        }),
      );
      const messages = encoded.filter((m): m is OutgoingMessage => m !== undefined);
      await this.producer.publishRaw(topic, messages);
      const first = chunk[0] as SourceEvent;
      this.metrics.eventsPublished.inc(
        {
          customer_id: first.customerId,
          source: first.source,
          resource: first.resource,
          origin: 'replay',
        },
        messages.length,
      );
    }
  }
}

/** Remaining partitions grouped by their bounds' topic (undefined: the run's own), in order. */
function byTopic(left: RemainingPartition[]): Map<string | undefined, RemainingPartition[]> {
  const groups = new Map<string | undefined, RemainingPartition[]>();
  for (const p of left) {
    groups.set(p.topic, [...(groups.get(p.topic) ?? []), p]);
  }
  return groups;
}

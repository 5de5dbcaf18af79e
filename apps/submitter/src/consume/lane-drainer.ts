import {
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { DestinationContext } from '@raise-sync/destinations';
import { DEAD_LETTER_HEADERS } from '@raise-sync/shared/kafka';
import { EventCodec, type ConsumedMessage } from '@raise-sync/shared/kafka';
import { PinoLogger } from 'nestjs-pino';
import { customerScope } from '@raise-sync/shared/state';
import { UnroutableMessages } from '../dead-letters/unroutable-messages.service';
import { DeliveryEngine, type WorkItem } from '../delivery/delivery-engine.service';
import { DeliveryLanes, type LaneView } from '../delivery/delivery-lanes.service';
import { DestinationDirectory } from '../delivery/destination-directory.service';
import { LaneRepository } from '../delivery/lane.repository';
import { RecordCompletion } from '../delivery/record-completion.service';
import { ErasedDonors } from '../delivery/erased-donors.service';
import type { SubmitterConfig } from '../submitter.config';

const TICK_MS = 250;
/** Lanes this replica drains at the same time. */
const PARALLEL_LANES = 8;
/**
 * A lane's lease, renewed before every batch: a replica that dies holding it (kill -9) keeps
 * its lane from the others for at most this long.
 */
const LEASE_MS = 15_000;
/** A drain pass gives the lane up after this long (renewing nothing), so lanes take turns. */
const PASS_MS = 20_000;
/** The time one batch of a lane may take at an HTTP destination. */
const BATCH_BUDGET_MS = 5000;
/** Most events one lane batch takes (their payloads are held in memory together). */
const MAX_BATCH = 1000;

/**
 * Drains the lanes: events parked for a destination (its breaker open, or it had no time for
 * them in a chunk) are delivered oldest first at the destination's own pace, away from the
 * source partitions, so no other customer waits on them. An open breaker gets one probe when its
 * probe is due; the first success closes it and the lane flows on its own. A replica takes a
 * lane's lease before draining it, so one lane is drained by one replica at a time, in order.
 */
@Injectable()
export class LaneDrainer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private stopping = false;
  private readonly running = new Map<string, Promise<void>>();
  private readonly keyConcurrency: number;

  constructor(
    private readonly repository: LaneRepository,
    private readonly lanes: DeliveryLanes,
    private readonly engine: DeliveryEngine,
    private readonly directory: DestinationDirectory,
    private readonly completion: RecordCompletion,
    private readonly erasedDonors: ErasedDonors,
    private readonly codec: EventCodec,
    private readonly unroutable: UnroutableMessages,
    private readonly log: PinoLogger,
    config: ConfigService<SubmitterConfig, true>,
  ) {
    this.log.setContext(LaneDrainer.name);
    this.keyConcurrency = config.get('submitter', { infer: true }).keyConcurrency;
  }

  /**
   * Events taken per batch: as many rounds of the destination's concurrency as its recent write
   * time fits into the batch budget (a fast destination drains in large batches, a slow one does
   * not rewrite events it has no time for); the warehouse takes a batch in one write.
   */
  private batchFor(ctx: DestinationContext): number {
    if (ctx.kind === 'warehouse') {
      return MAX_BATCH;
    }
    const typical = this.engine.typicalWriteMs(ctx.destinationId);
    const rounds =
      typical === undefined ? 4 : Math.max(1, Math.floor(BATCH_BUDGET_MS / Math.max(typical, 1)));
    return Math.min(MAX_BATCH, this.keyConcurrency * rounds);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await Promise.allSettled([...this.running.values()]);
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopping) {
      return;
    }
    this.ticking = true;
    try {
      const now = Date.now();
      for (const lane of await this.lanes.refresh()) {
        if (this.running.size >= PARALLEL_LANES) {
          break;
        }
        if (
          this.running.has(lane.destinationId) ||
          this.lanes.pacedUntil(lane.destinationId) > now ||
          (lane.open && (lane.nextProbeAt?.getTime() ?? 0) > now)
        ) {
          continue;
        }
        const run = this.drain(lane)
          .catch((error: unknown) =>
            this.log.error(
              { err: error, destinationId: lane.destinationId },
              'lane drain failed; tried again',
            ),
          )
          .finally(() => this.running.delete(lane.destinationId));
        this.running.set(lane.destinationId, run);
      }
    } catch (error) {
      this.log.warn({ err: error }, 'lane refresh failed');
    } finally {
      this.ticking = false;
    }
  }

  private async drain(lane: LaneView): Promise<void> {
    const ctx = await this.directory.byId(lane.destinationId);
    if (!ctx || !ctx.enabled || ctx.customerId !== lane.customerId) {
      return; // a disabled destination's lane waits until it is enabled again (or removed)
    }
    const claim = await this.lanes.claim(ctx, LEASE_MS);
    if (!claim) {
      return;
    }
    try {
      if (claim.open) {
        if ((claim.nextProbeAt?.getTime() ?? 0) > Date.now()) {
          return;
        }
        const probe = await this.take(ctx, 1);
        if (probe.length > 0) {
          await this.engine.deliver(ctx, probe, BATCH_BUDGET_MS);
        }
        if (this.lanes.isOpen(ctx.destinationId)) {
          return;
        }
      }
      const until = Date.now() + PASS_MS;
      while (!this.stopping && Date.now() < until && !this.lanes.isOpen(ctx.destinationId)) {
        if (!(await this.lanes.claim(ctx, LEASE_MS))) {
          return;
        }
        const items = await this.take(ctx, this.batchFor(ctx));
        if (items.length === 0) {
          return;
        }
        const summary = await this.engine.deliver(ctx, items, BATCH_BUDGET_MS);
        if (summary.pacedUntil > 0) {
          this.lanes.notePaced(ctx.destinationId, summary.pacedUntil);
          return;
        }
        if (summary.settled === 0) {
          return; // nothing moved (a slow pass): look again at the next tick
        }
      }
    } finally {
      await this.lanes.release(ctx);
    }
  }

  /** The oldest parked events of the lane as work items (completed like any retried event). */
  private async take(ctx: DestinationContext, limit: number): Promise<WorkItem[]> {
    const scope = customerScope(ctx.customerId);
    const rows = await this.repository.parkedEvents(scope, ctx.destinationId, limit);
    // The lane keeps its order: it stops at the first event that may not be sent again yet.
    const notYet = rows.findIndex((r) => !r.ready);
    const items: WorkItem[] = [];
    for (const row of notYet < 0 ? rows : rows.slice(0, notYet)) {
      const headers = row.headers ?? {};
      const message: ConsumedMessage = {
        topic: headers[DEAD_LETTER_HEADERS.originalTopic] ?? '',
        partition: Number(headers[DEAD_LETTER_HEADERS.originalPartition] ?? -1),
        offset: headers[DEAD_LETTER_HEADERS.originalOffset] ?? '',
        key: row.message_key === null ? null : Buffer.from(row.message_key),
        value: row.payload,
        headers,
        timestamp: String(new Date(row.first_failed_at).getTime()),
      };
      const decoded = await this.codec.decode(row.payload);
      if (!decoded.ok) {
        if (decoded.error.retriable) {
          throw decoded.error; // e.g. the registry is down: the lane waits
        }
        await this.unroutable.deadLetter(message, {
          reason: decoded.error.reason,
          detail: decoded.error.message,
          customerId: ctx.customerId,
        });
        await this.engine.dropRetry(scope, ctx.destinationId, row.event_id, 'dead_lettered');
        continue;
      }
      if (decoded.event.customerId !== ctx.customerId) {
        await this.unroutable.deadLetter(message, {
          reason: 'destination_mismatch',
          detail: `lane of destination ${ctx.destinationId} holds an event of customer ${decoded.event.customerId}`,
          customerId: decoded.event.customerId,
          event: decoded.event,
        });
        await this.engine.dropRetry(scope, ctx.destinationId, row.event_id, 'dead_lettered');
        continue;
      }
      items.push({
        event: decoded.event,
        message,
        attemptsMade: row.attempt,
        firstFailedAt: new Date(row.first_failed_at),
        fromRetry: true,
        fromLane: true,
      });
    }
    // Donors not read within the batch's budget keep their events parked (pacing, no attempt).
    await this.erasedDonors.apply(ctx.customerId, items);
    await this.completion.complete(ctx.customerId, items, Date.now() + BATCH_BUDGET_MS);
    return items;
  }
}

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { DestinationContext } from '@raise-sync/destinations';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { customerScope } from '@raise-sync/shared/state';
import { LaneRepository } from './lane.repository';
import type { SubmitterConfig } from '../submitter.config';

/** Why an event waits in its destination's lane instead of being sent now. */
export type ParkReason = 'breaker_open' | 'slow_destination' | 'slow_source' | 'lane_waiting';

/** One destination's lane as the drainer sees it. */
export interface LaneView {
  destinationId: string;
  customerId: string;
  waiting: number;
  open: boolean;
  nextProbeAt: Date | null;
}

interface KnownLane {
  customerId: string;
  open: boolean;
  waiting: number;
}

/**
 * Owner of the destination breakers (table destination_breakers) and of what this replica knows
 * about every destination's lane (retry entries with parked_at set). The delivery engine asks it
 * whether new events for a destination must wait in the lane, and tells it about every real
 * delivery result: SUBMITTER_BREAKER_FAILURES consecutive retriable failures open the breaker;
 * while open, events are parked without an attempt and one probe at a time is sent at growing
 * intervals (SUBMITTER_BREAKER_PROBE_MS doubling up to SUBMITTER_BREAKER_PROBE_MAX_MS); the first
 * success closes it. The state lives in PostgreSQL, so every replica and the console see it; a
 * lease on the row lets one replica at a time drain a lane, which keeps its order.
 */
@Injectable()
export class DeliveryLanes {
  /** This replica, as lease owner. */
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly lanes = new Map<string, KnownLane>();
  private readonly failures = new Map<string, number>();
  /** A lane paced by its destination (429, used-up budget) waits until then on this replica. */
  private readonly notBefore = new Map<string, number>();
  private readonly threshold: number;
  private readonly probeMs: number;
  private readonly probeMaxMs: number;

  constructor(
    private readonly repository: LaneRepository,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    config: ConfigService<SubmitterConfig, true>,
    private readonly log: PinoLogger,
  ) {
    const { breaker } = config.get('submitter', { infer: true });
    this.threshold = breaker.failures;
    this.probeMs = breaker.probeMs;
    this.probeMaxMs = breaker.probeMaxMs;
    this.log.setContext('lanes');
  }

  /** Why a new event for this destination must wait in its lane, or null to send it now. */
  holdReason(destinationId: string): ParkReason | null {
    const lane = this.lanes.get(destinationId);
    if (!lane) {
      return null;
    }
    if (lane.open) {
      return 'breaker_open';
    }
    return lane.waiting > 0 ? 'lane_waiting' : null;
  }

  isOpen(destinationId: string): boolean {
    return this.lanes.get(destinationId)?.open === true;
  }

  /** Events were just parked here (other replicas learn it at their next refresh). */
  noteParked(ctx: DestinationContext, count: number): void {
    const lane = this.lanes.get(ctx.destinationId) ?? {
      customerId: ctx.customerId,
      open: false,
      waiting: 0,
    };
    lane.waiting += count;
    this.lanes.set(ctx.destinationId, lane);
  }

  pacedUntil(destinationId: string): number {
    return this.notBefore.get(destinationId) ?? 0;
  }

  notePaced(destinationId: string, until: number): void {
    this.notBefore.set(destinationId, Math.max(until, this.pacedUntil(destinationId)));
  }

  /** A delivery the destination took: resets the failure count and closes an open breaker. */
  async succeeded(ctx: DestinationContext): Promise<void> {
    this.failures.delete(ctx.destinationId);
    if (this.isOpen(ctx.destinationId)) {
      await this.close(ctx);
    }
  }

  /**
   * A retriable failure of the destination (not a refusal of one record, not pacing). While the
   * breaker is open only a probe's failure counts: it pushes the next probe further out.
   */
  async failed(ctx: DestinationContext, error: string, probe: boolean): Promise<void> {
    if (this.isOpen(ctx.destinationId)) {
      if (probe) {
        await this.probeFailed(ctx, error);
      }
      return;
    }
    const n = (this.failures.get(ctx.destinationId) ?? 0) + 1;
    this.failures.set(ctx.destinationId, n);
    if (n >= this.threshold) {
      this.failures.delete(ctx.destinationId);
      await this.open(ctx, error);
    }
  }

  /**
   * Every lane with waiting events or an open breaker, read from PostgreSQL; also what
   * holdReason answers from until the next refresh.
   */
  async refresh(): Promise<LaneView[]> {
    const rows = await this.repository.lanesAcrossCustomers();
    const views = rows.map((r): LaneView => ({
      destinationId: r.destination_id,
      customerId: r.customer_id,
      waiting: Number(r.waiting),
      open: r.open,
      nextProbeAt: r.next_probe_at,
    }));
    const seen = new Set<string>();
    for (const v of views) {
      seen.add(v.destinationId);
      this.lanes.set(v.destinationId, {
        customerId: v.customerId,
        open: v.open,
        waiting: v.waiting,
      });
    }
    for (const id of [...this.lanes.keys()].filter((k) => !seen.has(k))) {
      this.lanes.delete(id);
    }
    return views;
  }

  /**
   * Takes the lease on a destination's lane for leaseMs (renewing this replica's own lease).
   * Null when another replica holds it.
   */
  async claim(
    ctx: DestinationContext,
    leaseMs: number,
  ): Promise<{ open: boolean; nextProbeAt: Date | null } | null> {
    const row = await this.repository.claim(
      customerScope(ctx.customerId),
      ctx.destinationId,
      this.owner,
      leaseMs,
    );
    return row ? { open: row.state === 'open', nextProbeAt: row.next_probe_at } : null;
  }

  async release(ctx: DestinationContext): Promise<void> {
    await this.repository.release(customerScope(ctx.customerId), ctx.destinationId, this.owner);
  }

  private async open(ctx: DestinationContext, error: string): Promise<void> {
    await this.repository.openBreaker(
      customerScope(ctx.customerId),
      ctx.destinationId,
      this.probeMs,
      error,
    );
    this.setOpen(ctx, true);
    this.metrics.breakerTransitions.inc({
      customer_id: ctx.customerId,
      destination: ctx.name,
      transition: 'opened',
    });
    this.log.warn(
      { customerId: ctx.customerId, destination: ctx.name, failures: this.threshold, error },
      'destination breaker opened: its events wait in its lane until a probe succeeds',
    );
  }

  private async probeFailed(ctx: DestinationContext, error: string): Promise<void> {
    const nextProbeMs = await this.repository.probeFailed(
      customerScope(ctx.customerId),
      ctx.destinationId,
      this.probeMs,
      this.probeMaxMs,
      error,
    );
    this.metrics.breakerTransitions.inc({
      customer_id: ctx.customerId,
      destination: ctx.name,
      transition: 'probe_failed',
    });
    this.log.info(
      {
        customerId: ctx.customerId,
        destination: ctx.name,
        nextProbeMs,
      },
      'breaker probe failed; destination still unavailable',
    );
  }

  private async close(ctx: DestinationContext): Promise<void> {
    await this.repository.closeBreaker(customerScope(ctx.customerId), ctx.destinationId);
    this.setOpen(ctx, false);
    this.metrics.breakerTransitions.inc({
      customer_id: ctx.customerId,
      destination: ctx.name,
      transition: 'closed',
    });
    this.log.info(
      { customerId: ctx.customerId, destination: ctx.name },
      'destination breaker closed: its lane drains oldest first',
    );
  }

  private setOpen(ctx: DestinationContext, open: boolean): void {
    const lane = this.lanes.get(ctx.destinationId) ?? {
      customerId: ctx.customerId,
      open,
      waiting: 0,
    };
    lane.open = open;
    this.lanes.set(ctx.destinationId, lane);
  }
}

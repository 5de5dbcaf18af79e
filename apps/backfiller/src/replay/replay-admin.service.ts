import { DestinationRepository } from '@raise-sync/shared/state';
import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { allSourceResources, SOURCE_RESOURCES } from '@raise-sync/shared/events';
import { KafkaConnection, type Topics } from '@raise-sync/shared/kafka';
import { BulkPushback, TOPICS, isUuid } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import {
  CustomerRepository,
  customerScope,
  type CustomerEntity,
  type ReplayPartitionBounds,
} from '@raise-sync/shared/state';
import { BoundsError, resolveBounds, type OffsetSide } from './replay-bounds';
import type { StartReplayDto } from './replay-admin.dto';
import { ReplayRunRepository } from './replay-run.repository';
import { replayFinished, toReplayView, type ReplayView } from './replay-view';

const sourceOf = (resource: string): 'raise' | 'vomo' =>
  (SOURCE_RESOURCES.vomo as readonly string[]).includes(resource) ? 'vomo' : 'raise';

/** Requests, lists, shows and cancels topic replays for the admin API (and the CLI). */
@Injectable()
export class ReplayAdminService {
  constructor(
    private readonly customers: CustomerRepository,
    private readonly destinations: DestinationRepository,
    private readonly replays: ReplayRunRepository,
    private readonly kafka: KafkaConnection,
    @Inject(TOPICS) private readonly topics: Topics,
    private readonly pushback: BulkPushback,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('replay-admin');
  }

  /**
   * Resolves the bounds to offsets now (times through the broker's time index; the end defaults
   * to the high-water marks) and stores a pending run. A replay by resource reads the resource's
   * live topic and its bulk topic (backfilled and reconciled history), each resolved the same
   * way; `topic` names one topic. 400 for bad or contradictory bounds, offsets without a topic
   * (they mean nothing across two topics), or an unknown topic; 404 for an unknown customer or a
   * destination that is not the customer's; 409 for an offboarded customer.
   */
  async start(customerId: string, dto: StartReplayDto): Promise<ReplayView> {
    const customer = await this.requireCustomer(customerId);
    if (customer.status === 'offboarded') {
      throw new ConflictException(`customer ${customerId} is offboarded`);
    }
    if (dto.destinationId !== undefined) {
      const destination = await this.destinations.find(
        customerScope(customerId),
        dto.destinationId,
      );
      if (!destination) {
        throw new NotFoundException(
          `destination ${dto.destinationId} does not exist for customer ${customerId}`,
        );
      }
    }
    const { topic, source, resource } = this.topicOf(dto);
    // By resource: the live topic first, then the bulk lane, where backfills and reconciliation
    // put history. One run reads both (the copies go to the bulk topic either way).
    const topics = dto.topic !== undefined ? [topic] : [topic, this.topics.bulkFor(topic)];
    const offsetsGiven = [dto.fromOffset, dto.fromOffsets, dto.toOffset, dto.toOffsets].some(
      (o) => o !== undefined,
    );
    if (topics.length > 1 && offsetsGiven) {
      throw new BadRequestException(
        `offsets are positions in one topic, and a replay by resource reads two (${topics.join(', ')}): give topic with offsets, or times`,
      );
    }
    if (dto.from !== undefined && (dto.fromOffset !== undefined || dto.fromOffsets !== undefined)) {
      throw new BadRequestException('give the start as a time (from) or as offsets, not both');
    }
    if (dto.to !== undefined && (dto.toOffset !== undefined || dto.toOffsets !== undefined)) {
      throw new BadRequestException('give the end as a time (to) or as offsets, not both');
    }
    const fromTime = dto.from !== undefined ? new Date(dto.from) : null;
    const toTime = dto.to !== undefined ? new Date(dto.to) : null;
    if (fromTime && toTime && toTime.getTime() <= fromTime.getTime()) {
      throw new BadRequestException('to must be after from');
    }
    const resolved = { bounds: [] as ReplayPartitionBounds[], total: 0 };
    for (const read of topics) {
      const one = await this.resolveTopic(read, dto, fromTime, toTime);
      // Bounds name their topic only when the run reads several (a one-topic run keeps the
      // shape every earlier run has).
      resolved.bounds.push(
        ...(topics.length > 1 ? one.bounds.map((b) => ({ topic: read, ...b })) : one.bounds),
      );
      resolved.total += one.total;
    }
    const id = await this.replays.create(customerScope(customerId), {
      topic,
      source,
      resource,
      destinationId: dto.destinationId ?? null,
      fromTime,
      toTime,
      bounds: resolved.bounds,
      total: resolved.total,
      trigger: dto.trigger ?? 'admin',
      requestedBy: dto.requestedBy ?? null,
    });
    this.log.info(
      {
        customerId,
        runId: id,
        topic,
        topics,
        resource,
        destinationId: dto.destinationId ?? null,
        from: fromTime?.toISOString() ?? null,
        to: toTime?.toISOString() ?? null,
        bounds: resolved.bounds,
        offsetsTotal: resolved.total,
        trigger: dto.trigger ?? 'admin',
        requestedBy: dto.requestedBy ?? null,
      },
      'replay requested',
    );
    return this.get(id);
  }

  async list(customerId: string): Promise<ReplayView[]> {
    await this.requireCustomer(customerId);
    const rows = await this.replays.list(customerScope(customerId));
    const held = rows.some((r) => !replayFinished(r)) ? await this.heldView(customerId) : null;
    return rows.map((row) => toReplayView(row, held));
  }

  async get(runId: string): Promise<ReplayView> {
    const row = isUuid(runId) ? await this.replays.findAcrossCustomers(runId) : null;
    if (!row) {
      throw new NotFoundException(`replay run ${runId} does not exist`);
    }
    return toReplayView(row, replayFinished(row) ? null : await this.heldView(row.customer_id));
  }

  /** One topic's bounds: times through the broker's time index, offsets as given. */
  private async resolveTopic(
    topic: string,
    dto: StartReplayDto,
    fromTime: Date | null,
    toTime: Date | null,
  ): Promise<ReturnType<typeof resolveBounds>> {
    const offsets = await this.kafka.topicOffsets(topic);
    const byTime = async (at: Date | null): Promise<Record<string, number> | undefined> =>
      at
        ? Object.fromEntries(
            (await this.kafka.topicOffsetsAt(topic, at.getTime())).map((p) => [
              String(p.partition),
              p.offset,
            ]),
          )
        : undefined;
    const side = (
      all: number | undefined,
      byPartition: Record<string, number> | undefined,
      fromTimestamp: Record<string, number> | undefined,
    ): OffsetSide => ({
      ...(all !== undefined ? { all } : {}),
      ...(byPartition !== undefined ? { byPartition } : {}),
      ...(fromTimestamp !== undefined ? { fromTimestamp } : {}),
    });
    try {
      return resolveBounds(
        offsets,
        side(dto.fromOffset, dto.fromOffsets, await byTime(fromTime)),
        side(dto.toOffset, dto.toOffsets, await byTime(toTime)),
      );
    } catch (error) {
      if (error instanceof BoundsError) {
        throw new BadRequestException(error.message);
      }
      throw error;
    }
  }

  /** The customer's push-back, when its lanes hold its bulk work back right now. */
  private async heldView(customerId: string): Promise<ReplayView['pushback']> {
    const lane = await this.pushback.state(customerId);
    return lane.held ? { waiting: lane.waiting, limit: lane.limit } : null;
  }

  async cancel(runId: string): Promise<ReplayView> {
    const current = await this.get(runId);
    if (!(await this.replays.cancel(customerScope(current.customerId), runId))) {
      throw new ConflictException(`replay run ${runId} is already ${current.status}`);
    }
    this.log.info(
      { customerId: current.customerId, runId, topic: current.topic },
      'replay run cancelled',
    );
    return this.get(runId);
  }

  /**
   * The topic asked for and its source and resource, from `topic` or `resource` (+ `source`:
   * then the live topic, which `start` reads together with its bulk topic).
   */
  private topicOf(dto: StartReplayDto): { topic: string; source: string; resource: string } {
    // Live topics first (a resource alone finds its live topic); bulk topics hold backfills.
    const known = [
      ...allSourceResources().map((s) => ({
        ...s,
        topic: this.topics.sourceEvents(s.source, s.resource),
      })),
      ...allSourceResources().map((s) => ({
        ...s,
        topic: this.topics.bulkEvents(s.source, s.resource),
      })),
    ];
    if (dto.topic !== undefined) {
      const match = known.find((k) => k.topic === dto.topic);
      if (!match) {
        throw new BadRequestException(
          `topic '${dto.topic}' is not a source topic of this deployment (${known.map((k) => k.topic).join(', ')})`,
        );
      }
      if (
        (dto.resource !== undefined && dto.resource !== match.resource) ||
        (dto.source !== undefined && dto.source !== match.source)
      ) {
        throw new BadRequestException(
          `topic '${dto.topic}' carries ${match.source}.${match.resource}, not what source/resource say`,
        );
      }
      return match;
    }
    if (dto.resource === undefined) {
      throw new BadRequestException('give the topic, or the resource (and source) it carries');
    }
    const source = dto.source ?? sourceOf(dto.resource);
    const match = known.find((k) => k.source === source && k.resource === dto.resource);
    if (!match) {
      throw new BadRequestException(
        `resource '${dto.resource}' does not come from source '${source}'`,
      );
    }
    return match;
  }

  private async requireCustomer(customerId: string): Promise<CustomerEntity> {
    const customer = isUuid(customerId)
      ? await this.customers.get(customerScope(customerId))
      : null;
    if (!customer) {
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
    return customer;
  }
}

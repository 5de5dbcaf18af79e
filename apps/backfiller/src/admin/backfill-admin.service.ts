import {
  BadRequestException,
  ConflictException,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { SOURCE_RESOURCES, type Resource } from '@raise-sync/shared/events';
import { BulkPushback, isUuid } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import {
  CustomerRepository,
  type BackfillTrigger,
  type CustomerEntity,
  type SourceName,
  customerScope,
} from '@raise-sync/shared/state';
import { etaSeconds, percentDone } from '../progress/progress-math';
import { ProgressTracker } from '../progress/progress-tracker.service';
import type { PushbackView, RangeView, RunView } from '../progress/run-view';
import { BackfillRepository, type RangeRow, type RunRow } from '../state/backfill.repository';
import type { StartBackfillDto } from './backfill-admin.dto';

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

/** The source a resource comes from (user: VOMO, the rest: Raise). */
function sourceOf(resource: string): SourceName {
  return (SOURCE_RESOURCES.vomo as readonly string[]).includes(resource) ? 'vomo' : 'raise';
}

/** Requests, lists, shows and cancels backfill runs for the admin API (and through it the CLI). */
@Injectable()
export class BackfillAdminService {
  constructor(
    private readonly customers: CustomerRepository,
    private readonly backfills: BackfillRepository,
    private readonly tracker: ProgressTracker,
    private readonly pushback: BulkPushback,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('backfill-admin');
  }

  /**
   * One pending run per requested resource. 400 for a resource of another source or a source the
   * customer has no token for, or a window that ends before it starts; 404 for an unknown
   * customer; 409 for an offboarded customer or a resource that already has a run in progress.
   */
  async start(customerId: string, dto: StartBackfillDto): Promise<RunView[]> {
    const customer = await this.requireCustomer(customerId);
    if (customer.status === 'offboarded') {
      throw new ConflictException(`customer ${customerId} is offboarded`);
    }
    if (dto.resource !== undefined && dto.resources !== undefined) {
      throw new BadRequestException('give either resource or resources, not both');
    }
    const from = dto.modifiedFrom ? new Date(dto.modifiedFrom) : null;
    const to = dto.modifiedTo ? new Date(dto.modifiedTo) : null;
    if (from && to && to.getTime() <= from.getTime()) {
      throw new BadRequestException('modifiedTo must be after modifiedFrom');
    }
    const credentials = await this.customers.credentials(customerScope(customerId));
    const withToken = (['raise', 'vomo'] as const).filter((s) => credentials[s]?.apiToken);
    const requested: string[] =
      dto.resource !== undefined
        ? [dto.resource]
        : (dto.resources ??
          (dto.source ? [dto.source] : withToken).flatMap((s) => [...SOURCE_RESOURCES[s]]));
    if (requested.length === 0) {
      throw new BadRequestException(
        `customer ${customerId} has no source API token to backfill from`,
      );
    }
    const targets: Array<{ source: SourceName; resource: Resource }> = [];
    for (const resource of [...new Set(requested)]) {
      const source = dto.source ?? sourceOf(resource);
      if (!(SOURCE_RESOURCES[source] as readonly string[]).includes(resource)) {
        throw new BadRequestException(
          `resource '${resource}' does not come from source '${source}'`,
        );
      }
      if (!credentials[source]?.apiToken) {
        throw new BadRequestException(
          `customer ${customerId} has no ${source} API token; store one through ingest's admin API first`,
        );
      }
      targets.push({ source, resource: resource as Resource });
    }
    const trigger: BackfillTrigger = dto.trigger ?? 'admin';
    const outcome = await this.backfills.requestRuns(
      customerScope(customerId),
      targets,
      from,
      to,
      trigger,
    );
    if ('busy' in outcome) {
      const { busy } = outcome;
      throw new ConflictException(
        `a backfill of ${busy.resource} is already ${busy.status} for this customer (run ${busy.id}); cancel it first`,
      );
    }
    const ids = outcome.created;
    this.log.info(
      {
        customerId,
        runIds: ids,
        resources: targets.map((t) => `${t.source}.${t.resource}`),
        modifiedFrom: iso(from),
        modifiedTo: iso(to),
        trigger,
      },
      'backfill requested',
    );
    return Promise.all(ids.map((id) => this.get(id, false)));
  }

  async list(customerId: string): Promise<RunView[]> {
    await this.requireCustomer(customerId);
    const rows = await this.backfills.listRuns(customerScope(customerId));
    const held = rows.some(isActive) ? await this.heldView(customerId) : null;
    return rows.map((row) => this.toView(row, held));
  }

  async get(runId: string, withRanges = true): Promise<RunView> {
    const row = isUuid(runId) ? await this.backfills.findRunAcrossCustomers(runId) : null;
    if (!row) {
      throw new NotFoundException(`backfill run ${runId} does not exist`);
    }
    const view = this.toView(row, isActive(row) ? await this.heldView(row.customer_id) : null);
    if (withRanges) {
      const ranges = await this.backfills.ranges(customerScope(row.customer_id), runId);
      view.rangesDetail = ranges.map(rangeView);
    }
    return view;
  }

  async cancel(runId: string): Promise<RunView> {
    const current = await this.get(runId, false);
    if (!(await this.backfills.cancelRun(customerScope(current.customerId), runId))) {
      throw new ConflictException(`backfill run ${runId} is already ${current.status}`);
    }
    this.log.info(
      { customerId: current.customerId, runId, resource: current.resource },
      'backfill run cancelled',
    );
    return this.get(runId);
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

  /** The customer's push-back, when its lanes hold its bulk work back right now. */
  private async heldView(customerId: string): Promise<PushbackView | null> {
    const lane = await this.pushback.state(customerId);
    return lane.held ? { waiting: lane.waiting, limit: lane.limit } : null;
  }

  private toView(row: RunRow, pushback: PushbackView | null): RunView {
    const recordsDone = Number(row.records_done);
    const recordsTotal = row.records_total === null ? null : Number(row.records_total);
    const rate = this.tracker.rateOf({
      id: row.id,
      status: row.status,
      recordsDone,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
    });
    const active = isActive(row);
    return {
      id: row.id,
      customerId: row.customer_id,
      source: row.source,
      resource: row.resource,
      trigger: row.trigger,
      status: row.status,
      modifiedFrom: iso(row.modified_from),
      modifiedTo: iso(row.modified_to),
      requestedAt: row.requested_at.toISOString(),
      startedAt: iso(row.started_at),
      finishedAt: iso(row.finished_at),
      lastError: row.last_error,
      highWater:
        row.high_water_at && row.high_water_id !== null
          ? { at: row.high_water_at.toISOString(), id: row.high_water_id }
          : null,
      progress: {
        recordsDone,
        recordsTotal,
        percent: percentDone(recordsDone, recordsTotal, row.status === 'done'),
        ratePerSecond: rate === null ? null : Math.round(rate * 10) / 10,
        etaSeconds: active
          ? etaSeconds(recordsDone, recordsTotal, rate)
          : row.status === 'done'
            ? 0
            : -1,
        pagesDone: Number(row.pages_done),
        ranges: {
          pending: Number(row.pending),
          running: Number(row.running),
          done: Number(row.done),
          failed: Number(row.failed),
        },
      },
      pushback: active ? pushback : null,
    };
  }
}

const isActive = (row: Pick<RunRow, 'status'>): boolean =>
  row.status === 'pending' || row.status === 'running';

function rangeView(row: RangeRow): RangeView {
  return {
    id: row.id,
    rangeStart: row.range_start,
    rangeEnd: row.range_end,
    cursor: row.cursor,
    status: row.status,
    recordsDone: Number(row.records_done),
    recordsTotal: row.records_total === null ? null : Number(row.records_total),
    pagesDone: Number(row.pages_done),
    leaseOwner: row.lease_owner,
    leaseExpiresAt: iso(row.lease_expires_at),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    lastError: row.last_error,
  };
}

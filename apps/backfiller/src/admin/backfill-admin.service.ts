import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { SecretBox } from '@raise-sync/shared/crypto';
import { SOURCE_RESOURCES, type Resource } from '@raise-sync/shared/events';
import { BulkPushback, PinoLogger } from '@raise-sync/shared/service';
import {
  CustomerEntity,
  CustomerRepository,
  type BackfillTrigger,
  type SourceName,
  customerScope,
} from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';
import { etaSeconds, percentDone } from '../progress/progress-math';
import { ProgressTracker } from '../progress/progress-tracker.service';
import type { PushbackView, RangeStatus, RangeView, RunView } from '../progress/run-view';
import { BackfillStore } from '../state/backfill-store.service';
import type { StartBackfillDto } from './backfill-admin.dto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface RunRow {
  id: string;
  customer_id: string;
  source: string;
  resource: string;
  trigger: string;
  status: RunView['status'];
  modified_from: Date | null;
  modified_to: Date | null;
  requested_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  last_error: string | null;
  records_total: string | null;
  high_water_at: Date | null;
  high_water_id: string | null;
  records_done: string;
  pages_done: string;
  pending: string;
  running: string;
  done: string;
  failed: string;
}

interface RangeRow {
  id: string;
  range_start: string;
  range_end: string | null;
  cursor: string | null;
  status: RangeStatus;
  records_done: string;
  records_total: string | null;
  pages_done: string;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  last_error: string | null;
}

const RUN_SELECT = `
  SELECT r.id, r.customer_id, r.source, r.resource, r.trigger, r.status, r.modified_from, r.modified_to,
         r.requested_at, r.started_at, r.finished_at, r.last_error, r.records_total,
         r.high_water_at, r.high_water_id,
         COALESCE(sum(j.records_done), 0) AS records_done,
         COALESCE(sum(j.pages_done), 0) AS pages_done,
         count(j.id) FILTER (WHERE j.status = 'pending') AS pending,
         count(j.id) FILTER (WHERE j.status = 'running') AS running,
         count(j.id) FILTER (WHERE j.status = 'done') AS done,
         count(j.id) FILTER (WHERE j.status = 'failed') AS failed
    FROM backfill_runs r
    LEFT JOIN backfill_jobs j ON j.run_id = r.id`;

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

/** The source a resource comes from (user: VOMO, the rest: Raise). */
function sourceOf(resource: string): SourceName {
  return (SOURCE_RESOURCES.vomo as readonly string[]).includes(resource) ? 'vomo' : 'raise';
}

/** Requests, lists, shows and cancels backfill runs for the admin API (and through it the CLI). */
@Injectable()
export class BackfillAdminService {
  private readonly customers: CustomerRepository;

  constructor(
    private readonly db: DataSource,
    @Inject(SecretBox) box: SecretBox,
    private readonly store: BackfillStore,
    private readonly tracker: ProgressTracker,
    private readonly pushback: BulkPushback,
    private readonly log: PinoLogger,
  ) {
    this.customers = new CustomerRepository(db, box);
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
    const ids = await this.db.transaction(async (tx) => {
      // One request at a time per customer, so two requests cannot both pass the check below.
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`backfill:${customerId}`]);
      const active = await tx.query<Array<{ id: string; resource: string; status: string }>>(
        `SELECT id, resource, status FROM backfill_runs
          WHERE customer_id = $1 AND status IN ('pending', 'running') AND resource = ANY($2)`,
        [customerId, targets.map((t) => t.resource)],
      );
      const busy = active[0];
      if (busy) {
        throw new ConflictException(
          `a backfill of ${busy.resource} is already ${busy.status} for this customer (run ${busy.id}); cancel it first`,
        );
      }
      const created: string[] = [];
      for (const target of targets) {
        const rows = await tx.query<Array<{ id: string }>>(
          `INSERT INTO backfill_runs (customer_id, source, resource, modified_from, modified_to, trigger, status)
           VALUES ($1, $2, $3, $4, $5, $6, 'pending') RETURNING id`,
          [customerId, target.source, target.resource, from, to, trigger],
        );
        created.push(rows[0]?.id ?? '');
      }
      return created;
    });
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
    const rows = await this.db.query<RunRow[]>(
      `${RUN_SELECT} WHERE r.customer_id = $1 GROUP BY r.id ORDER BY r.requested_at DESC, r.resource`,
      [customerId],
    );
    const held = rows.some(isActive) ? await this.heldView(customerId) : null;
    return rows.map((row) => this.toView(row, held));
  }

  async get(runId: string, withRanges = true): Promise<RunView> {
    const rows = UUID.test(runId)
      ? await this.db.query<RunRow[]>(`${RUN_SELECT} WHERE r.id = $1 GROUP BY r.id`, [runId])
      : [];
    const row = rows[0];
    if (!row) {
      throw new NotFoundException(`backfill run ${runId} does not exist`);
    }
    const view = this.toView(row, isActive(row) ? await this.heldView(row.customer_id) : null);
    if (withRanges) {
      const ranges = await this.db.query<RangeRow[]>(
        `SELECT id, range_start, range_end, cursor, status, records_done, records_total, pages_done,
                lease_owner, lease_expires_at, started_at, finished_at, last_error
           FROM backfill_jobs WHERE run_id = $1 ORDER BY range_start`,
        [runId],
      );
      view.rangesDetail = ranges.map(rangeView);
    }
    return view;
  }

  async cancel(runId: string): Promise<RunView> {
    const current = await this.get(runId, false);
    if (!(await this.store.cancelRun(runId))) {
      throw new ConflictException(`backfill run ${runId} is already ${current.status}`);
    }
    this.log.info(
      { customerId: current.customerId, runId, resource: current.resource },
      'backfill run cancelled',
    );
    return this.get(runId);
  }

  private async requireCustomer(customerId: string): Promise<CustomerEntity> {
    const customer = UUID.test(customerId)
      ? await this.db.getRepository(CustomerEntity).findOneBy({ id: customerId })
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

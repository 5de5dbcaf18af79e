import { isUuid } from '@raise-sync/shared/service';
import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import {
  CustomerRepository,
  type CustomerScope,
  type DiscrepancyState,
  type ReconciliationKind,
  customerScope,
} from '@raise-sync/shared/state';
import { planResources } from '../checks/run-support';
import { RunRepository, type DiscrepancyView, type RunView } from '../runs/run.repository';
import { ScheduleRepository, type ScheduleView } from '../schedule/schedule.repository';
import {
  historyBefore,
  isValidTimeZone,
  localDayWindow,
  parseRunAt,
  previousLocalDay,
  WEBHOOK_LOG_LOOKBACK_MS,
  type TimeWindow,
} from '../schedule/windows';
import type { RequestReconciliationDto, UpdateScheduleDto } from './admin.dto';

/** How the counts of the last N finished runs move, measure by measure (oldest first). */
export interface Trend {
  runs: number;
  measures: Record<string, { values: number[]; last: number; mean: number; max: number }>;
}

/**
 * The reconciler's admin API logic: on-demand runs for closed windows, run history with counts
 * and their trend, one run's discrepancies, and the schedules.
 */
@Injectable()
export class ReconciliationAdmin {
  constructor(
    private readonly customers: CustomerRepository,
    private readonly runs: RunRepository,
    private readonly schedules: ScheduleRepository,
  ) {}

  async request(customerId: string, dto: RequestReconciliationDto): Promise<RunView> {
    const customer = await this.requireCustomer(customerId);
    const kind = dto.kind ?? 'window';
    const window = await this.windowFor(customer, kind, dto);
    const resources = dto.resources ? [...new Set(dto.resources)] : null;
    if (resources) {
      try {
        planResources(await this.customers.credentials(customer), resources);
      } catch (error) {
        throw new BadRequestException(error instanceof Error ? error.message : String(error));
      }
    }
    return this.runs.request(customer, {
      kind,
      windowStart: window.start,
      windowEnd: window.end,
      resources,
      trigger: dto.trigger ?? 'admin',
    });
  }

  /** Query values arrive validated (UuidParam, IntQuery, OneOfQuery in the controller). */
  async list(
    customerId: string,
    query: { kind?: ReconciliationKind; limit?: number },
  ): Promise<{ runs: RunView[]; trend: Trend }> {
    const customer = await this.requireCustomer(customerId);
    const runs = await this.runs.list(customer, query.kind ?? null, query.limit ?? 20);
    return { runs, trend: trendOf(runs) };
  }

  async run(
    runId: string,
    query: { offset?: number; limit?: number; state?: DiscrepancyState },
  ): Promise<
    RunView & {
      discrepancies: { total: number; offset: number; limit: number; items: DiscrepancyView[] };
    }
  > {
    const offset = query.offset ?? 0;
    const limit = query.limit ?? 100;
    const state = query.state ?? null;
    const run = await this.runs.getAcrossCustomers(runId);
    if (!run) {
      throw new NotFoundException('unknown reconciliation run');
    }
    const page = await this.runs.discrepancies(customerScope(run.customerId), runId, {
      offset,
      limit,
      state,
    });
    return { ...run, discrepancies: { total: page.total, offset, limit, items: page.items } };
  }

  async schedulesOf(customerId: string): Promise<ScheduleView[]> {
    const customer = await this.requireCustomer(customerId);
    await this.schedules.ensure(customer);
    return this.schedules.list(customer);
  }

  async updateSchedule(customerId: string, dto: UpdateScheduleDto): Promise<ScheduleView> {
    const customer = await this.requireCustomer(customerId);
    if (dto.timezone !== undefined && !isValidTimeZone(dto.timezone)) {
      throw new BadRequestException(`timezone '${dto.timezone}' is not a known IANA time zone`);
    }
    await this.schedules.ensure(customer);
    const updated = await this.schedules.update(customer, dto.kind, {
      cadence: dto.cadence,
      timezone: dto.timezone,
      runAtMinute: dto.runAt === undefined ? undefined : (parseRunAt(dto.runAt) ?? undefined),
      lagHours: dto.lagHours,
      enabled: dto.enabled,
      settings: dto.settings,
      nextRunAt: dto.nextRunAt === undefined ? undefined : new Date(dto.nextRunAt),
    });
    if (!updated) {
      throw new NotFoundException(`the customer has no ${dto.kind} schedule`);
    }
    return updated;
  }

  /** The closed window a request names; every problem is a 400 with the reason. */
  private async windowFor(
    customer: CustomerScope,
    kind: ReconciliationKind,
    dto: RequestReconciliationDto,
  ): Promise<TimeWindow> {
    const now = new Date();
    const zone = await this.schedules.timezone(customer);
    if (dto.date !== undefined && (dto.windowStart !== undefined || dto.windowEnd !== undefined)) {
      throw new BadRequestException('give either date or windowStart/windowEnd, not both');
    }
    let window: TimeWindow;
    if (kind === 'deletion') {
      if (dto.windowStart !== undefined) {
        throw new BadRequestException(
          'deletion runs cover the whole history: give windowEnd (or date) only',
        );
      }
      if (dto.windowEnd !== undefined) {
        window = { start: new Date(0), end: new Date(dto.windowEnd) };
      } else if (dto.date !== undefined) {
        window = { start: new Date(0), end: this.day(dto.date, zone).end };
      } else {
        window = historyBefore(now, zone);
      }
    } else if (kind === 'webhook-log' && dto.date === undefined && dto.windowEnd === undefined) {
      // The delivery log after the schedule's checkpoint; the window bounds a first read only.
      window = { start: new Date(now.getTime() - WEBHOOK_LOG_LOOKBACK_MS), end: now };
    } else if (dto.date !== undefined) {
      window = this.day(dto.date, zone);
    } else if (dto.windowStart !== undefined || dto.windowEnd !== undefined) {
      if (dto.windowStart === undefined || dto.windowEnd === undefined) {
        throw new BadRequestException('windowStart and windowEnd go together');
      }
      window = { start: new Date(dto.windowStart), end: new Date(dto.windowEnd) };
    } else {
      window = previousLocalDay(now, zone);
    }
    if (window.end.getTime() <= window.start.getTime()) {
      throw new BadRequestException('the window must end after it starts');
    }
    if (window.end.getTime() > now.getTime()) {
      throw new BadRequestException(
        `the window ends in the future (${window.end.toISOString()}); only closed windows are reconciled`,
      );
    }
    return window;
  }

  private day(date: string, zone: string): TimeWindow {
    try {
      return localDayWindow(date, zone);
    } catch (error) {
      throw new BadRequestException(error instanceof Error ? error.message : String(error));
    }
  }

  /** The customer's scope; 404 for an unknown (or malformed) ID, checked before the scope is made. */
  private async requireCustomer(customerId: string): Promise<CustomerScope> {
    const scope = isUuid(customerId) ? customerScope(customerId) : null;
    const customer = scope ? await this.customers.get(scope) : null;
    if (!scope || !customer) {
      throw new NotFoundException('unknown customer');
    }
    return scope;
  }
}

function trendOf(runs: RunView[]): Trend {
  const finished = runs.filter((r) => r.status === 'done').reverse();
  const measures: Trend['measures'] = {};
  const keys = new Set(finished.flatMap((r) => Object.keys(r.counts)));
  for (const key of [...keys].sort()) {
    const values = finished.map((r) => r.counts[key] ?? 0);
    measures[key] = {
      values,
      last: values[values.length - 1] ?? 0,
      mean: values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length,
      max: values.reduce((a, b) => Math.max(a, b), 0),
    };
  }
  return { runs: finished.length, measures };
}

import { Body, Controller, Get, HttpCode, Post, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminApi, IntQuery, OneOfQuery, UuidParam } from '@raise-sync/shared/service';
import {
  DISCREPANCY_STATES,
  RECONCILIATION_KINDS,
  type DiscrepancyState,
  type ReconciliationKind,
} from '@raise-sync/shared/state';
import type { RunView } from '../runs/run.repository';
import type { ScheduleView } from '../schedule/schedule.repository';
import { RequestReconciliationDto, UpdateScheduleDto } from './admin.dto';
import { ReconciliationAdmin, type Trend } from './reconciliation-admin.service';

/** Reconciliation runs and schedules. Every route needs `Authorization: Bearer <ADMIN_TOKEN>`. */
@ApiTags('reconciliation')
@AdminApi()
@Controller('admin')
export class ReconcilerAdminController {
  constructor(private readonly admin: ReconciliationAdmin) {}

  @Post('customers/:id/reconciliations')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Request a run for a closed window (default: yesterday in the customer timezone); a runner picks it up',
  })
  request(@UuidParam('id') id: string, @Body() dto: RequestReconciliationDto): Promise<RunView> {
    return this.admin.request(id, dto);
  }

  @Get('customers/:id/reconciliations')
  @ApiOperation({ summary: 'Runs of a customer, newest first, with counts and their trend' })
  list(
    @UuidParam('id') id: string,
    @OneOfQuery('kind', RECONCILIATION_KINDS) kind?: ReconciliationKind,
    @IntQuery('limit', { min: 1, max: 500, fallback: 20 }) limit?: number,
  ): Promise<{ runs: RunView[]; trend: Trend }> {
    return this.admin.list(id, { kind, limit });
  }

  @Get('reconciliations/:runId')
  @ApiOperation({ summary: 'One run with its discrepancies (paged: offset, limit; filter: state)' })
  run(
    @UuidParam('runId') runId: string,
    @IntQuery('offset', { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 }) offset?: number,
    @IntQuery('limit', { min: 1, max: 1000, fallback: 100 }) limit?: number,
    @OneOfQuery('state', DISCREPANCY_STATES) state?: DiscrepancyState,
  ): Promise<unknown> {
    return this.admin.run(runId, { offset, limit, state });
  }

  @Get('customers/:id/reconciliation-schedules')
  @ApiOperation({ summary: 'The schedules of a customer (defaults are created on first use)' })
  schedules(@UuidParam('id') id: string): Promise<ScheduleView[]> {
    return this.admin.schedulesOf(id);
  }

  @Put('customers/:id/reconciliation-schedules')
  @ApiOperation({
    summary: 'Change one schedule (by kind): cadence, timezone, run time, lag, enabled, settings',
  })
  updateSchedule(
    @UuidParam('id') id: string,
    @Body() dto: UpdateScheduleDto,
  ): Promise<ScheduleView> {
    return this.admin.updateSchedule(id, dto);
  }
}

import {
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminTokenGuard } from '@raise-sync/shared/service';
import type { RunView } from '../runs/run-store';
import type { ScheduleView } from '../schedule/schedule-store';
import { RequestReconciliationDto, UpdateScheduleDto } from './admin.dto';
import { ReconciliationAdmin, type Trend } from './reconciliation-admin.service';

/** Reconciliation runs and schedules. Every route needs `Authorization: Bearer <ADMIN_TOKEN>`. */
@ApiTags('reconciliation')
@ApiBearerAuth()
@UseGuards(AdminTokenGuard)
@Controller('admin')
export class ReconcilerAdminController {
  constructor(private readonly admin: ReconciliationAdmin) {}

  @Post('customers/:id/reconciliations')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Request a run for a closed window (default: yesterday in the customer timezone); a runner picks it up',
  })
  request(@Param('id') id: string, @Body() dto: RequestReconciliationDto): Promise<RunView> {
    return this.admin.request(id, dto);
  }

  @Get('customers/:id/reconciliations')
  @ApiOperation({ summary: 'Runs of a customer, newest first, with counts and their trend' })
  list(
    @Param('id') id: string,
    @Query('kind') kind?: string,
    @Query('limit') limit?: string,
  ): Promise<{ runs: RunView[]; trend: Trend }> {
    return this.admin.list(id, { kind, limit });
  }

  @Get('reconciliations/:runId')
  @ApiOperation({ summary: 'One run with its discrepancies (paged: offset, limit; filter: state)' })
  run(
    @Param('runId') runId: string,
    @Query('offset') offset?: string,
    @Query('limit') limit?: string,
    @Query('state') state?: string,
  ): Promise<unknown> {
    return this.admin.run(runId, { offset, limit, state });
  }

  @Get('customers/:id/reconciliation-schedules')
  @ApiOperation({ summary: 'The schedules of a customer (defaults are created on first use)' })
  schedules(@Param('id') id: string): Promise<ScheduleView[]> {
    return this.admin.schedulesOf(id);
  }

  @Put('customers/:id/reconciliation-schedules')
  @ApiOperation({
    summary: 'Change one schedule (by kind): cadence, timezone, run time, lag, enabled, settings',
  })
  updateSchedule(@Param('id') id: string, @Body() dto: UpdateScheduleDto): Promise<ScheduleView> {
    return this.admin.updateSchedule(id, dto);
  }
}

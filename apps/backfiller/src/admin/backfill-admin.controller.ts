import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminApi, UuidParam } from '@raise-sync/shared/service';
import type { RunView } from '../progress/run-view';
import { StartBackfillDto } from './backfill-admin.dto';
import { BackfillAdminService } from './backfill-admin.service';

/** Backfill runs of a customer. Every route needs `Authorization: Bearer <ADMIN_TOKEN>`. */
@ApiTags('backfills')
@AdminApi()
@Controller('admin')
export class BackfillAdminController {
  constructor(private readonly backfills: BackfillAdminService) {}

  @Post('customers/:id/backfills')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Request a backfill: one resource (answers the run), several or all of the customer (answers { runs })',
  })
  async start(
    @UuidParam('id') customerId: string,
    @Body() dto: StartBackfillDto,
  ): Promise<RunView | { runs: RunView[] }> {
    const runs = await this.backfills.start(customerId, dto);
    return dto.resource !== undefined && runs[0] ? runs[0] : { runs };
  }

  @Get('customers/:id/backfills')
  @ApiOperation({ summary: "A customer's backfill runs, newest first, with progress" })
  list(@UuidParam('id') customerId: string): Promise<RunView[]> {
    return this.backfills.list(customerId);
  }

  @Get('backfills/:runId')
  @ApiOperation({ summary: 'One run with progress and its ranges (cursor, lease, counts)' })
  get(@UuidParam('runId') runId: string): Promise<RunView> {
    return this.backfills.get(runId);
  }

  @Post('backfills/:runId/cancel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Cancel a pending or running run; workers stop at their next page (409 when finished)',
  })
  cancel(@UuidParam('runId') runId: string): Promise<RunView> {
    return this.backfills.cancel(runId);
  }
}

import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminApi, UuidParam } from '@raise-sync/shared/service';
import { StartReplayDto } from './replay-admin.dto';
import { ReplayAdminService } from './replay-admin.service';
import type { ReplayView } from './replay-view';

/** Topic replays of a customer (recovery). Every route needs `Authorization: Bearer <ADMIN_TOKEN>`. */
@ApiTags('replays')
@AdminApi()
@Controller('admin')
export class ReplayAdminController {
  constructor(private readonly replays: ReplayAdminService) {}

  @Post('customers/:id/replays')
  @HttpCode(202)
  @ApiOperation({
    summary:
      "Replay a customer's events from a source topic between times or offsets (origin replay), optionally for one destination",
  })
  start(@UuidParam('id') customerId: string, @Body() dto: StartReplayDto): Promise<ReplayView> {
    return this.replays.start(customerId, dto);
  }

  @Get('customers/:id/replays')
  @ApiOperation({ summary: "A customer's replay runs, newest first, with progress" })
  list(@UuidParam('id') customerId: string): Promise<ReplayView[]> {
    return this.replays.list(customerId);
  }

  @Get('replays/:runId')
  @ApiOperation({ summary: 'One replay run: bounds, per-partition position, counts' })
  get(@UuidParam('runId') runId: string): Promise<ReplayView> {
    return this.replays.get(runId);
  }

  @Post('replays/:runId/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a pending or running replay (409 once finished)' })
  cancel(@UuidParam('runId') runId: string): Promise<ReplayView> {
    return this.replays.cancel(runId);
  }
}

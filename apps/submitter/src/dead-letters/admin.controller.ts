import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminTokenGuard } from '@raise-sync/shared/service';
import { SyncRecordRepository } from '@raise-sync/shared/state';
import { DataSource } from 'typeorm';
import { LedgerMonitor, type LedgerRow } from '../ledger/ledger-monitor.service';
import {
  DeadLetterService,
  type DeadLetterFilter,
  type DeadLetterView,
} from './dead-letter.service';

/** Operator routes of the submitter. Every route needs `Authorization: Bearer <ADMIN_TOKEN>`. */
@ApiTags('dead letters and sync state')
@ApiBearerAuth()
@UseGuards(AdminTokenGuard)
@Controller('admin')
export class SubmitterAdminController {
  private readonly syncRecords: SyncRecordRepository;

  constructor(
    private readonly deadLetters: DeadLetterService,
    private readonly ledger: LedgerMonitor,
    db: DataSource,
  ) {
    this.syncRecords = new SyncRecordRepository(db);
  }

  @Get('dead-letters')
  @ApiOperation({
    summary: 'List dead letters (filter by customerId, destinationId, reason, status)',
  })
  list(@Query() query: Record<string, string>): Promise<DeadLetterView[]> {
    return this.deadLetters.list(filterFrom(query));
  }

  @Get('dead-letters/:id')
  @ApiOperation({ summary: 'One dead letter with its headers and decoded event' })
  inspect(@Param('id') id: string): Promise<DeadLetterView> {
    return this.deadLetters.inspect(id);
  }

  @Post('dead-letters/:id/retry')
  @HttpCode(200)
  retryOne(@Param('id') id: string): Promise<{ retried: number }> {
    return this.deadLetters.retry({ id });
  }

  @Post('dead-letters/retry')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Retry every open dead letter matching the filter (customerId required)',
  })
  retryMany(@Body() body: Record<string, string>): Promise<{ retried: number }> {
    return this.deadLetters.retry(requireCustomer(filterFrom(body)));
  }

  @Post('dead-letters/:id/discard')
  @HttpCode(200)
  discardOne(@Param('id') id: string): Promise<{ discarded: number }> {
    return this.deadLetters.discard({ id });
  }

  @Post('dead-letters/discard')
  @HttpCode(200)
  discardMany(@Body() body: Record<string, string>): Promise<{ discarded: number }> {
    return this.deadLetters.discard(requireCustomer(filterFrom(body)));
  }

  @Get('customers/:customerId/records/:resource/:sourceId')
  @ApiOperation({
    summary: 'Where is this record? State, destination ID and history at every destination',
  })
  async where(
    @Param('customerId') customerId: string,
    @Param('resource') resource: string,
    @Param('sourceId') sourceId: string,
  ): Promise<{ destinations: unknown[]; history: unknown[] }> {
    return {
      destinations: await this.syncRecords.findForRecord(customerId, resource, sourceId),
      history: await this.syncRecords.history(customerId, resource, sourceId),
    };
  }

  @Get('ledger')
  @ApiOperation({
    summary:
      'received = delivered + skipped + dead_lettered + in_retry, per customer and destination',
  })
  ledgerRows(@Query('customerId') customerId?: string): Promise<LedgerRow[]> {
    return this.ledger.snapshot(customerId);
  }
}

function filterFrom(source: Record<string, string | undefined>): DeadLetterFilter {
  const status = source['status'];
  return {
    customerId: source['customerId'],
    destinationId: source['destinationId'],
    reason: source['reason'],
    status:
      status === 'open' || status === 'retried' || status === 'discarded' ? status : undefined,
    limit: source['limit'] ? Number(source['limit']) : undefined,
  };
}

function requireCustomer(filter: DeadLetterFilter): DeadLetterFilter {
  if (!filter.customerId) {
    throw new BadRequestException('customerId is required for bulk operations');
  }
  return filter;
}

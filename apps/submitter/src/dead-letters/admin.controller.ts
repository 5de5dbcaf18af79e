import {
  Body,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Post,
  ValidationPipe,
} from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { allSourceResources } from '@raise-sync/shared/events';
import {
  AdminApi,
  IntQuery,
  OneOfParam,
  OneOfQuery,
  TextParam,
  TextQuery,
  UuidParam,
  UuidQuery,
} from '@raise-sync/shared/service';
import {
  CustomerRepository,
  SyncRecordRepository,
  customerScope,
  type CustomerScope,
} from '@raise-sync/shared/state';
import { LedgerMonitor, type LedgerRow } from '../ledger/ledger-monitor.service';
import { BulkDeadLettersDto, DEAD_LETTER_STATUSES, type DeadLetterStatus } from './admin.dto';
import type { DeadLetterGroupRow } from './dead-letter.repository';
import { DeadLetterService, type DeadLetterView } from './dead-letter.service';
import { SourceFixes, type SourceFixesView } from '../source-fixes/source-fix.service';

const RESOURCES = [...new Set(allSourceResources().map((r) => r.resource as string))];
const bodyPipe = new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true });

/** Operator routes of the submitter. Every route needs `Authorization: Bearer <ADMIN_TOKEN>`. */
@ApiTags('dead letters and sync state')
@AdminApi()
@Controller('admin')
export class SubmitterAdminController {
  constructor(
    private readonly deadLetters: DeadLetterService,
    private readonly ledger: LedgerMonitor,
    private readonly customers: CustomerRepository,
    private readonly syncRecords: SyncRecordRepository,
    private readonly sourceFixes: SourceFixes,
  ) {}

  @Get('dead-letters')
  @ApiOperation({
    summary:
      'List dead letters (filter by customerId, destinationId, reason, status; limit 1-1000)',
  })
  list(
    @UuidQuery('customerId') customerId?: string,
    @UuidQuery('destinationId') destinationId?: string,
    @TextQuery('reason') reason?: string,
    @OneOfQuery('status', DEAD_LETTER_STATUSES) status?: DeadLetterStatus,
    @IntQuery('limit', { min: 1, max: 1000, fallback: 100 }) limit?: number,
  ): Promise<DeadLetterView[]> {
    return this.deadLetters.list({ customerId, destinationId, reason, status, limit });
  }

  @Get('dead-letters/:id')
  @ApiOperation({ summary: 'One dead letter with its headers and decoded event' })
  inspect(@UuidParam('id') id: string): Promise<DeadLetterView> {
    return this.deadLetters.inspect(id);
  }

  @Post('dead-letters/:id/retry')
  @HttpCode(200)
  retryOne(@UuidParam('id') id: string): Promise<{ retried: number }> {
    return this.deadLetters.retry({ id });
  }

  @Post('dead-letters/retry')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Retry every open dead letter matching the filter (customerId required)',
  })
  retryMany(@Body(bodyPipe) body: BulkDeadLettersDto): Promise<{ retried: number }> {
    return this.deadLetters.retry(bulkFilter(body));
  }

  @Post('dead-letters/:id/discard')
  @HttpCode(200)
  discardOne(@UuidParam('id') id: string): Promise<{ discarded: number }> {
    return this.deadLetters.discard({ id });
  }

  @Post('dead-letters/discard')
  @HttpCode(200)
  discardMany(@Body(bodyPipe) body: BulkDeadLettersDto): Promise<{ discarded: number }> {
    return this.deadLetters.discard(bulkFilter(body));
  }

  @Get('customers/:customerId/records/:resource/:sourceId')
  @ApiOperation({
    summary: 'Where is this record? State, destination ID and history at every destination',
  })
  async where(
    @UuidParam('customerId') customerId: string,
    @OneOfParam('resource', RESOURCES) resource: string,
    @TextParam('sourceId') sourceId: string,
  ): Promise<{ destinations: unknown[]; history: unknown[] }> {
    const scope = await this.requireCustomer(customerId);
    return {
      destinations: await this.syncRecords.findForRecord(scope, resource, sourceId),
      history: await this.syncRecords.history(scope, resource, sourceId),
    };
  }

  @Get('customers/:customerId/dead-letter-groups')
  @ApiOperation({
    summary:
      "A customer's open dead letters grouped by destination and reason, with counts (retry or discard a group with dead-letters/retry or /discard and its destinationId and reason)",
  })
  async deadLetterGroups(
    @UuidParam('customerId') customerId: string,
  ): Promise<DeadLetterGroupRow[]> {
    await this.requireCustomer(customerId);
    return this.deadLetters.groups(customerId);
  }

  @Get('customers/:customerId/source-fixes')
  @ApiOperation({
    summary:
      'Records held for a fix in the source (needs_source_fix), grouped by destination and cause, with the oldest holds; they are delivered on their own once the source is fixed',
  })
  async sourceFixesOf(@UuidParam('customerId') customerId: string): Promise<SourceFixesView> {
    await this.requireCustomer(customerId);
    return this.sourceFixes.view(customerScope(customerId));
  }

  @Get('ledger')
  @ApiOperation({
    summary:
      'received = delivered + skipped + dead_lettered + needs_source_fix + in_retry + waiting, per customer and destination',
  })
  ledgerRows(@UuidQuery('customerId') customerId?: string): Promise<LedgerRow[]> {
    return this.ledger.snapshot(customerId);
  }

  private async requireCustomer(customerId: string): Promise<CustomerScope> {
    const scope = customerScope(customerId);
    if (!(await this.customers.get(scope))) {
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
    return scope;
  }
}

/** Bulk operations act on open dead letters only, whatever status the filter names. */
function bulkFilter(body: BulkDeadLettersDto): {
  customerId: string;
  destinationId?: string;
  reason?: string;
} {
  return { customerId: body.customerId, destinationId: body.destinationId, reason: body.reason };
}

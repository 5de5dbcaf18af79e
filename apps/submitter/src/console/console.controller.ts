import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Query,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiExcludeEndpoint, ApiOperation, ApiTags } from '@nestjs/swagger';
import { allSourceResources } from '@raise-sync/shared/events';
import {
  OneOfParam,
  OneOfPipe,
  OneOfQuery,
  TextParam,
  TextPipe,
  UuidParam,
  UuidPipe,
} from '@raise-sync/shared/service';
import type { Request, Response } from 'express';
import type { DeadLetterGroupRow } from '../dead-letters/dead-letter.repository';
import { DeadLetterService, type DeadLetterView } from '../dead-letters/dead-letter.service';
import { SourceFixes, type SourceFixesView } from '../source-fixes/source-fix.service';
import { customerScope } from '@raise-sync/shared/state';
import { ConsoleAuthGuard, viewerOf } from './console-auth.guard';
import {
  ConsoleQueries,
  type CustomerHealth,
  type CustomerSummary,
  type RecordTrail,
} from './console-query.service';
import type { ConsoleViewer } from './console-tokens.service';
import { RecordLinksService, type RecordLinks } from './record-links.service';

const STATIC_DIR = join(__dirname, 'static');
const RESOURCES = [...new Set(allSourceResources().map((r) => r.resource as string))];
const DEAD_LETTER_STATUSES = ['open', 'retried', 'discarded'] as const;
const GROUP_ACTIONS = ['retry', 'discard'] as const;
const ASSETS: Record<string, string> = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};
/** The page loads only its own script and style and talks only to this service. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * The sync-health console: a static page at /console and its JSON API at /console/api. The admin
 * token sees every customer and may retry or discard dead letters; a customer's console token sees
 * that customer only, read-only.
 */
@ApiTags('console')
@Controller('console')
export class ConsoleController {
  constructor(
    private readonly queries: ConsoleQueries,
    private readonly links: RecordLinksService,
    private readonly deadLetters: DeadLetterService,
    private readonly guard: ConsoleAuthGuard,
    private readonly sourceFixes: SourceFixes,
  ) {}

  @Get()
  @ApiExcludeEndpoint()
  page(@Res() res: Response): void {
    this.send(res, 'index.html', 'text/html; charset=utf-8');
  }

  @Get('assets/:file')
  @ApiExcludeEndpoint()
  asset(@Param('file') file: string, @Res() res: Response): void {
    const type = ASSETS[file];
    if (!type) {
      throw new NotFoundException();
    }
    this.send(res, file, type);
  }

  @Get('api/me')
  @UseGuards(ConsoleAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Who this token is: admin (all customers) or one customer (read-only)' })
  me(@Req() req: Request): ConsoleViewer & { canAct: boolean } {
    const viewer = viewerOf(req);
    return { ...viewer, canAct: viewer.role === 'admin' };
  }

  @Get('api/customers')
  @UseGuards(ConsoleAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Customers this token may see, each with a health verdict' })
  customers(@Req() req: Request): Promise<CustomerSummary[]> {
    const viewer = viewerOf(req);
    return this.queries.customers(viewer.role === 'customer' ? viewer.customerId : undefined);
  }

  @Get('api/customers/:customerId/health')
  @UseGuards(ConsoleAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({
    summary:
      'Sync health: last success and volumes per resource and destination, dead letters, webhooks, credentials, backfills, reconciliation trend',
  })
  health(
    @Req() req: Request,
    @UuidParam('customerId') customerId: string,
  ): Promise<CustomerHealth> {
    this.guard.assertCanSee(viewerOf(req), customerId);
    return this.queries.health(customerId);
  }

  @Get('api/customers/:customerId/records/:sourceId')
  @UseGuards(ConsoleAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({
    summary:
      'Audit trail of a source record ID: how and when it was captured, its Kafka position, and every destination',
  })
  async trail(
    @Req() req: Request,
    @UuidParam('customerId') customerId: string,
    @TextParam('sourceId') sourceId: string,
    @OneOfQuery('resource', RESOURCES) resource?: string,
  ): Promise<RecordTrail> {
    this.guard.assertCanSee(viewerOf(req), customerId);
    await this.queries.requireCustomer(customerId);
    return this.queries.trail(customerId, sourceId.trim(), resource);
  }

  @Get('api/customers/:customerId/records/:sourceId/links')
  @UseGuards(ConsoleAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: "The record's crmKeyUrls, read live from Raise" })
  async recordLinks(
    @Req() req: Request,
    @UuidParam('customerId') customerId: string,
    @TextParam('sourceId') sourceId: string,
    @Query('resource', new OneOfPipe(RESOURCES)) resource: string,
  ): Promise<RecordLinks> {
    this.guard.assertCanSee(viewerOf(req), customerId);
    await this.queries.requireCustomer(customerId);
    return this.links.links(customerId, resource, sourceId.trim());
  }

  @Get('api/customers/:customerId/dead-letters')
  @UseGuards(ConsoleAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: "The customer's dead letters (open unless status says otherwise)" })
  async listDeadLetters(
    @Req() req: Request,
    @UuidParam('customerId') customerId: string,
    @OneOfQuery('status', DEAD_LETTER_STATUSES) status?: (typeof DEAD_LETTER_STATUSES)[number],
  ): Promise<DeadLetterView[]> {
    this.guard.assertCanSee(viewerOf(req), customerId);
    await this.queries.requireCustomer(customerId);
    return this.deadLetters.list({ customerId, status: status ?? 'open', limit: 200 });
  }

  @Get('api/customers/:customerId/dead-letter-groups')
  @UseGuards(ConsoleAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: "The customer's open dead letters by destination and reason" })
  async deadLetterGroups(
    @Req() req: Request,
    @UuidParam('customerId') customerId: string,
  ): Promise<DeadLetterGroupRow[]> {
    this.guard.assertCanSee(viewerOf(req), customerId);
    await this.queries.requireCustomer(customerId);
    return this.deadLetters.groups(customerId);
  }

  @Post('api/customers/:customerId/dead-letter-groups/:action')
  @HttpCode(200)
  @UseGuards(ConsoleAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({
    summary:
      'Retry or discard every open dead letter of one destination and reason (admin token only)',
  })
  async actOnGroup(
    @Req() req: Request,
    @UuidParam('customerId') customerId: string,
    @OneOfParam('action', GROUP_ACTIONS) action: (typeof GROUP_ACTIONS)[number],
    @Query('destinationId', new UuidPipe()) destinationId: string,
    @Query('reason', new TextPipe({ maxLength: 200 })) reason: string,
  ): Promise<{ retried: number } | { discarded: number }> {
    // (The group is named in the query: the console reads no request body.)
    this.guard.assertCanAct(viewerOf(req), customerId);
    await this.queries.requireCustomer(customerId);
    const target = { customerId, destinationId, reason };
    return action === 'retry' ? this.deadLetters.retry(target) : this.deadLetters.discard(target);
  }

  @Get('api/customers/:customerId/source-fixes')
  @UseGuards(ConsoleAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({
    summary:
      'Records waiting for a fix in the source (needs_source_fix), grouped by cause; delivered on their own once fixed',
  })
  async sourceFixesOf(
    @Req() req: Request,
    @UuidParam('customerId') customerId: string,
  ): Promise<SourceFixesView> {
    this.guard.assertCanSee(viewerOf(req), customerId);
    await this.queries.requireCustomer(customerId);
    return this.sourceFixes.view(customerScope(customerId));
  }

  @Post('api/customers/:customerId/dead-letters/:id/retry')
  @HttpCode(200)
  @UseGuards(ConsoleAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Retry one dead letter (admin token only)' })
  async retry(
    @Req() req: Request,
    @UuidParam('customerId') customerId: string,
    @UuidParam('id') id: string,
  ): Promise<{ retried: number }> {
    await this.ownedDeadLetter(viewerOf(req), customerId, id);
    return this.deadLetters.retry({ id });
  }

  @Post('api/customers/:customerId/dead-letters/:id/discard')
  @HttpCode(200)
  @UseGuards(ConsoleAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Discard one dead letter (admin token only)' })
  async discard(
    @Req() req: Request,
    @UuidParam('customerId') customerId: string,
    @UuidParam('id') id: string,
  ): Promise<{ discarded: number }> {
    await this.ownedDeadLetter(viewerOf(req), customerId, id);
    return this.deadLetters.discard({ id });
  }

  /** Actions need the admin token, and the dead letter must be this customer's. */
  private async ownedDeadLetter(
    viewer: ConsoleViewer,
    customerId: string,
    id: string,
  ): Promise<void> {
    this.guard.assertCanAct(viewer, customerId);
    const letter = await this.deadLetters.inspect(id);
    if (letter.customerId !== customerId) {
      throw new NotFoundException(`dead letter ${id} is not this customer's`);
    }
  }

  private send(res: Response, file: string, type: string): void {
    const path = join(STATIC_DIR, file);
    if (!existsSync(path)) {
      throw new NotFoundException(`console asset ${file} is missing from this build`);
    }
    res.set({ ...PAGE_HEADERS, 'content-type': type }).sendFile(path);
  }
}

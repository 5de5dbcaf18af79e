import {
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { AdminTokenGuard } from '@raise-sync/shared/service';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import {
  ConsoleTokens,
  type ConsoleTokenView,
  type IssuedConsoleToken,
} from './console-tokens.service';

export class IssueConsoleTokenDto {
  @ApiProperty({ required: false, description: 'Who the token is for, e.g. "finance team"' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  label?: string;
}

/** Operators issue and revoke customers' read-only console tokens. */
@ApiTags('console tokens')
@ApiBearerAuth()
@UseGuards(AdminTokenGuard)
@Controller('admin')
export class ConsoleTokensController {
  constructor(private readonly tokens: ConsoleTokens) {}

  @Post('customers/:customerId/console-tokens')
  @ApiOperation({
    summary: 'Issue a read-only console token for one customer (the token is shown only here)',
  })
  issue(
    @Param('customerId', ParseUUIDPipe) customerId: string,
    @Body() body: IssueConsoleTokenDto,
  ): Promise<IssuedConsoleToken> {
    return this.tokens.issue(customerId, body.label ?? '');
  }

  @Get('customers/:customerId/console-tokens')
  @ApiOperation({ summary: "A customer's console tokens (never the tokens themselves)" })
  list(@Param('customerId', ParseUUIDPipe) customerId: string): Promise<ConsoleTokenView[]> {
    return this.tokens.list(customerId);
  }

  @Post('console-tokens/:id/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a console token at once' })
  revoke(@Param('id', ParseUUIDPipe) id: string): Promise<{ revoked: boolean }> {
    return this.tokens.revoke(id);
  }
}

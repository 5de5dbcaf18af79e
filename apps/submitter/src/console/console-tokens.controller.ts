import { Body, Controller, Get, HttpCode, Post, ValidationPipe } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { AdminApi, UuidParam } from '@raise-sync/shared/service';
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
@AdminApi()
@Controller('admin')
export class ConsoleTokensController {
  constructor(private readonly tokens: ConsoleTokens) {}

  @Post('customers/:customerId/console-tokens')
  @ApiOperation({
    summary:
      'Issue a read-only console token for one customer (the token is shown only here; 409 once offboarded)',
  })
  issue(
    @UuidParam('customerId') customerId: string,
    @Body(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }))
    body: IssueConsoleTokenDto,
  ): Promise<IssuedConsoleToken> {
    return this.tokens.issue(customerId, body.label ?? '');
  }

  @Get('customers/:customerId/console-tokens')
  @ApiOperation({ summary: "A customer's console tokens (never the tokens themselves)" })
  list(@UuidParam('customerId') customerId: string): Promise<ConsoleTokenView[]> {
    return this.tokens.list(customerId);
  }

  @Post('console-tokens/:id/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a console token at once' })
  revoke(@UuidParam('id') id: string): Promise<{ revoked: boolean }> {
    return this.tokens.revoke(id);
  }
}

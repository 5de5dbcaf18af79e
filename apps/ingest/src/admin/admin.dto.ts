import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayNotEmpty,
  IsArray,
  IsBoolean,
  IsIn,
  IsISO8601,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { SOURCE_RESOURCES } from '@raise-sync/shared/events';
import { ONBOARDING_MODES, type OnboardingMode } from '@raise-sync/shared/state';

export class RaiseSourceDto {
  @ApiProperty({
    description:
      'Raise API token (bearer, per organization). Validated by a test call; stored encrypted; never returned.',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(4096)
  apiToken!: string;

  @ApiPropertyOptional({
    description:
      'Webhook shared secret (securityToken). Generated when a webhook is registered and none is set.',
  })
  @IsOptional()
  @IsString()
  @Matches(/^\S{16,512}$/, { message: 'webhookSecret must be 16-512 characters without spaces' })
  webhookSecret?: string;
}

export class VomoSourceDto {
  @ApiProperty({
    description: 'VOMO API token. Validated by a test call; stored encrypted; never returned.',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(4096)
  apiToken!: string;
}

export class PollingDto {
  @ApiPropertyOptional({ description: 'Poll this source at all (false = webhooks only).' })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({
    description: 'Seconds between polls: 60-900 as a primary path, 86400 as a daily backstop.',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(7 * 24 * 3600)
  intervalSeconds?: number;
}

const BACKFILL_RESOURCES = [...new Set(Object.values(SOURCE_RESOURCES).flat())] as string[];

/** Backfill the customer's history at onboarding (the backfiller plans and works the runs). */
export class OnboardingBackfillDto {
  @ApiPropertyOptional({
    type: [String],
    enum: BACKFILL_RESOURCES,
    description: 'Resources to backfill; default: every resource of the sources given.',
  })
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @IsIn(BACKFILL_RESOURCES, { each: true })
  resources?: string[];

  @ApiPropertyOptional({
    description: 'Partial history: only records modified at or after this time (ISO 8601).',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'backfill.modifiedFrom must be an ISO 8601 date-time' })
  modifiedFrom?: string;

  @ApiPropertyOptional({
    description: 'Partial history: only records modified before this time (ISO 8601).',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'backfill.modifiedTo must be an ISO 8601 date-time' })
  modifiedTo?: string;
}

export class CreateCustomerDto {
  @ApiProperty({ example: 'Hope Shelter' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiPropertyOptional({ type: RaiseSourceDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => RaiseSourceDto)
  raise?: RaiseSourceDto;

  @ApiPropertyOptional({ type: VomoSourceDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => VomoSourceDto)
  vomo?: VomoSourceDto;

  @ApiPropertyOptional({ type: PollingDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => PollingDto)
  polling?: PollingDto;

  @ApiPropertyOptional({
    type: OnboardingBackfillDto,
    description:
      'Backfill history: the customer starts as backfilling, polling of those resources waits for the backfill to hand over, and the backfiller marks the customer live when done.',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => OnboardingBackfillDto)
  backfill?: OnboardingBackfillDto;

  @ApiPropertyOptional({
    enum: ONBOARDING_MODES,
    description:
      "How the customer's data starts. full_history: backfill all of it, then live. history_since: backfill from historySince, then live. from_now: no history, only changes from now on (live at once). poll_history: no backfill, the first polls read the history. Default: full_history or history_since when a backfill block is given, else poll_history.",
  })
  @IsOptional()
  @IsIn(ONBOARDING_MODES)
  mode?: OnboardingMode;

  @ApiPropertyOptional({
    description:
      'history_since: the first moment of the history to sync (ISO 8601, not in the future).',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'historySince must be an ISO 8601 date-time' })
  historySince?: string;

  @ApiPropertyOptional({
    description:
      'Subscribe the Raise webhook as part of onboarding (default true when raise is given); false to do it later with POST /admin/customers/{id}/sources/raise/webhook.',
  })
  @IsOptional()
  @IsBoolean()
  subscribeWebhooks?: boolean;
}

export class UpdateSourceDto {
  @ApiPropertyOptional({
    description: 'New API token; validated by a test call before it is stored.',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(4096)
  apiToken?: string;

  @ApiPropertyOptional({ description: 'New webhook secret (Raise only).' })
  @IsOptional()
  @IsString()
  @Matches(/^\S{16,512}$/, { message: 'webhookSecret must be 16-512 characters without spaces' })
  webhookSecret?: string;

  @ApiPropertyOptional({ type: PollingDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => PollingDto)
  polling?: PollingDto;
}

export class RegisterWebhookDto {
  @ApiPropertyOptional({
    description: 'Override the public base URL of ingest (default WEBHOOK_PUBLIC_URL).',
  })
  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, { message: 'publicUrl must be an http(s) URL' })
  publicUrl?: string;
}

export class WriteBackDonorDto {
  @ApiProperty({
    description: 'Donor fields to change in Raise (PATCH semantics: only these change)',
    example: { phone: '(555) 010-9999' },
  })
  @IsObject()
  fields!: Record<string, unknown>;
}

export class OffboardDto {
  @ApiPropertyOptional({
    description:
      "Purge the customer's state at once (after a few seconds, while the other services' caches notice the offboarding) instead of after the grace period.",
  })
  @IsOptional()
  @IsBoolean()
  purgeNow?: boolean;

  @ApiPropertyOptional({
    description: 'Days the state is kept before the purge (default OFFBOARD_GRACE_DAYS, 30).',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3650)
  graceDays?: number;

  @ApiPropertyOptional({ description: "Also delete the customer's rows from the warehouse." })
  @IsOptional()
  @IsBoolean()
  purgeWarehouse?: boolean;
}

export class PurgeDto {
  @ApiPropertyOptional({ description: "Also delete the customer's rows from the warehouse." })
  @IsOptional()
  @IsBoolean()
  purgeWarehouse?: boolean;
}

export class EraseDonorDto {
  @ApiProperty({
    description:
      "Who asks for the erasure (an operator's name or ticket): kept in the erasure record. Never the donor's data.",
  })
  @IsString()
  @Matches(/^\S(.{0,198}\S)?$/, { message: 'requestedBy must be 1-200 characters' })
  requestedBy!: string;

  @ApiPropertyOptional({
    description: "How the erasure was asked for: 'admin' (default) or 'cli' (erase-donor.cli.js).",
    enum: ['admin', 'cli'],
  })
  @IsOptional()
  @IsIn(['admin', 'cli'])
  trigger?: 'admin' | 'cli';
}

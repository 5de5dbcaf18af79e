import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayNotEmpty,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { allSourceResources } from '@raise-sync/shared/events';
import {
  RECONCILIATION_CADENCES,
  RECONCILIATION_KINDS,
  type ReconciliationCadence,
  type ReconciliationKind,
} from '@raise-sync/shared/state';

export const RESOURCES = allSourceResources().map((r) => r.resource as string);

export class RequestReconciliationDto {
  @ApiPropertyOptional({ enum: RECONCILIATION_KINDS, default: 'window' })
  @IsOptional()
  @IsIn(RECONCILIATION_KINDS, { message: `kind must be one of ${RECONCILIATION_KINDS.join(', ')}` })
  kind?: ReconciliationKind;

  @ApiPropertyOptional({
    description: 'Window start (ISO 8601 instant, inclusive). Give with windowEnd, or use date.',
    example: '2026-11-22T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'windowStart must be an ISO 8601 instant' })
  windowStart?: string;

  @ApiPropertyOptional({
    description:
      'Window end (ISO 8601 instant, exclusive); must not be in the future. Deletion runs take only this (default: start of today).',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'windowEnd must be an ISO 8601 instant' })
  windowEnd?: string;

  @ApiPropertyOptional({
    description:
      "A calendar day (YYYY-MM-DD) in the customer's timezone; default: yesterday. Today is refused (not closed).",
    example: '2026-11-22',
  })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'date must be YYYY-MM-DD' })
  date?: string;

  @ApiPropertyOptional({ description: 'Resources to compare (default: all of the customer).' })
  @IsOptional()
  @IsArray({ message: 'resources must be a list' })
  @ArrayNotEmpty({ message: 'resources must not be empty' })
  @IsIn(RESOURCES, { each: true, message: `resources must be among ${RESOURCES.join(', ')}` })
  resources?: string[];

  @ApiPropertyOptional({ enum: ['admin', 'cli'], default: 'admin' })
  @IsOptional()
  @IsIn(['admin', 'cli'], { message: 'trigger must be admin or cli' })
  trigger?: 'admin' | 'cli';
}

export class UpdateScheduleDto {
  @ApiProperty({ enum: RECONCILIATION_KINDS })
  @IsIn(RECONCILIATION_KINDS, { message: `kind must be one of ${RECONCILIATION_KINDS.join(', ')}` })
  kind!: ReconciliationKind;

  @ApiPropertyOptional({ enum: RECONCILIATION_CADENCES })
  @IsOptional()
  @IsIn(RECONCILIATION_CADENCES, {
    message: `cadence must be one of ${RECONCILIATION_CADENCES.join(', ')}`,
  })
  cadence?: ReconciliationCadence;

  @ApiPropertyOptional({ description: 'IANA time zone', example: 'America/New_York' })
  @IsOptional()
  @IsString({ message: 'timezone must be an IANA time zone name' })
  timezone?: string;

  @ApiPropertyOptional({
    description: 'Local run time HH:MM (hourly: the minutes past each hour)',
    example: '06:00',
  })
  @IsOptional()
  @Matches(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'runAt must be a local time HH:MM' })
  runAt?: string;

  @ApiPropertyOptional({ description: 'Hourly: how many hours the reconciled hour lags behind' })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'lagHours must be an integer' })
  @Min(0, { message: 'lagHours must be 0-72' })
  @Max(72, { message: 'lagHours must be 0-72' })
  lagHours?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean({ message: 'enabled must be true or false' })
  enabled?: boolean;

  @ApiPropertyOptional({
    description:
      'Kind-specific settings, replaced as a whole (e.g. weekday for weekly runs, crmDestination)',
  })
  @IsOptional()
  @IsObject({ message: 'settings must be an object' })
  settings?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'Run next at this instant (e.g. now, to run it at once)' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'nextRunAt must be an ISO 8601 instant' })
  nextRunAt?: string;
}

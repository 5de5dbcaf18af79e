import { ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  MaxLength,
  Min,
} from 'class-validator';
import { ALL_RESOURCES } from '../admin/backfill-admin.dto';

/**
 * A replay request. `topic` names one topic; `resource` (and `source`, which defaults to the one
 * that has the resource) means both of its topics, live and bulk. Each end is a time or (with
 * `topic` only) offsets, not both; a missing start is the first retained message, a missing end
 * the high-water mark at the request.
 */
export class StartReplayDto {
  @ApiPropertyOptional({
    description: 'Full source or bulk topic name: read that topic only',
    example: 'raise-sync.source.raise.gift',
  })
  @IsOptional()
  @IsString()
  @MaxLength(249)
  topic?: string;

  @ApiPropertyOptional({
    enum: ALL_RESOURCES,
    example: 'gift',
    description: "Read the resource's live topic and its bulk topic (backfilled history)",
  })
  @IsOptional()
  @IsIn(ALL_RESOURCES)
  resource?: string;

  @ApiPropertyOptional({ enum: ['raise', 'vomo'] })
  @IsOptional()
  @IsIn(['raise', 'vomo'])
  source?: 'raise' | 'vomo';

  @ApiPropertyOptional({
    description:
      'Only this destination of the customer gets the replayed events (others skip them).',
  })
  @IsOptional()
  @IsUUID()
  destinationId?: string;

  @ApiPropertyOptional({
    description: 'Messages written to Kafka at or after this time (ISO 8601)',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 date-time' })
  from?: string;

  @ApiPropertyOptional({ description: 'Messages written to Kafka before this time (ISO 8601)' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'to must be an ISO 8601 date-time' })
  to?: string;

  @ApiPropertyOptional({
    description: 'First offset (inclusive), the same for every partition (with topic only)',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  fromOffset?: number;

  @ApiPropertyOptional({ description: 'End offset (exclusive), the same for every partition' })
  @IsOptional()
  @IsInt()
  @Min(0)
  toOffset?: number;

  @ApiPropertyOptional({
    description: 'First offsets by partition, e.g. {"0": 120, "3": 400}',
    type: 'object',
    additionalProperties: { type: 'integer' },
  })
  @IsOptional()
  @IsObject()
  fromOffsets?: Record<string, number>;

  @ApiPropertyOptional({
    description: 'End offsets (exclusive) by partition',
    type: 'object',
    additionalProperties: { type: 'integer' },
  })
  @IsOptional()
  @IsObject()
  toOffsets?: Record<string, number>;

  @ApiPropertyOptional({ enum: ['admin', 'cli'], description: 'The CLI sends cli. Default admin.' })
  @IsOptional()
  @IsIn(['admin', 'cli'])
  trigger?: 'admin' | 'cli';

  @ApiPropertyOptional({ description: 'Who asked (recorded on the run), e.g. an operator name' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  requestedBy?: string;
}

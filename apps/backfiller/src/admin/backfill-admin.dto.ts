import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, IsArray, IsIn, IsISO8601, IsOptional } from 'class-validator';
import { SOURCE_RESOURCES } from '@raise-sync/shared/events';

export const ALL_RESOURCES = [...new Set(Object.values(SOURCE_RESOURCES).flat())] as string[];

export class StartBackfillDto {
  @ApiPropertyOptional({
    enum: ALL_RESOURCES,
    description:
      'One resource. Leave out both resource and resources for every resource of the customer.',
    example: 'gift',
  })
  @IsOptional()
  @IsIn(ALL_RESOURCES)
  resource?: string;

  @ApiPropertyOptional({ type: [String], enum: ALL_RESOURCES, description: 'Several resources.' })
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(ALL_RESOURCES.length)
  @IsIn(ALL_RESOURCES, { each: true })
  resources?: string[];

  @ApiPropertyOptional({
    enum: ['raise', 'vomo'],
    description: 'Defaults to the source that has the resource (user: vomo, the others: raise).',
  })
  @IsOptional()
  @IsIn(['raise', 'vomo'])
  source?: 'raise' | 'vomo';

  @ApiPropertyOptional({
    description: 'Partial history: only records modified at or after this time (ISO 8601).',
    example: '2024-01-01T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'modifiedFrom must be an ISO 8601 date-time' })
  modifiedFrom?: string;

  @ApiPropertyOptional({
    description: 'Partial history: only records modified before this time (ISO 8601).',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'modifiedTo must be an ISO 8601 date-time' })
  modifiedTo?: string;

  @ApiPropertyOptional({
    enum: ['admin', 'cli'],
    description: 'Who asked (recorded on the run); the CLI sends cli. Default admin.',
  })
  @IsOptional()
  @IsIn(['admin', 'cli'])
  trigger?: 'admin' | 'cli';
}

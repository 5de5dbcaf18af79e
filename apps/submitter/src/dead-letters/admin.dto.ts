import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { UUID_PATTERN } from '@raise-sync/shared/service';
import { IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';

export const DEAD_LETTER_STATUSES = ['open', 'retried', 'discarded'] as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number];

/** Which open dead letters a bulk retry or discard takes: always one customer's. */
export class BulkDeadLettersDto {
  @ApiProperty({ format: 'uuid' })
  @Matches(UUID_PATTERN, { message: 'customerId is required for bulk operations (a UUID)' })
  customerId!: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @Matches(UUID_PATTERN, { message: 'destinationId must be a UUID' })
  destinationId?: string;

  @ApiPropertyOptional({ example: 'record_rejected' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  reason?: string;

  @ApiPropertyOptional({
    enum: DEAD_LETTER_STATUSES,
    description: 'Accepted for symmetry with list; bulk operations act on open dead letters.',
  })
  @IsOptional()
  @IsIn(DEAD_LETTER_STATUSES)
  status?: DeadLetterStatus;
}

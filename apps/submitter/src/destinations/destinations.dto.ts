import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsObject, IsOptional, Matches, ValidateNested } from 'class-validator';
import { DESTINATION_KINDS, type DestinationKind } from '@raise-sync/shared/state';

export class DestinationDto {
  @ApiProperty({ enum: DESTINATION_KINDS })
  @IsIn(DESTINATION_KINDS)
  kind!: DestinationKind;

  @ApiProperty({ example: 'warehouse', description: 'Unique per customer.' })
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, {
    message: 'name must be lower-case letters, digits, dashes',
  })
  name!: string;

  @ApiPropertyOptional({ description: 'Adapter settings and field mapping (no secrets here).' })
  @IsOptional()
  @IsObject()
  config?: Record<string, unknown>;

  @ApiPropertyOptional({
    description: 'Adapter secrets (API keys); stored encrypted, never returned.',
  })
  @IsOptional()
  @IsObject()
  secrets?: Record<string, string>;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

export class SetDestinationsDto {
  @ApiProperty({ type: [DestinationDto] })
  @ValidateNested({ each: true })
  @Type(() => DestinationDto)
  destinations!: DestinationDto[];
}

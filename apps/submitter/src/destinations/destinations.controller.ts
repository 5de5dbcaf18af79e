import { Body, Controller, Get, Put, ValidationPipe } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminApi, UuidParam } from '@raise-sync/shared/service';
import { DestinationSettings, type DestinationsView } from './destination-settings.service';
import { SetDestinationsDto } from './destinations.dto';

const bodyPipe = new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true });

/** Operators choose each customer's destinations. Every route needs the admin token. */
@ApiTags('destinations')
@AdminApi()
@Controller('admin/customers')
export class DestinationsController {
  constructor(private readonly settings: DestinationSettings) {}

  @Get(':id/destinations')
  @ApiOperation({ summary: "A customer's destinations (settings only; secrets are write-only)" })
  list(@UuidParam('id') id: string): Promise<DestinationsView> {
    return this.settings.view(id);
  }

  @Put(':id/destinations')
  @ApiOperation({
    summary:
      'Choose destinations: named ones are created or updated, omitted ones are disabled, not deleted (409 once offboarded)',
  })
  replace(
    @UuidParam('id') id: string,
    @Body(bodyPipe) dto: SetDestinationsDto,
  ): Promise<DestinationsView> {
    return this.settings.replace(id, dto);
  }
}

import { Body, Controller, Get, HttpCode, Patch, Post, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminApi, IntParam, OneOfParam, UuidParam } from '@raise-sync/shared/service';
import type { CustomerPurgeView, DonorErasureView, SourceName } from '@raise-sync/shared/state';
import {
  CreateCustomerDto,
  EraseDonorDto,
  OffboardDto,
  PurgeDto,
  RegisterWebhookDto,
  UpdateSourceDto,
  WriteBackDonorDto,
} from './admin.dto';
import {
  CrmPlusWebhookRegistration,
  type CrmPlusWebhookView,
} from './crm-plus-webhook-registration.service';
import {
  OnboardingService,
  type CreatedCustomerView,
  type CustomerView,
  type OffboardedView,
} from './onboarding.service';
import { EraseDonor } from '../lifecycle/erase-donor.service';

const SOURCES: readonly SourceName[] = ['raise', 'vomo'];

/**
 * Partner-facing customer administration. Every route needs `Authorization: Bearer <ADMIN_TOKEN>`,
 * checked before the JSON body is read (`@AdminApi()`). Destinations are chosen on the submitter's
 * admin API (`PUT /admin/customers/:id/destinations`); the customer view here only lists them.
 */
@ApiTags('customers')
@AdminApi()
@Controller('admin/customers')
export class AdminController {
  constructor(
    private readonly onboarding: OnboardingService,
    private readonly crmPlusWebhooks: CrmPlusWebhookRegistration,
    private readonly eraseDonor: EraseDonor,
  ) {}

  @Post()
  @ApiOperation({
    summary:
      'Create a customer in an onboarding mode (full_history, history_since, from_now); its source tokens are validated by a test call first, and its Raise webhook is subscribed unless subscribeWebhooks is false',
  })
  create(@Body() dto: CreateCustomerDto): Promise<CreatedCustomerView> {
    return this.onboarding.create(dto);
  }

  @Get()
  @ApiOperation({ summary: 'List customers (no secrets)' })
  list(): Promise<CustomerView[]> {
    return this.onboarding.list();
  }

  @Get(':id')
  @ApiOperation({ summary: 'One customer: status, sources, credential health, destinations' })
  get(@UuidParam('id') id: string): Promise<CustomerView> {
    return this.onboarding.view(id);
  }

  @Put(':id/sources/:source')
  @ApiOperation({
    summary: 'Set or rotate a source token or webhook secret; change polling cadence',
  })
  updateSource(
    @UuidParam('id') id: string,
    @OneOfParam('source', SOURCES) source: SourceName,
    @Body() dto: UpdateSourceDto,
  ): Promise<CustomerView> {
    return this.onboarding.updateSource(id, source, dto);
  }

  @Post(':id/sources/raise/webhook')
  @ApiOperation({ summary: 'Register our webhook URL for this customer with Raise' })
  registerWebhook(
    @UuidParam('id') id: string,
    @Body() dto: RegisterWebhookDto,
  ): Promise<CustomerView> {
    return this.onboarding.registerWebhook(id, dto);
  }

  @Post(':id/sources/crm-plus/webhook')
  @ApiOperation({
    summary:
      "Register our CRM+ webhook URL at the customer's CRM+ (dual-webhook one-sided arrival check)",
  })
  registerCrmPlusWebhook(
    @UuidParam('id') id: string,
    @Body() dto: RegisterWebhookDto,
  ): Promise<CrmPlusWebhookView> {
    return this.crmPlusWebhooks.register(id, dto.publicUrl);
  }

  @Patch(':id/raise/donors/:donorId')
  @ApiOperation({
    summary:
      'Two-way sync: write donor fields back to Raise (the echo webhook is recognised, not re-synced)',
  })
  writeBackDonor(
    @UuidParam('id') id: string,
    @IntParam('donorId', { min: 1, max: Number.MAX_SAFE_INTEGER }) donorId: number,
    @Body() dto: WriteBackDonorDto,
  ): Promise<unknown> {
    return this.onboarding.writeBackDonor(id, donorId, dto.fields);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @ApiOperation({ summary: 'Stop polling (webhooks are still captured, nothing is lost)' })
  pause(@UuidParam('id') id: string): Promise<CustomerView> {
    return this.onboarding.setStatus(id, 'pause');
  }

  @Post(':id/resume')
  @HttpCode(200)
  resume(@UuidParam('id') id: string): Promise<CustomerView> {
    return this.onboarding.setStatus(id, 'resume');
  }

  @Post(':id/offboard')
  @HttpCode(200)
  @ApiOperation({
    summary:
      "Remove the webhooks at Raise and CRM+, stop polling, erase credentials, revoke console tokens, and purge the customer's state after the grace period (purgeNow: at once)",
  })
  offboard(@UuidParam('id') id: string, @Body() dto: OffboardDto = {}): Promise<OffboardedView> {
    return this.onboarding.offboard(id, dto);
  }

  @Post(':id/purge')
  @HttpCode(202)
  @ApiOperation({
    summary: "Purge an offboarded customer's state now, before its grace period ends",
  })
  purge(@UuidParam('id') id: string, @Body() dto: PurgeDto = {}): Promise<CustomerPurgeView> {
    return this.onboarding.purgeNow(id, dto);
  }

  @Get(':id/purge')
  @ApiOperation({
    summary: "An offboarded customer's purge: when it is due, and once done what it removed",
  })
  purgeStatus(@UuidParam('id') id: string): Promise<CustomerPurgeView> {
    return this.onboarding.purgeOf(id);
  }

  @Post(':id/donors/:donorId/erase')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Erase one donor (GDPR): archive them at marketing, anonymise their warehouse rows, redact their data from the state store, and keep a record of the erasure (who, when, how many rows) without their data. Idempotent',
  })
  erase(
    @UuidParam('id') id: string,
    @IntParam('donorId', { min: 1, max: Number.MAX_SAFE_INTEGER }) donorId: number,
    @Body() dto: EraseDonorDto,
  ): Promise<DonorErasureView> {
    return this.eraseDonor.erase(id, donorId, dto.requestedBy, dto.trigger ?? 'admin');
  }

  @Get(':id/donors/:donorId/erasure')
  @ApiOperation({ summary: "A donor's erasure record: who asked, when, what was redacted" })
  erasure(
    @UuidParam('id') id: string,
    @IntParam('donorId', { min: 1, max: Number.MAX_SAFE_INTEGER }) donorId: number,
  ): Promise<DonorErasureView> {
    return this.eraseDonor.erasureOf(id, donorId);
  }
}

import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { SecretBox } from '@raise-sync/shared/crypto';
import {
  CustomerRepository,
  DestinationRepository,
  customerScope,
  type CustomerScope,
  type DestinationView,
  destinationView,
} from '@raise-sync/shared/state';
import { DestinationDirectory } from '../delivery/destination-directory.service';
import type { SetDestinationsDto } from './destinations.dto';

/** A customer's destinations as the admin API shows them: settings, never a secret. */
export interface DestinationsView {
  customerId: string;
  destinations: DestinationView[];
}

/**
 * Which destinations a customer syncs to, set by operators through the submitter's admin API (the
 * side that delivers to them). Adapter secrets are sealed before they are stored. A change takes
 * effect at once on the replica that took it and within the directory's cache lifetime on the
 * others.
 */
@Injectable()
export class DestinationSettings {
  constructor(
    private readonly customers: CustomerRepository,
    private readonly destinations: DestinationRepository,
    private readonly directory: DestinationDirectory,
    @Inject(SecretBox) private readonly box: SecretBox,
  ) {}

  async view(customerId: string): Promise<DestinationsView> {
    const scope = await this.requireCustomer(customerId);
    const rows = await this.destinations.list(scope);
    return {
      customerId,
      destinations: rows.map(destinationView),
    };
  }

  /** Sets the named destinations; ones left out are disabled, not deleted (409 once offboarded). */
  async replace(customerId: string, dto: SetDestinationsDto): Promise<DestinationsView> {
    const scope = await this.requireCustomer(customerId, { live: true });
    const names = new Set<string>();
    for (const d of dto.destinations) {
      if (names.has(d.name)) {
        throw new BadRequestException(`destination name '${d.name}' appears twice`);
      }
      names.add(d.name);
    }
    await this.destinations.replace(
      scope,
      dto.destinations.map((d) => ({
        name: d.name,
        kind: d.kind,
        config: d.config,
        secrets: d.secrets ? this.box.sealJson(d.secrets) : undefined,
        enabled: d.enabled ?? true,
      })),
    );
    this.directory.invalidate(customerId);
    return this.view(customerId);
  }

  private async requireCustomer(
    customerId: string,
    { live = false }: { live?: boolean } = {},
  ): Promise<CustomerScope> {
    const scope = customerScope(customerId);
    const customer = await this.customers.get(scope);
    if (!customer) {
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
    if (live && customer.status === 'offboarded') {
      throw new ConflictException(`customer ${customerId} is offboarded`);
    }
    return scope;
  }
}

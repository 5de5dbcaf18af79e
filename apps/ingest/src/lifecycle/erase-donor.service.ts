import { Inject, Injectable, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { DonorErasureService, destinationContext } from '@raise-sync/destinations';
import { SecretBox } from '@raise-sync/shared/crypto';
import {
  CustomerRepository,
  DestinationRepository,
  DonorErasureRepository,
  customerScope,
  type DonorErasureView,
  type ErasureTrigger,
} from '@raise-sync/shared/state';
import { PinoLogger } from 'nestjs-pino';
import { CustomerDirectory } from '../customers/customer-directory.service';

/**
 * Erasure of one donor on request (admin API, CLI): runs DonorErasureService over every
 * destination of the customer, enabled or not (a disabled one still holds the person).
 */
@Injectable()
export class EraseDonor {
  constructor(
    private readonly customers: CustomerRepository,
    private readonly destinations: DestinationRepository,
    private readonly erasures: DonorErasureRepository,
    private readonly service: DonorErasureService,
    @Inject(SecretBox) private readonly box: SecretBox,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('erasure');
  }

  async erase(
    customerId: string,
    donorId: number,
    requestedBy: string,
    trigger: Extract<ErasureTrigger, 'admin' | 'cli'>,
  ): Promise<DonorErasureView> {
    const scope = await this.scopeOf(customerId);
    const rows = await this.destinations.list(scope);
    const contexts = rows.map((row) => destinationContext(row, this.box));
    try {
      const erasure = await this.service.erase(scope, String(donorId), contexts, {
        trigger,
        requestedBy,
      });
      this.log.info(
        { customerId: scope.customerId, donorId, trigger, rowsRedacted: erasure.rowsRedacted },
        'erased a donor',
      );
      return erasure;
    } catch (error) {
      this.log.warn(
        { customerId: scope.customerId, donorId, err: (error as Error).message },
        'erasure left pending: a destination or the registry could not be reached',
      );
      throw new ServiceUnavailableException(
        'a destination could not be reached; the erasure is pending (nothing synced out meanwhile): ask again',
        { cause: error },
      );
    }
  }

  async erasureOf(customerId: string, donorId: number): Promise<DonorErasureView> {
    const erasure = await this.erasures.get(await this.scopeOf(customerId), String(donorId));
    if (!erasure) {
      throw new NotFoundException(`donor ${donorId} of customer ${customerId} was not erased`);
    }
    return erasure;
  }

  private async scopeOf(customerId: string) {
    const scope = CustomerDirectory.isCustomerId(customerId) ? customerScope(customerId) : null;
    if (!scope || !(await this.customers.get(scope))) {
      throw new NotFoundException(`customer ${customerId} does not exist`);
    }
    return scope;
  }
}

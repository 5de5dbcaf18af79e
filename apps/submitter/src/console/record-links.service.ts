import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { SourceClients } from '@raise-sync/sources/service';
import { crmLinks, RAISE_RESOURCES, type CrmLink, type RaiseResource } from '@raise-sync/sources';
import { CustomerRepository, customerScope } from '@raise-sync/shared/state';

export interface RecordLinks {
  resource: string;
  sourceId: string;
  crmKey: string | null;
  links: CrmLink[];
  /** Why no links could be fetched (no token, not a Raise record, source unreachable). */
  unavailable: string | null;
}

const LOOKUP_TIMEOUT_MS = 5_000;

/**
 * crmKeyUrls of a Raise record, read live from Raise with the customer's own token and rate
 * budget: the links a person follows from the audit trail to the CRM+ record. Asked for separately
 * from the trail so a slow or failing source never delays the trail itself.
 */
@Injectable()
export class RecordLinksService {
  constructor(
    private readonly customers: CustomerRepository,
    private readonly clients: SourceClients,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('console');
  }

  async links(customerId: string, resource: string, sourceId: string): Promise<RecordLinks> {
    const base = { resource, sourceId, crmKey: null, links: [] };
    if (!(RAISE_RESOURCES as string[]).includes(resource)) {
      return { ...base, unavailable: `${resource} records carry no crmKeyUrls` };
    }
    const token = (await this.customers.credentials(customerScope(customerId))).raise?.apiToken;
    if (!token) {
      return { ...base, unavailable: 'the customer has no Raise token' };
    }
    try {
      const record = await this.clients.raise.get(
        { customerId, token },
        resource as RaiseResource,
        sourceId,
        AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
      );
      if (!record) {
        return { ...base, unavailable: 'Raise does not know this record (deleted?)' };
      }
      const fields = record as { crmKey?: unknown; crmKeyUrls?: unknown };
      return {
        resource,
        sourceId,
        crmKey: typeof fields.crmKey === 'string' ? fields.crmKey : null,
        links: crmLinks(fields.crmKeyUrls),
        unavailable: null,
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.log.warn({ customerId, resource, err: message }, 'console could not read crmKeyUrls');
      return { ...base, unavailable: `Raise could not be asked: ${message}` };
    }
  }
}

import { DestinationRepository } from '@raise-sync/shared/state';
import { Inject, Injectable } from '@nestjs/common';
import { crmPlusSettings, destinationContext } from '@raise-sync/destinations';
import { SecretBox } from '@raise-sync/shared/crypto';
import type { CustomerScope, DestinationEntity } from '@raise-sync/shared/state';
import type { CrmPlusTarget } from './crm-plus-lookups';

/** The customer's CRM+ as the consistency check uses it; `target` holds the decrypted token. */
export interface CrmDestination {
  destinationId: string;
  name: string;
  target: CrmPlusTarget;
}

export type CrmDestinationResult =
  { found: true; destination: CrmDestination } | { found: false; reason: string };

const text = (value: unknown): string | null =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : null;

/**
 * Finds which CRM+ a customer's Raise data should be compared with: the destination named by the
 * schedule's `settings.crmDestination` (its name or ID), else the customer's enabled destination of
 * kind 'crm-plus' (the first by name when there are several). Its base URL, token, reserve and
 * transactionSource are read exactly as the crm-plus adapter reads them, so the lookups ask for
 * the gifts under the same transactionSource the adapter writes; `settings.crmTransactionSource`
 * overrides it (e.g. when the platform's own sync writes under another source name).
 */
@Injectable()
export class CrmDestinationResolver {
  constructor(
    private readonly destinations: DestinationRepository,
    @Inject(SecretBox) private readonly box: SecretBox,
  ) {}

  async resolve(
    customer: CustomerScope,
    settings: Record<string, unknown>,
  ): Promise<CrmDestinationResult> {
    const named = text(settings.crmDestination);
    let row: DestinationEntity | null;
    if (named !== null) {
      const rows = await this.destinations.ofKind(customer, 'crm-plus');
      row = rows.find((r) => r.name === named || r.id === named) ?? null;
      if (!row) {
        // A misconfiguration, not a single-product customer: fail the run so it is seen.
        throw new Error(
          `settings.crmDestination "${named}" is not a CRM+ destination of this customer`,
        );
      }
    } else {
      row = await this.destinations.firstEnabled(customer, 'crm-plus');
      if (!row) {
        return { found: false, reason: 'single-product: no CRM+ configured' };
      }
    }
    const ctx = destinationContext(row, this.box);
    // Throws DestinationConfigError (no token, bad URL): the run fails with that message.
    const adapter = crmPlusSettings(ctx);
    return {
      found: true,
      destination: {
        destinationId: row.id,
        name: row.name,
        target: {
          baseUrl: adapter.baseUrl.replace(/\/+$/, ''),
          token: adapter.token,
          transactionSource: text(settings.crmTransactionSource) ?? adapter.transactionSource,
          reserve: adapter.reserve,
        },
      },
    };
  }
}

import type { SourceEvent } from '@raise-sync/shared/events';
import { EventCodec } from '@raise-sync/shared/kafka';
import {
  DonorErasureRepository,
  type CustomerScope,
  type DonorErasureView,
  type DonorRecordIds,
  type ErasureTrigger,
} from '@raise-sync/shared/state';
import { AdapterRegistry } from '../adapter-registry';
import type { DestinationContext } from '../port';

/** How an erasure was asked for, and what the caller already knows of the person. */
export interface DonorErasureRequest {
  trigger: ErasureTrigger;
  /** Who asked (an operator's name, or 'raise' for an isGDPRDeleted donor). Not the donor. */
  requestedBy: string;
  /** Emails the caller holds for the donor (the flagged event's), beside the stored ones. */
  emails?: readonly string[];
}

/** What a destination kind does in an erasure when its adapter has no `erasePerson`. */
const WITHOUT_ADAPTER_ERASURE: Record<string, string> = {
  // The warehouse's rows are anonymised in the state store's transaction (DONOR_ERASURE_STEPS).
  warehouse: 'anonymised',
  // CRM+ documents no contact deletion or GDPR endpoint (reference §3.5): nothing is sent; the
  // record is left for the customer's CRM+ admin, and we stop syncing the donor.
  'crm-plus': 'not_supported',
};

/**
 * Erasure of one donor of one customer (GDPR, or Raise's isGDPRDeleted): every destination that
 * can erase a person does so first (marketing archives the member), then the state store and the
 * warehouse are redacted in one transaction (DonorErasureRepository), and the erasure record
 * says who asked, when, and how many rows each table lost. Idempotent: a completed erasure is
 * answered as it is; a destination that cannot be reached leaves the erasure pending with
 * nothing redacted yet (the emails it needs are still there), and the next call runs it again.
 * Meanwhile the pending record already stops the donor's events from being synced out.
 */
export class DonorErasureService {
  constructor(
    private readonly erasures: DonorErasureRepository,
    private readonly adapters: AdapterRegistry,
    private readonly codec: EventCodec,
  ) {}

  async erase(
    scope: CustomerScope,
    donorId: string,
    destinations: readonly DestinationContext[],
    request: DonorErasureRequest,
  ): Promise<DonorErasureView> {
    const existing = await this.erasures.get(scope, donorId);
    if (existing?.status === 'completed') {
      return existing;
    }
    await this.erasures.request(scope, donorId, request.trigger, request.requestedBy);
    const emails = [
      ...new Set([
        ...(await this.erasures.knownEmails(scope, donorId)),
        ...(request.emails ?? []).map((e) => e.trim().toLowerCase()).filter((e) => e.includes('@')),
      ]),
    ];
    const outcomes: Record<string, string> = {};
    for (const ctx of destinations) {
      const adapter = this.adapters.has(ctx.kind) ? this.adapters.get(ctx.kind) : undefined;
      outcomes[ctx.name] = adapter?.erasePerson
        ? await adapter.erasePerson(ctx, { sourceId: donorId, emails })
        : (WITHOUT_ADAPTER_ERASURE[ctx.kind] ?? 'not_supported');
    }
    return this.erasures.complete(scope, donorId, await this.recordsOf(scope, donorId), outcomes);
  }

  /** The donor's gifts and recurring gifts: the warehouse's, and the stored payloads naming it. */
  private async recordsOf(scope: CustomerScope, donorId: string): Promise<DonorRecordIds> {
    const known = await this.erasures.warehouseRecordIds(scope, donorId);
    const gifts = new Set(known.gifts);
    const recurringGifts = new Set(known.recurringGifts);
    for (const stored of await this.erasures.giftPayloads(scope)) {
      const decoded = await this.codec.decode(stored.payload);
      if (!decoded.ok) {
        if (decoded.error.retriable) {
          throw decoded.error; // registry down: the erasure stays pending and runs again
        }
        continue; // an undecodable payload names nobody we can tell
      }
      if (donorIdOf(decoded.event) === donorId) {
        (stored.resource === 'gift' ? gifts : recurringGifts).add(stored.sourceId);
      }
    }
    return { gifts: [...gifts], recurringGifts: [...recurringGifts] };
  }
}

/** The donor a gift or recurring gift event names (its record's donorId). */
export function donorIdOf(event: SourceEvent): string | null {
  if (event.resource !== 'gift' && event.resource !== 'recurring_gift') {
    return null;
  }
  const record = event.record;
  return record?.donorId ?? null;
}

/**
 * The service as a Nest provider (`providers: [donorErasureProvider]`). Needs the process's
 * DonorErasureRepository (stateRepositoryProviders), AdapterRegistry and EventCodec.
 */
export const donorErasureProvider = {
  provide: DonorErasureService,
  inject: [DonorErasureRepository, AdapterRegistry, EventCodec],
  useFactory: (
    erasures: DonorErasureRepository,
    adapters: AdapterRegistry,
    codec: EventCodec,
  ): DonorErasureService => new DonorErasureService(erasures, adapters, codec),
};

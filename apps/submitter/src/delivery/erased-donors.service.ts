import { Inject, Injectable } from '@nestjs/common';
import { DonorErasureService, donorIdOf } from '@raise-sync/destinations';
import type { RaiseDonor, RaiseGift, SourceEvent } from '@raise-sync/shared/events';
import { EventCodec, type Topics } from '@raise-sync/shared/kafka';
import { TOPICS } from '@raise-sync/shared/service';
import { DonorErasureRepository, customerScope } from '@raise-sync/shared/state';
import { PinoLogger } from 'nestjs-pino';
import { DestinationDirectory } from './destination-directory.service';
import type { WorkItem } from './outcome';

/** Who an automatic erasure is recorded as requested by. */
export const GDPR_FLAG_REQUESTER = 'raise (isGDPRDeleted)';

/** Whether a donor event carries Raise's GDPR deletion flag (in the source model, `raw`). */
export function isGdprDeleted(event: SourceEvent): boolean {
  if (event.resource !== 'donor' || event.record === null) {
    return false;
  }
  try {
    const model: unknown = JSON.parse(event.record.raw);
    return (model as { isGDPRDeleted?: unknown } | null)?.isGDPRDeleted === true;
  } catch {
    return false; // an unparsable raw model carries no flag
  }
}

/** Keys of a Raise gift model that describe its donor rather than the gift. */
const DONOR_KEYS =
  /^(donor(?!Id$).*|.*e-?mail.*|.*phone.*|(first|middle|last|full)_?name|title|suffix|.*address.*|billing.*|city|state|postal.*|zip.*|country.*)$/i;

/**
 * A gift or recurring gift of an erased donor, without the donor's personal data: the donor's
 * email and the donor part of the raw model go; amounts, dates and keys stay.
 */
export function withoutDonorData(event: SourceEvent): SourceEvent {
  if (event.record === null || (event.resource !== 'gift' && event.resource !== 'recurring_gift')) {
    return event;
  }
  const record = { ...(event.record as RaiseGift) };
  if ('donorEmail' in record) {
    record.donorEmail = null;
  }
  try {
    const model = JSON.parse(record.raw) as Record<string, unknown>;
    record.raw = JSON.stringify(
      Object.fromEntries(Object.entries(model).filter(([key]) => !DONOR_KEYS.test(key))),
    );
  } catch {
    record.raw = '{}';
  }
  return { ...event, record } as SourceEvent;
}

/**
 * The erasure of donors at delivery time, for every path that hands events to the engine
 * (source topics, retry topics, lanes):
 * - a donor event flagged `isGDPRDeleted` runs the erasure (trigger 'isGDPRDeleted') once:
 *   DonorErasureService answers a completed erasure as it is;
 * - an event of an erased (or being erased) donor is not synced out (`erased`: skipped by every
 *   destination, not learned as a related record), and its gifts go out without the donor's
 *   data (`donorErased`, re-encoded so a retry or dead letter keeps only the redacted copy, and
 *   never completed with the donor from Raise).
 */
@Injectable()
export class ErasedDonors {
  constructor(
    private readonly erasures: DonorErasureRepository,
    private readonly service: DonorErasureService,
    private readonly directory: DestinationDirectory,
    private readonly codec: EventCodec,
    @Inject(TOPICS) private readonly topics: Topics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('erasure');
  }

  async apply(customerId: string, items: WorkItem[]): Promise<void> {
    const scope = customerScope(customerId);
    const flagged = new Map<string, string[]>();
    for (const { event } of items) {
      if (isGdprDeleted(event)) {
        const emails = flagged.get(event.recordId) ?? [];
        const email = (event.record as RaiseDonor).email;
        flagged.set(event.recordId, email ? [...emails, email] : emails);
      }
    }
    for (const [donorId, emails] of flagged) {
      await this.eraseFlagged(customerId, donorId, emails);
    }
    const named = items
      .map(({ event }) => (event.resource === 'donor' ? event.recordId : donorIdOf(event)))
      .filter((id): id is string => id !== null);
    if (named.length === 0) {
      return;
    }
    const erased = await this.erasures.erasedAmong(scope, named);
    if (erased.size === 0) {
      return;
    }
    for (const item of items) {
      if (item.event.resource === 'donor' && erased.has(item.event.recordId)) {
        item.erased = true;
      } else if (erased.has(donorIdOf(item.event) ?? '')) {
        item.donorErased = true;
        item.event = withoutDonorData(item.event);
        // A retry, a lane or a dead letter keeps the message's bytes: they carry the redacted copy.
        item.message = {
          ...item.message,
          value: await this.codec.encode(
            this.topics.sourceEvents(item.event.source, item.event.resource),
            item.event,
          ),
        };
      }
    }
  }

  private async eraseFlagged(customerId: string, donorId: string, emails: string[]): Promise<void> {
    const scope = customerScope(customerId);
    if ((await this.erasures.get(scope, donorId))?.status === 'completed') {
      return;
    }
    try {
      const erasure = await this.service.erase(
        scope,
        donorId,
        await this.directory.forCustomer(customerId),
        { trigger: 'isGDPRDeleted', requestedBy: GDPR_FLAG_REQUESTER, emails },
      );
      this.log.info(
        { customerId, donorId, trigger: 'isGDPRDeleted', rowsRedacted: erasure.rowsRedacted },
        'erased a donor flagged isGDPRDeleted',
      );
    } catch (error) {
      // The erasure stays pending (its record already stops the donor being synced out); the
      // admin call or CLI runs it again.
      this.log.warn(
        { customerId, donorId, err: (error as Error).message },
        'erasure of a donor flagged isGDPRDeleted left pending',
      );
    }
  }
}

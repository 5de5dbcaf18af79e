import { Inject, Injectable } from '@nestjs/common';
import type { RaiseGift, SourceEvent } from '@raise-sync/shared/events';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { SourceClients } from '@raise-sync/sources/service';
import {
  SourceUnavailableError,
  parseSourceTime,
  primaryEmailOf,
  raiseToRecord,
} from '@raise-sync/sources';
import { CustomerRepository, customerScope } from '@raise-sync/shared/state';
import type { WorkItem } from './delivery-engine.service';
import { RelatedRecordRepository } from './related-record.repository';

type Model = Record<string, unknown>;

/** Donors fetched from Raise at once per customer and chunk. */
const FETCH_CONCURRENCY = 4;
/** A fetch that takes longer than this (slow source) makes the event retry instead. */
const FETCH_TIMEOUT_MS = 10_000;
/** Donor versions this process stored lately, so a backfill's 2000 gifts of one donor write it once. */
const STORED_CACHE_SIZE = 50_000;

interface KnownDonor {
  model: Model;
  modifiedAt: Date;
  learnedFrom: 'event' | 'embedded' | 'fetched';
}

const asModel = (value: unknown): Model | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Model) : null;

function parseRaw(raw: string | null | undefined): Model | null {
  if (!raw) {
    return null;
  }
  try {
    return asModel(JSON.parse(raw));
  } catch {
    return null;
  }
}

/**
 * A Raise gift upsert with a donor ID but no donor email: a webhook copy (no donor embedded), or
 * a copy whose embedded donor had no email then.
 */
function withoutDonorEmail(event: SourceEvent): boolean {
  if (event.source !== 'raise' || event.resource !== 'gift' || event.record === null) {
    return false;
  }
  const gift = event.record;
  return gift.donorId !== null && gift.donorEmail === null;
}

/**
 * Completes events whose payload lacks a record they point at, so every destination gets the same
 * fields for a version whichever path brought it. A Raise gift webhook carries `donorId` but not
 * the donor; a poll or backfill copy of the same version embeds it (`includeDetails`). The gift
 * is rebuilt with the donor embedded, through the same mapping a poll copy takes, so `donorEmail`
 * and `raw.donor` (CRM+ contact names, the accounting contact) come out identical.
 *
 * Why here and not in ingest: completing may need a source request, which waits on the customer's
 * rate budget and on Raise. On the webhook path that wait would delay the 2xx Raise waits for (and
 * a source outage would turn into refused webhooks); here a failed fetch is just a retry. It also
 * serves every path that delivers an incomplete copy again: retries, dead-letter re-drives and
 * topic replays of webhook copies are completed the same way.
 *
 * The donor comes from `related_records` (the latest donor version this customer's events have
 * shown: donor events of any origin and donors embedded in gifts), else from `GET /api/Donor/{id}`
 * under the customer's shared budget (counted, then stored). A donor Raise does not know leaves
 * the gift as received; a customer without a Raise token too (nothing to ask).
 */
@Injectable()
export class RecordCompletion {
  /** `<customer>\0<donor>` → modified time (ms) of the version stored last (insertion-ordered LRU). */
  private readonly stored = new Map<string, number>();

  constructor(
    private readonly related: RelatedRecordRepository,
    private readonly customers: CustomerRepository,
    private readonly clients: SourceClients,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('record-completion');
  }

  /**
   * Stores the donor versions the items show (donor upserts, donors embedded in gifts; donor
   * deletes remove the row). Returns the donors whose stored version now has an email: dead
   * letters waiting for them can be re-driven.
   */
  async learn(customerId: string, items: readonly WorkItem[]): Promise<string[]> {
    const newest = new Map<string, KnownDonor>();
    const deleted = new Map<string, Date>();
    const offer = (id: string, donor: KnownDonor): void => {
      if ((this.stored.get(`${customerId}\u0000${id}`) ?? -1) >= donor.modifiedAt.getTime()) {
        return; // stored already (by this process), nothing newer
      }
      const current = newest.get(id);
      if (!current || donor.modifiedAt.getTime() > current.modifiedAt.getTime()) {
        newest.set(id, donor);
      }
    };
    for (const { event, echo, erased, donorErased } of items) {
      if (event.source !== 'raise' || echo || erased || donorErased) {
        continue;
      }
      if (event.resource === 'donor') {
        if (event.operation === 'delete') {
          deleted.set(event.recordId, event.sourceModifiedAt);
          continue;
        }
        const model = parseRaw((event.record as { raw?: string } | null)?.raw);
        if (model) {
          offer(event.recordId, {
            model,
            modifiedAt: event.sourceModifiedAt,
            learnedFrom: 'event',
          });
        }
      } else if (event.resource === 'gift' && event.record !== null) {
        const gift = event.record;
        const donor = asModel(parseRaw(gift.raw)?.donor);
        const modifiedAt = parseSourceTime(donor?.modifiedDate);
        if (donor && modifiedAt && gift.donorId !== null) {
          offer(gift.donorId, { model: donor, modifiedAt, learnedFrom: 'embedded' });
        }
      }
    }
    if (deleted.size > 0) {
      await this.related.forgetDonors(customerScope(customerId), deleted);
      for (const id of deleted.keys()) {
        newest.delete(id);
        this.stored.delete(`${customerId}\u0000${id}`);
      }
    }
    if (newest.size === 0) {
      return [];
    }
    const changed = await this.store(customerId, newest);
    return changed.filter((id) => {
      const model = newest.get(id)?.model;
      return model !== undefined && primaryEmailOf(model) !== null;
    });
  }

  /**
   * Rebuilds the items' incomplete gifts with their donor embedded. An item whose donor could not
   * be had right now gets `unavailable`, so no destination receives a copy without its donor: a
   * source failure is retried at every destination, and a donor not read by `deadline` (epoch ms;
   * the customer's rate budget or a slow source) is marked as pacing, which waits in the
   * destinations' lanes without spending an attempt. The deadline bounds how long one customer's
   * reads can hold the chunk (and every other customer in it).
   */
  async complete(
    customerId: string,
    items: readonly WorkItem[],
    deadline = Number.POSITIVE_INFINITY,
  ): Promise<void> {
    const candidates = items.filter(
      (item) => !item.echo && !item.donorErased && withoutDonorEmail(item.event),
    );
    if (candidates.length === 0) {
      return;
    }
    const embeddedOf = (item: WorkItem): Model | null =>
      asModel(parseRaw((item.event.record as RaiseGift).raw)?.donor);
    const donorIds = [
      ...new Set(candidates.map((i) => (i.event.record as RaiseGift).donorId as string)),
    ];
    const known = await this.known(customerId, donorIds);
    // Only gifts without an embedded donor are worth a source request; an embedded donor is the
    // donor as of that copy, replaced only by a newer version already known.
    const missing = [
      ...new Set(
        candidates
          .filter((i) => !embeddedOf(i))
          .map((i) => (i.event.record as RaiseGift).donorId as string),
      ),
    ].filter((id) => !known.has(id));
    const unavailable = new Map<string, Error>();
    let noCredentials = false;
    if (missing.length > 0) {
      const fetched = await this.fetch(customerId, missing, deadline);
      noCredentials = fetched.noCredentials;
      for (const [id, result] of fetched.results) {
        if (result instanceof Error) {
          unavailable.set(id, result);
        } else if (result) {
          known.set(id, result);
        }
      }
    }
    for (const item of candidates) {
      const gift = item.event.record as RaiseGift;
      const donorId = gift.donorId as string;
      const donor = known.get(donorId);
      const embedded = embeddedOf(item);
      if (embedded) {
        const embeddedAt = parseSourceTime(embedded.modifiedDate)?.getTime() ?? 0;
        if (donor && donor.modifiedAt.getTime() > embeddedAt) {
          item.event = withDonor(item.event, gift, donor.model);
          this.count(customerId, 'known');
        }
        continue;
      }
      const failure = unavailable.get(donorId);
      if (failure) {
        item.unavailable = failure;
        this.count(
          customerId,
          (failure as SourceUnavailableError).pacing ? 'paced' : 'unavailable',
        );
      } else if (donor) {
        item.event = withDonor(item.event, gift, donor.model);
        this.count(customerId, missing.includes(donorId) ? 'fetched' : 'known');
      } else {
        this.count(customerId, noCredentials ? 'no_credentials' : 'not_found');
      }
    }
  }

  private count(customerId: string, outcome: string): void {
    this.metrics.recordsCompleted.inc({ customer_id: customerId, resource: 'gift', outcome });
  }

  private async known(customerId: string, donorIds: string[]): Promise<Map<string, KnownDonor>> {
    const rows = await this.related.donors(customerScope(customerId), donorIds);
    return new Map(
      rows.map((r) => [
        r.source_id,
        {
          model: r.model,
          modifiedAt: new Date(r.source_modified_at),
          learnedFrom: r.learned_from,
        },
      ]),
    );
  }

  /** Writes newer versions only; returns the IDs whose row was inserted or moved forward. */
  private async store(customerId: string, donors: Map<string, KnownDonor>): Promise<string[]> {
    const entries = [...donors.entries()];
    const changed = await this.related.storeDonors(customerScope(customerId), entries);
    for (const [id, donor] of entries) {
      const key = `${customerId}\u0000${id}`;
      this.stored.delete(key);
      this.stored.set(key, donor.modifiedAt.getTime());
    }
    while (this.stored.size > STORED_CACHE_SIZE) {
      this.stored.delete(this.stored.keys().next().value as string);
    }
    return changed;
  }

  /**
   * GET /api/Donor/{id} for each ID (a few at a time) until `deadline`; stores what Raise returns.
   * An ID not read by then (not started, or still waiting for the budget) gets a pacing error.
   */
  private async fetch(
    customerId: string,
    ids: string[],
    deadline: number,
  ): Promise<{ noCredentials: boolean; results: Map<string, KnownDonor | Error | null> }> {
    const results = new Map<string, KnownDonor | Error | null>();
    let token: string | undefined;
    try {
      token = (await this.customers.credentials(customerScope(customerId))).raise?.apiToken;
    } catch (error) {
      // The customer row is gone (offboarded meanwhile): nothing to ask.
      this.log.warn({ customerId, err: (error as Error).message }, 'no credentials to read');
    }
    if (!token) {
      return { noCredentials: true, results };
    }
    const creds = { customerId, token };
    const outOfTime = (id: string): SourceUnavailableError =>
      new SourceUnavailableError(
        `donor ${id} of the gift was not read in this pass (rate budget or slow source)`,
        undefined,
        { pacing: true },
      );
    const bounded = Number.isFinite(deadline);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(FETCH_CONCURRENCY, ids.length) }, async () => {
        while (next < ids.length) {
          const id = ids[next++] as string;
          const left = deadline - Date.now();
          if (left <= 0) {
            results.set(id, outOfTime(id));
            continue;
          }
          const signal = bounded
            ? AbortSignal.any([AbortSignal.timeout(FETCH_TIMEOUT_MS), AbortSignal.timeout(left)])
            : AbortSignal.timeout(FETCH_TIMEOUT_MS);
          try {
            const model = await this.clients.raise.get(creds, 'donor', id, signal);
            const fields = asModel(model);
            const modifiedAt = parseSourceTime(fields?.modifiedDate);
            results.set(
              id,
              fields && modifiedAt ? { model: fields, modifiedAt, learnedFrom: 'fetched' } : null,
            );
          } catch (error) {
            if (bounded && Date.now() >= deadline) {
              results.set(id, outOfTime(id));
              continue;
            }
            const message = error instanceof Error ? error.message : String(error);
            results.set(
              id,
              new SourceUnavailableError(`donor ${id} of the gift could not be read: ${message}`),
            );
          }
        }
      }),
    );
    const found = new Map(
      [...results].filter(
        (e): e is [string, KnownDonor] => e[1] !== null && !(e[1] instanceof Error),
      ),
    );
    if (found.size > 0) {
      await this.store(customerId, found);
    }
    const errors = [...results.values()].filter((r) => r instanceof Error);
    const failed = errors.filter((e) => !(e as SourceUnavailableError).pacing).length;
    if (failed > 0) {
      this.log.warn(
        { customerId, donors: ids.length, failed },
        'donors of gifts could not be read',
      );
    }
    return { noCredentials: false, results };
  }
}

/** The gift rebuilt as a poll copy would be: its source model with the donor embedded. */
function withDonor(event: SourceEvent, gift: RaiseGift, donor: Model): SourceEvent {
  const model = parseRaw(gift.raw);
  if (!model) {
    return event;
  }
  try {
    const mapped = raiseToRecord('gift', { ...model, donor });
    // The version stays the one the event carries (the donor's own time is not the gift's).
    const record: RaiseGift = { ...mapped.record, modifiedDate: gift.modifiedDate };
    return { ...event, record } as SourceEvent;
  } catch {
    return event;
  }
}

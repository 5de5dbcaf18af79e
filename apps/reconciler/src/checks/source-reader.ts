import { Injectable } from '@nestjs/common';
import type { Resource, Source } from '@raise-sync/shared/events';
import { SourceClients } from '@raise-sync/sources/service';
import {
  RAISE_OPERATORS,
  RAISE_PARAMETERS,
  isRaiseResource,
  raiseToRecord,
  vomoToRecord,
  type MapOptions,
  type RaiseResource,
} from '@raise-sync/sources';
import { readAhead } from './run-support';

/** One source record as events carry it. */
export interface SourceRecord {
  recordId: string;
  sourceModifiedAt: Date;
  record: unknown;
}

/** A record the source sent in a shape that cannot be mapped (counted and logged, never lost silently). */
export interface UnreadableRecord {
  id: string | null;
  error: string;
}

export interface SourcePage {
  records: SourceRecord[];
  unreadable: UnreadableRecord[];
}

export interface WindowRead {
  customerId: string;
  token: string;
  source: Source;
  resource: Resource;
  start: Date;
  end: Date;
  pageSize: number;
  signal: AbortSignal;
}

export interface IdPage {
  ids: string[];
  lastId: string;
}

/** Raise pages requested ahead of the one being compared (memory: this many + 1 pages). */
const READ_AHEAD = 2;

/**
 * A window check republishes only its few gaps, so a record's `raw` JSON is serialized only when
 * one is published (the comparison needs the ID and the version).
 */
const LAZY_RAW: MapOptions = { raw: 'deferred' };

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

function idOf(item: unknown): string | null {
  const id = typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : undefined;
  return typeof id === 'number' || typeof id === 'string' ? String(id) : null;
}

/**
 * Reads what a reconciliation compares, a page at a time, from the source APIs (through the
 * customer-wide rate budget): records modified in a window, or every record ID in ID order.
 * A Raise window is read ahead (READ_AHEAD pages): the next request goes out as soon as Raise
 * answered one, so Raise prepares pages while this one is mapped and compared; a VOMO window,
 * which has no upper bound and stops at the first page past its end, is read a page at a time.
 * Nothing here holds more than READ_AHEAD + 1 pages.
 */
@Injectable()
export class SourceReader {
  constructor(private readonly clients: SourceClients) {}

  /** Records whose modified time is in [start, end), page by page. */
  async *window(read: WindowRead): AsyncGenerator<SourcePage> {
    if (read.source === 'raise' && isRaiseResource(read.resource)) {
      yield* this.raiseWindow(read, read.resource);
    } else if (read.source === 'vomo' && read.resource === 'user') {
      yield* this.vomoWindow(read);
    } else {
      throw new Error(`no reader for ${read.source}/${read.resource}`);
    }
  }

  private async *raiseWindow(
    read: WindowRead,
    resource: RaiseResource,
  ): AsyncGenerator<SourcePage> {
    const creds = { customerId: read.customerId, token: read.token };
    const pages = this.clients.raise.streamModifiedSince(creds, resource, {
      after: null,
      pageSize: read.pageSize,
      // Gifts carry their donor, exactly like polled ones (CRM+ needs the donor's email).
      includeDetails: resource === 'gift',
      signal: read.signal,
      extraConditions: [
        {
          parameter: RAISE_PARAMETERS.modified,
          operator: RAISE_OPERATORS.greaterThanOrEqual,
          value: read.start.toISOString(),
        },
        {
          parameter: RAISE_PARAMETERS.modified,
          operator: RAISE_OPERATORS.lessThan,
          value: read.end.toISOString(),
        },
      ],
    });
    for await (const page of readAhead(pages, READ_AHEAD)) {
      yield mapPage(page.items, (item) => raiseToRecord(resource, item as never, LAZY_RAW), read);
    }
  }

  /**
   * VOMO lists users by updated_at with a lower bound only: read from the window start and stop
   * at the first page past its end.
   */
  private async *vomoWindow(read: WindowRead): AsyncGenerator<SourcePage> {
    const creds = { customerId: read.customerId, token: read.token };
    const pages = this.clients.vomo.streamUpdatedSince(creds, {
      after: { at: new Date(read.start.getTime() - 1), id: '' },
      signal: read.signal,
    });
    for await (const page of pages) {
      yield mapPage(page.items, (item) => vomoToRecord(item, LAZY_RAW), read);
      if (page.cursor.at.getTime() >= read.end.getTime()) {
        return;
      }
    }
  }

  /** Every record ID of a Raise resource in ascending ID order (deletion detection). */
  async *ids(
    customerId: string,
    token: string,
    resource: RaiseResource,
    pageSize: number,
    signal: AbortSignal,
  ): AsyncGenerator<IdPage> {
    const pages = this.clients.raise.streamById({ customerId, token }, resource, {
      afterId: null,
      pageSize,
      signal,
    });
    for await (const page of pages) {
      yield { ids: page.items.flatMap((item) => idOf(item) ?? []), lastId: page.lastId };
    }
  }
}

function mapPage<T>(
  items: T[],
  map: (item: T) => SourceRecord,
  window: { start: Date; end: Date },
): SourcePage {
  const page: SourcePage = { records: [], unreadable: [] };
  for (const item of items) {
    try {
      const mapped = map(item);
      const at = mapped.sourceModifiedAt.getTime();
      if (at >= window.start.getTime() && at < window.end.getTime()) {
        page.records.push(mapped);
      }
    } catch (error) {
      page.unreadable.push({ id: idOf(item), error: messageOf(error) });
    }
  }
  return page;
}

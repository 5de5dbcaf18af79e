import type { Resource, SourceEvent } from '@raise-sync/shared/events';
import { ConfigReader, LookupNotSupportedError, deliverWithSettings } from '../adapter-support';
import { DestinationHttp, type DestinationHttpOptions } from '../http/destination-http';
import { parseFieldMapConfig } from '../mapping/field-map';
import type {
  DeliveryResult,
  DestinationAdapter,
  DestinationContext,
  ErasedPerson,
  LookupResult,
} from '../port';
import {
  MARKETING_PROTECTED_FIELDS,
  type MarketingMappingSettings,
  donorToMember,
  subscriberHashOf,
  userToMember,
} from './marketing.mapping';

const NAME = 'marketing';

export interface MarketingSettings extends MarketingMappingSettings {
  baseUrl: string;
  token: string;
  listId: string;
  /** Sync VOMO users too. Default false. */
  includeVolunteers: boolean;
}

export function marketingSettings(ctx: DestinationContext): MarketingSettings {
  const config = new ConfigReader(ctx, NAME);
  return {
    baseUrl: config.url('baseUrl'),
    token: config.secret('token'),
    listId: config.requiredString('listId'),
    includeVolunteers: config.boolean('includeVolunteers', false),
    tags: config.stringList('tags'),
    fieldMap: parseFieldMapConfig(ctx.config.fieldMap, MARKETING_PROTECTED_FIELDS),
  };
}

export interface MarketingAdapterOptions extends DestinationHttpOptions {
  /** Members written at once per batch. Default 4. */
  concurrency?: number;
}

/**
 * A Mailchimp-like list: donors (and VOMO users when `includeVolunteers`) are upserted as members
 * keyed by the md5 of their lower-cased email (`PUT /lists/{listId}/members/{hash}`), with
 * FNAME/LNAME merge fields, tags, and a status that follows the email opt-in (nobody is
 * subscribed without it). Test-mode donors and people without email are skipped; a delete
 * archives the member. Gifts, recurring gifts and campaigns are not taken.
 */
export class MarketingAdapter implements DestinationAdapter {
  readonly kind = 'marketing' as const;
  private readonly http: DestinationHttp;
  private readonly concurrency: number;

  constructor(options: MarketingAdapterOptions = {}) {
    this.http = new DestinationHttp(options);
    this.concurrency = options.concurrency ?? 4;
  }

  accepts(resource: Resource, ctx: DestinationContext): boolean {
    return resource === 'donor' || (resource === 'user' && ctx.config.includeVolunteers === true);
  }

  async deliver(
    ctx: DestinationContext,
    events: SourceEvent[],
  ): Promise<Array<DeliveryResult | Error>> {
    return deliverWithSettings(
      events,
      () => marketingSettings(ctx),
      { concurrency: this.concurrency, collapse: true },
      (settings, event) => this.deliverOne(ctx, settings, event),
    );
  }

  private membersUrl(settings: MarketingSettings, hash: string): string {
    return `${settings.baseUrl}/lists/${encodeURIComponent(settings.listId)}/members/${hash}`;
  }

  intentionalSkip(ctx: DestinationContext, event: SourceEvent): string | null {
    if (
      !this.accepts(event.resource, ctx) ||
      !(event.resource === 'donor' || event.resource === 'user')
    ) {
      return `marketing does not take ${event.resource} records`;
    }
    if (event.operation === 'delete') {
      return null;
    }
    if (!event.record) {
      return 'upsert event without a record';
    }
    const settings = marketingSettings(ctx);
    const mapping =
      event.resource === 'donor'
        ? donorToMember(event.record, settings)
        : userToMember(event.record, settings);
    return mapping.kind === 'skip' ? mapping.reason : null;
  }

  private async deliverOne(
    ctx: DestinationContext,
    settings: MarketingSettings,
    event: SourceEvent,
  ): Promise<DeliveryResult> {
    if (!this.accepts(event.resource, ctx)) {
      return { outcome: 'skipped', reason: `marketing does not take ${event.resource} records` };
    }
    if (event.resource !== 'donor' && event.resource !== 'user') {
      return { outcome: 'skipped', reason: `marketing does not take ${event.resource} records` };
    }
    if (event.operation === 'delete') {
      // A list is keyed by email; a delete event normally carries no record, hence no email.
      const email = event.record?.email;
      if (!email) {
        return {
          outcome: 'skipped',
          reason: 'cannot archive: the delete event carries no email to find the member by',
        };
      }
      const hash = subscriberHashOf(email);
      await this.archive(settings, hash);
      return { outcome: 'delivered', destinationRecordId: hash };
    }
    if (!event.record) {
      return { outcome: 'skipped', reason: 'upsert event without a record' };
    }
    const mapping =
      event.resource === 'donor'
        ? donorToMember(event.record, settings)
        : userToMember(event.record, settings);
    if (mapping.kind === 'skip') {
      return { outcome: 'skipped', reason: mapping.reason };
    }
    await this.http.request({
      destination: NAME,
      method: 'PUT',
      url: this.membersUrl(settings, mapping.subscriberHash),
      route: 'PUT /lists/{listId}/members/{hash}',
      token: settings.token,
      body: mapping.body,
    });
    return { outcome: 'delivered', destinationRecordId: mapping.subscriberHash };
  }

  /** Archives the member (a missing one is fine): the list API's delete. True when it existed. */
  private async archive(settings: MarketingSettings, hash: string): Promise<boolean> {
    const response = await this.http.request({
      destination: NAME,
      method: 'POST',
      url: `${this.membersUrl(settings, hash)}/actions/archive`,
      route: 'POST /lists/{listId}/members/{hash}/actions/archive',
      token: settings.token,
      acceptStatuses: [404],
    });
    return response.status !== 404;
  }

  /**
   * Erasure: archives the member of every email known for the person ('archived', or
   * 'not_found' when the list holds none of them). Archived, not deleted permanently: the
   * list API's permanent delete also forbids the address from ever being re-added, and the
   * simulated API offers archive only.
   */
  async erasePerson(ctx: DestinationContext, person: ErasedPerson): Promise<string> {
    const settings = marketingSettings(ctx);
    let archived = 0;
    for (const email of new Set(person.emails.map((e) => e.trim().toLowerCase()))) {
      if (email && (await this.archive(settings, subscriberHashOf(email)))) {
        archived += 1;
      }
    }
    return archived > 0 ? 'archived' : 'not_found';
  }

  /** A list is keyed by email, not by source ID: reconciliation cannot ask it about a record. */
  lookup(_ctx: DestinationContext, resource: Resource, _sourceId: string): Promise<LookupResult> {
    return Promise.reject(
      new LookupNotSupportedError(
        `marketing lists are keyed by email; a ${resource} cannot be looked up by its source ID`,
      ),
    );
  }

  /** `GET /ping`: checks the URL and the token. */
  async health(ctx: DestinationContext): Promise<void> {
    const settings = marketingSettings(ctx);
    await this.http.request({
      destination: NAME,
      method: 'GET',
      url: `${settings.baseUrl}/ping`,
      route: 'GET /ping',
      token: settings.token,
    });
  }
}

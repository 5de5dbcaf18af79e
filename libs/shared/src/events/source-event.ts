import { createHash } from 'node:crypto';

/** Which records each source produces. Resource names match the Avro enum symbols. */
export const SOURCE_RESOURCES = {
  raise: ['donor', 'gift', 'recurring_gift', 'campaign'],
  vomo: ['user'],
} as const;

export type Source = keyof typeof SOURCE_RESOURCES;
export type Resource = (typeof SOURCE_RESOURCES)[Source][number];
export const SOURCES = Object.keys(SOURCE_RESOURCES) as Source[];

export const OPERATIONS = ['upsert', 'delete'] as const;
export type Operation = (typeof OPERATIONS)[number];

export const ORIGINS = ['webhook', 'poll', 'backfill', 'reconcile', 'replay'] as const;
export type Origin = (typeof ORIGINS)[number];

/** Every (source, resource) pair the pipeline carries, in a stable order. */
export function allSourceResources(): Array<{ source: Source; resource: Resource }> {
  return SOURCES.flatMap((source) =>
    SOURCE_RESOURCES[source].map((resource: Resource) => ({ source, resource })),
  );
}

export interface RaiseDonor {
  id: string;
  name: string | null;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  emailOptIn: boolean | null;
  phone: string | null;
  isOrganization: boolean;
  organizationName: string | null;
  isTestMode: boolean;
  isArchived: boolean;
  crmKey: string | null;
  crmSecondKey: string | null;
  createdDate: Date | null;
  modifiedDate: Date | null;
  raw: string;
}

export interface RaiseGift {
  id: string;
  donorId: string | null;
  recurringGiftId: string | null;
  campaignName: string | null;
  amount: string;
  currency: string;
  giftDate: string | null;
  statusText: string | null;
  isTestMode: boolean;
  isAnonymous: boolean;
  paymentType: string | null;
  transactionId: string | null;
  donorEmail: string | null;
  createdDate: Date | null;
  modifiedDate: Date | null;
  raw: string;
}

export interface RaiseRecurringGift {
  id: string;
  donorId: string | null;
  amount: string;
  currency: string;
  frequencyText: string | null;
  statusText: string | null;
  startDate: string | null;
  nextChargeDate: string | null;
  crmKey: string | null;
  isTestMode: boolean;
  createdDate: Date | null;
  modifiedDate: Date | null;
  raw: string;
}

export interface RaiseCampaign {
  id: string;
  name: string;
  description: string | null;
  canSync: boolean;
  crmKey: string | null;
  startDate: string | null;
  endDate: string | null;
  createdDateTime: Date | null;
  modifiedDateTime: Date | null;
  raw: string;
}

export interface VomoUser {
  id: string;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  phone: string | null;
  userStatus: string | null;
  membershipStatus: string | null;
  membershipRole: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  raw: string;
}

/** The record type carried by each resource's topic. */
export interface RecordByResource {
  donor: RaiseDonor;
  gift: RaiseGift;
  recurring_gift: RaiseRecurringGift;
  campaign: RaiseCampaign;
  user: VomoUser;
}

interface EnvelopeFields<R extends Resource> {
  eventId: string;
  customerId: string;
  source: Source;
  resource: R;
  operation: Operation;
  origin: Origin;
  /** The record's ID in the source system. */
  recordId: string;
  sourceModifiedAt: Date;
  capturedAt: Date;
  schemaVersion: number;
  /** The record as of sourceModifiedAt; null for deletes. */
  record: RecordByResource[R] | null;
}

/** One change captured from a source, as it travels through Kafka (Avro) and the apps. */
export type SourceEvent<R extends Resource = Resource> = R extends Resource
  ? EnvelopeFields<R>
  : never;

/**
 * Deterministic event ID: the same change of the same record always gets the same ID, whether it
 * arrived by webhook, poll, backfill or replay, so duplicates are recognisable downstream.
 */
export function eventIdFor(
  source: Source,
  resource: Resource,
  recordId: string,
  sourceModifiedAt: Date,
): string {
  return createHash('sha256')
    .update(`${source}\u0000${resource}\u0000${recordId}\u0000${sourceModifiedAt.toISOString()}`)
    .digest('hex')
    .slice(0, 32);
}

/** What a caller provides to build an event; eventId and schemaVersion are derived, capturedAt defaults to now. */
export type NewSourceEventFields<R extends Resource> = Omit<
  EnvelopeFields<R>,
  'eventId' | 'capturedAt' | 'schemaVersion'
> & {
  capturedAt?: Date;
};

/** Builds an event, filling in eventId, capturedAt and schemaVersion. */
export function newSourceEvent<R extends Resource>(
  fields: NewSourceEventFields<R>,
): SourceEvent<R> {
  const event: EnvelopeFields<R> = {
    ...fields,
    eventId: eventIdFor(fields.source, fields.resource, fields.recordId, fields.sourceModifiedAt),
    capturedAt: fields.capturedAt ?? new Date(),
    schemaVersion: 1,
  };
  return event as SourceEvent<R>;
}

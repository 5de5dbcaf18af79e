import { randomUUID } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { SecretBox } from '@raise-sync/shared/crypto';
import { newSourceEvent, type SourceEvent } from '@raise-sync/shared/events';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import { EventCodec, EventProducer, KafkaConnection, topicsFor } from '@raise-sync/shared/kafka';
import {
  CustomerRepository,
  DestinationEntity,
  type DestinationKind,
  customerScope,
} from '@raise-sync/shared/state';
import {
  adminClient,
  type AdminCall,
  type RunningApp,
  type TestStack,
  startIngestApp,
  startStackApp,
} from '@raise-sync/testing';
import type { Simulator } from '@raise-sync/simulators';

export const ADMIN_TOKEN = randomBytes(24).toString('hex');
export const SECRETS_KEY = randomBytes(32).toString('hex');
export const box = SecretBox.fromHex(SECRETS_KEY);

export interface SubmitterUnderTest {
  app: RunningApp;
  admin: AdminCall;
}

export async function startSubmitter(
  stack: TestStack,
  topicPrefix: string,
  env: Record<string, string> = {},
): Promise<SubmitterUnderTest> {
  const app = await startStackApp('submitter', stack, topicPrefix, {
    SECRETS_KEY,
    ADMIN_TOKEN,
    SUBMITTER_RETRY_DELAYS_MS: '1000,2000,4000',
    SUBMITTER_DELIVERY_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'info',
    ...env,
  });
  return {
    app,
    admin: adminClient(app.url, ADMIN_TOKEN),
  };
}

/**
 * The built ingest next to the submitter under test (same topics, keys and admin token), for tests
 * that need records to arrive the real way: signed webhooks from the simulated Raise.
 */
export function startIngest(
  stack: TestStack,
  topicPrefix: string,
  sim: Simulator,
  sourceRateLimits = 'raise=50:50,vomo=50:50',
): Promise<RunningApp> {
  return startIngestApp(stack, topicPrefix, sim, {
    SECRETS_KEY,
    ADMIN_TOKEN,
    SOURCE_RATE_LIMITS: sourceRateLimits,
  });
}

export interface TestCustomer {
  id: string;
  destinations: Record<string, { id: string; kind: DestinationKind; account: string }>;
}

/**
 * A customer with destinations, written straight to the state store (the admin API of ingest is
 * tested elsewhere); each HTTP destination gets its own simulator account.
 */
export async function createCustomer(
  stack: TestStack,
  sim: Simulator,
  name: string,
  kinds: DestinationKind[],
): Promise<TestCustomer> {
  const customer = await new CustomerRepository(stack.dataSource, box).create(
    customerScope(randomUUID()),
    {
      name,
      status: 'live',
    },
  );
  const destinations: TestCustomer['destinations'] = {};
  for (const kind of kinds) {
    const account = `${name}-${kind}`;
    const token = `tok-${account}`;
    const secret = `sec-${account}-0123456789`;
    let config: Record<string, unknown> = {};
    if (kind !== 'warehouse') {
      sim.destinations.createAccount({
        kind,
        id: account,
        token,
        secret,
        listId: 'donors',
        hourlyLimit: 10_000_000,
      });
      const base = {
        'crm-plus': sim.crmUrl,
        accounting: sim.accountingUrl,
        marketing: sim.marketingUrl,
        webhook: sim.hooksUrl,
      }[kind];
      config =
        kind === 'webhook'
          ? { url: `${sim.hooksUrl}/${account}` }
          : kind === 'marketing'
            ? { baseUrl: base, listId: 'donors' }
            : { baseUrl: base };
    }
    const repo = stack.dataSource.getRepository(DestinationEntity);
    const row = await repo.save(
      repo.create({
        customerId: customer.id,
        kind,
        name: kind,
        config,
        secrets: box.sealJson(kind === 'webhook' ? { secret } : { token }),
        enabled: true,
      }),
    );
    destinations[kind] = { id: row.id, kind, account };
  }
  return { id: customer.id, destinations };
}

let giftSeq = 5_000_000;

/** A gift event (full record) for a customer; `overrides` change the record. */
export function giftEvent(
  customerId: string,
  options: {
    id?: number;
    modifiedAt?: Date;
    email?: string | null;
    statusText?: string;
    amount?: string;
    origin?: SourceEvent['origin'];
    operation?: 'upsert' | 'delete';
  } = {},
): SourceEvent {
  const id = String(options.id ?? giftSeq++);
  const modified = options.modifiedAt ?? new Date();
  return newSourceEvent({
    customerId,
    source: 'raise',
    resource: 'gift',
    operation: options.operation ?? 'upsert',
    origin: options.origin ?? 'webhook',
    recordId: id,
    sourceModifiedAt: modified,
    record:
      options.operation === 'delete'
        ? null
        : {
            ...SAMPLE_RECORDS.gift,
            id,
            amount: options.amount ?? '25.00',
            statusText: options.statusText ?? 'Success',
            donorEmail: options.email === undefined ? `donor${id}@example.org` : options.email,
            donorId: String(Number(id) % 1000),
            modifiedDate: modified,
            raw: JSON.stringify({ id: Number(id) }),
          },
  } as never);
}

/** A producer writing events to the source topics the way ingest does (Avro, customer-first keys). */
export interface TestPublisher {
  send(events: SourceEvent[]): Promise<void>;
  close(): Promise<void>;
}

export async function openPublisher(stack: TestStack, topicPrefix: string): Promise<TestPublisher> {
  const kafka = KafkaConnection.create({ brokers: stack.kafkaBrokers, clientId: 'test-publisher' });
  const producer = new EventProducer(kafka, new EventCodec(stack.registryUrl));
  await producer.connect();
  const topics = topicsFor(topicPrefix);
  return {
    send: async (events) => {
      const byTopic = new Map<string, SourceEvent[]>();
      for (const e of events) {
        // Where the pipeline writes them: backfill, reconcile and replay copies to the bulk lane.
        const topic =
          e.origin === 'webhook' || e.origin === 'poll'
            ? topics.sourceEvents(e.source, e.resource)
            : topics.bulkEvents(e.source, e.resource);
        byTopic.set(topic, [...(byTopic.get(topic) ?? []), e]);
      }
      for (const [topic, list] of byTopic) {
        for (let i = 0; i < list.length; i += 2000) {
          await producer.publish(topic, list.slice(i, i + 2000));
        }
      }
    },
    close: () => producer.disconnect(),
  };
}

/** Writes events to the source topics once (see openPublisher). */
export async function publish(
  stack: TestStack,
  topicPrefix: string,
  events: SourceEvent[],
): Promise<void> {
  const publisher = await openPublisher(stack, topicPrefix);
  try {
    await publisher.send(events);
  } finally {
    await publisher.close();
  }
}

export interface LedgerRowView {
  customerId: string;
  destination: string;
  received: number;
  delivered: number;
  skipped: number;
  deadLettered: number;
  /** Held until the source is fixed (needs_source_fix). */
  needsSourceFix: number;
  inRetry: number;
  /** Parked in the destination's lane. */
  waiting: number;
  breaker: 'open' | 'closed';
  imbalance: number;
}

let donorSeq = 700_000;

/** A donor event (full record). */
export function donorEvent(
  customerId: string,
  options: {
    id?: number;
    modifiedAt?: Date;
    email?: string | null;
    optIn?: boolean;
    testMode?: boolean;
  } = {},
): SourceEvent {
  const id = String(options.id ?? donorSeq++);
  const modified = options.modifiedAt ?? new Date();
  return newSourceEvent({
    customerId,
    source: 'raise',
    resource: 'donor',
    operation: 'upsert',
    origin: 'webhook',
    recordId: id,
    sourceModifiedAt: modified,
    record: {
      ...SAMPLE_RECORDS.donor,
      id,
      firstName: `First${id}`,
      lastName: `Last${id}`,
      name: `First${id} Last${id}`,
      email: options.email === undefined ? `person${id}@example.org` : options.email,
      emailOptIn: options.optIn ?? true,
      isTestMode: options.testMode ?? false,
      modifiedDate: modified,
      raw: JSON.stringify({ id: Number(id) }),
    },
  } as never);
}

export async function ledgerOf(
  submitter: SubmitterUnderTest,
  customerId: string,
): Promise<LedgerRowView[]> {
  const { body } = await submitter.admin<LedgerRowView[]>(
    'GET',
    `/admin/ledger?customerId=${customerId}`,
  );
  return body;
}

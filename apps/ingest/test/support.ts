import { randomBytes, randomUUID } from 'node:crypto';
import { type Resource, type SourceEvent } from '@raise-sync/shared/events';
import { EventCodec } from '@raise-sync/shared/kafka';
import { topicsFor } from '@raise-sync/shared/kafka';
import {
  adminClient,
  startIngestApp,
  type AdminCall,
  type RunningApp,
  type TestStack,
} from '@raise-sync/testing';
import type { Simulator } from '@raise-sync/simulators';
import { RAISE_WEBHOOK_HEADERS, signRaiseWebhook } from '@raise-sync/sources';

export const ADMIN_TOKEN = randomBytes(24).toString('hex');

export interface IngestUnderTest {
  app: RunningApp;
  topicPrefix: string;
  admin: AdminCall;
}

/** Starts the built ingest app against the test stack and the simulator. */
export async function startIngest(
  stack: TestStack,
  sim: Simulator,
  env: Record<string, string> = {},
  topicPrefix = `${stack.prefix}-ingest`,
): Promise<IngestUnderTest> {
  const app = await startIngestApp(stack, topicPrefix, sim, {
    SECRETS_KEY: SECRETS_KEY,
    ADMIN_TOKEN,
    POLL_TICK_MS: '200',
    SOURCE_RATE_LIMITS: 'raise=50:50,vomo=50:50',
    LOG_LEVEL: 'info',
    ...env,
  });
  return {
    app,
    topicPrefix,
    admin: adminClient(app.url, ADMIN_TOKEN),
  };
}

/** One key for every ingest process of a test file, so restarts can read what earlier ones sealed. */
export const SECRETS_KEY = randomBytes(32).toString('hex');

export interface OnboardedCustomer {
  id: string;
  org: string;
  raiseToken: string;
  vomoToken: string;
}

/** Creates a simulator org and the matching customer through the admin API. */
export async function onboard(
  ingest: IngestUnderTest,
  sim: Simulator,
  org: string,
  options: {
    webhooks?: boolean;
    polling?: { enabled: boolean; intervalSeconds?: number };
    vomo?: boolean;
    data?: Record<string, number>;
  } = {},
): Promise<OnboardedCustomer> {
  const raiseToken = `raise-${org}-${randomBytes(6).toString('hex')}`;
  const vomoToken = `vomo-${org}-${randomBytes(6).toString('hex')}`;
  sim.control.createOrg({
    id: org,
    raiseToken,
    vomoToken,
    donors: 5,
    gifts: 5,
    recurringGifts: 2,
    campaigns: 2,
    users: 5,
    ...options.data,
  });
  const created = await ingest.admin<{ id: string; webhookSubscription: string }>(
    'POST',
    '/admin/customers',
    {
      name: `Customer ${org}`,
      raise: { apiToken: raiseToken },
      ...(options.vomo ? { vomo: { apiToken: vomoToken } } : {}),
      polling: options.polling ?? { enabled: false },
      // The Raise webhook is subscribed as part of onboarding unless the test opts out.
      subscribeWebhooks: options.webhooks !== false,
    },
  );
  if (created.status !== 201) {
    throw new Error(
      `onboarding ${org} answered ${created.status}: ${JSON.stringify(created.body)}`,
    );
  }
  const expected = options.webhooks !== false ? 'subscribed' : 'opted_out';
  if (created.body.webhookSubscription !== expected) {
    throw new Error(`onboarding ${org}: webhook ${JSON.stringify(created.body)}`);
  }
  return { id: created.body.id, org, raiseToken, vomoToken };
}

/**
 * Stores a Raise webhook secret for the customer (a fresh random one unless given), as a customer
 * does before it signs deliveries itself; throws unless the admin API answered 200.
 */
export async function setWebhookSecret(
  ingest: IngestUnderTest,
  customerId: string,
  secret = `whsec_${randomBytes(16).toString('hex')}`,
): Promise<string> {
  const set = await ingest.admin('PUT', `/admin/customers/${customerId}/sources/raise`, {
    webhookSecret: secret,
  });
  if (set.status !== 200) {
    throw new Error(`setting the webhook secret answered ${set.status}`);
  }
  return secret;
}

/** Every event on `topic` (decoded), read from the beginning until `count` arrived. */
export async function readEvents(
  stack: TestStack,
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<Array<{ key: string; event: SourceEvent }>> {
  const codec = new EventCodec(stack.registryUrl);
  const records = await stack.consumeAll(topic, { count, timeoutMs });
  const out: Array<{ key: string; event: SourceEvent }> = [];
  for (const record of records) {
    const decoded = await codec.decode(record.value);
    if (!decoded.ok) {
      throw new Error(`undecodable message on ${topic}: ${decoded.error.message}`);
    }
    out.push({ key: record.key ?? '', event: decoded.event });
  }
  return out;
}

export const topics = (prefix: string) => topicsFor(prefix);

/** Messages in `topic` right now: the sum of partition high watermarks (no transactions here). */
export async function topicMessageCount(stack: TestStack, topic: string): Promise<number> {
  return stack.kafka.messageCount(topic);
}

/**
 * Every event of a resource that ingest published: its live topic and its bulk topic (where a
 * customer's events beyond INGEST_LIVE_SHARE go, e.g. a first poll reading a whole history).
 */
export async function readResourceEvents(
  stack: TestStack,
  prefix: string,
  source: 'raise' | 'vomo',
  resource: Resource,
): Promise<Array<{ key: string; event: SourceEvent }>> {
  const t = topics(prefix);
  const out: Array<{ key: string; event: SourceEvent }> = [];
  for (const topic of [t.sourceEvents(source, resource), t.bulkEvents(source, resource)]) {
    const count = await topicMessageCount(stack, topic);
    if (count > 0) {
      out.push(...(await readEvents(stack, topic, count)));
    }
  }
  return out;
}

/** The headers Raise signs a delivery with, for `body` signed with `secret` at `ts`. */
export function raiseSignedHeaders(
  secret: string,
  body: string,
  ts = Math.floor(Date.now() / 1000),
): Record<string, string> {
  return {
    'content-type': 'application/json',
    [RAISE_WEBHOOK_HEADERS.timestamp]: String(ts),
    [RAISE_WEBHOOK_HEADERS.signature]: signRaiseWebhook(secret, ts, body),
    [RAISE_WEBHOOK_HEADERS.deliveryId]: randomUUID(),
  };
}

export { raiseGiftWebhookBody } from '@raise-sync/testing/fixtures';

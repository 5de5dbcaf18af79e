import { randomUUID } from 'node:crypto';
import { RAISE_WEBHOOK_HEADERS, signRaiseWebhook } from '@raise-sync/sources';
import { expectEventually, scrapeMetric, useTestStack } from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  onboard,
  raiseGiftWebhookBody,
  readEvents,
  startIngest,
  topicMessageCount,
  topics,
  type IngestUnderTest,
  type OnboardedCustomer,
  setWebhookSecret,
} from './support';

/**
 * "A 202 means durable", against the broker's real 1 MB message limit: oversized events, events
 * near the limit that must not share a request, a topic whose writes fail, and ordinary traffic
 * of several customers, all at once. Afterwards every 202's event is in its topic.
 */
describe('ingest: a 202 only for what the broker stored, one tenant never fails another (real Kafka)', () => {
  const stack = useTestStack();
  let sim: Simulator;
  let ingest: IngestUnderTest;
  const customers: Array<OnboardedCustomer & { secret: string }> = [];
  let nextId = 100_000;

  const topicOf = (resource: 'gift' | 'donor' | 'campaign'): string =>
    topics(ingest.topicPrefix).sourceEvents('raise', resource);

  /**
   * Makes every write to one topic fail on the real broker, the way a lost partition does: the
   * topic is deleted (the client retries "does not host this topic-partition" for seconds, then
   * fails), and created again with the same partitions to repair it. (min.insync.replicas above
   * the replication factor does not do it: Kafka 3.9 caps it at the replica count.)
   */
  const partitionCounts = new Map<string, number>();
  const breakWrites = async (resource: 'gift' | 'donor' | 'campaign', broken: boolean) => {
    const topic = topicOf(resource);
    if (broken) {
      const counts = await stack.kafka.partitionCounts([topic]);
      partitionCounts.set(topic, counts.get(topic) || 6);
      await stack.kafka.deleteTopics([topic]);
    } else {
      // Until the deletion is complete the topic still exists (or creating it fails): try again.
      await expectEventually(
        async () =>
          expect(
            await stack.kafka.ensureTopics([
              {
                topic,
                numPartitions: partitionCounts.get(topic) ?? 6,
                replicationFactor: 1,
                configs: {},
              },
            ]),
          ).toEqual({ created: [topic], underPartitioned: [] }),
        { timeoutMs: 30_000, intervalMs: 500 },
      );
    }
  };

  const body = (eventType: number, data: Record<string, unknown>): string =>
    JSON.stringify({ eventType, contextId: data['id'], data });
  const gift = raiseGiftWebhookBody;
  const donor = (id: number): string =>
    body(31, {
      id,
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: `ada${id}@example.org`,
      createdDate: '2026-11-20T10:00:00.000Z',
      modifiedDate: '2026-11-20T10:00:01.000Z',
    });
  /** A campaign whose description takes `chars` characters (the event holds it twice). */
  const campaign = (id: number, chars: number): string =>
    body(41, {
      id,
      name: `Campaign ${id}`,
      description: 'x'.repeat(chars),
      startDate: null,
      endDate: null,
      canSync: true,
      crmKey: null,
      createdDateTime: '2026-11-20T10:00:00.000Z',
      modifiedDateTime: '2026-11-20T10:00:01.000Z',
    });

  interface Answer {
    status: number;
    eventId?: string;
    error?: string;
    resource: string;
    ms: number;
  }
  const send = async (
    c: { id: string; secret: string },
    resource: 'gift' | 'donor' | 'campaign',
    payload: string,
  ): Promise<Answer> => {
    const ts = Math.floor(Date.now() / 1000);
    const started = Date.now();
    const response = await fetch(`${ingest.app.url}/webhooks/raise/${c.id}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [RAISE_WEBHOOK_HEADERS.timestamp]: String(ts),
        [RAISE_WEBHOOK_HEADERS.signature]: signRaiseWebhook(c.secret, ts, payload),
        [RAISE_WEBHOOK_HEADERS.deliveryId]: randomUUID(),
      },
      body: payload,
    });
    const json = (await response.json()) as { eventId?: string; error?: string };
    return { status: response.status, ...json, resource, ms: Date.now() - started };
  };

  /** Event IDs in the topic right now. */
  const stored = async (resource: 'gift' | 'donor' | 'campaign'): Promise<Set<string>> => {
    const count = await topicMessageCount(stack, topicOf(resource));
    const events = count === 0 ? [] : await readEvents(stack, topicOf(resource), count, 60_000);
    return new Set(events.map((e) => e.event.eventId));
  };

  beforeAll(async () => {
    sim = await startSimulator({ seed: 21 });
    // The broker's own limit (1 MB); ingest's body limit stays its default (1 MiB).
    ingest = await startIngest(stack, sim, { PUBLISH_TIMEOUT_MS: '20000' });
    for (const org of ['north', 'south', 'east']) {
      const c = await onboard(ingest, sim, `${org}-${stack.prefix}`, { webhooks: false });
      const secret = await setWebhookSecret(ingest, c.id);
      customers.push({ ...c, secret });
    }
  });

  afterAll(async () => {
    await ingest?.app.stop('SIGTERM');
    await sim?.stop();
  });

  it('oversized events get 413 alone, near-limit ones and other tenants get 202, a failing topic fails only its own callers; every 202 is stored', async () => {
    const [north, south, east] = customers as [
      (typeof customers)[0],
      (typeof customers)[0],
      (typeof customers)[0],
    ];
    await breakWrites('donor', true);
    const answers = await Promise.all([
      // north: three ~700 KB campaign bodies (about 1.4 MB as events): cannot fit the broker
      ...[1, 2, 3].map(() => send(north, 'campaign', campaign(nextId++, 700_000))),
      // south: eight campaigns of ~900 KB as events; with 6 partitions some share one, and no
      // two of them fit one request together
      ...Array.from({ length: 8 }, () => send(south, 'campaign', campaign(nextId++, 440_000))),
      // east: donors while the donor topic refuses every write
      ...Array.from({ length: 4 }, () => send(east, 'donor', donor(nextId++))),
      // everyone: ordinary gifts
      ...customers.flatMap((c) =>
        Array.from({ length: 25 }, () => send(c, 'gift', gift(nextId++))),
      ),
    ]);
    await breakWrites('donor', false);

    const by = (resource: string) => answers.filter((a) => a.resource === resource);
    const oversized = answers.slice(0, 3);
    const nearLimit = answers.slice(3, 11);
    expect(oversized.map((a) => [a.status, a.error])).toEqual(
      Array.from({ length: 3 }, () => [413, 'event_too_large']),
    );
    expect(nearLimit.map((a) => a.status)).toEqual(Array.from({ length: 8 }, () => 202));
    expect(by('donor').map((a) => a.status)).toEqual([503, 503, 503, 503]);
    expect(by('gift').map((a) => a.status)).toEqual(Array.from({ length: 75 }, () => 202));
    // The failing donor topic (retried by the client for seconds) delayed no gift: each was
    // answered well before the donors' failure came back.
    const slowestGift = Math.max(...by('gift').map((a) => a.ms));
    const fastestDonorFailure = Math.min(...by('donor').map((a) => a.ms));
    expect(slowestGift).toBeLessThan(fastestDonorFailure);

    // Every 202 is in its topic; no 413 is.
    const inTopics = new Set([
      ...(await stored('gift')),
      ...(await stored('campaign')),
      ...(await stored('donor')),
    ]);
    const accepted = answers.filter((a) => a.status === 202);
    expect(accepted.filter((a) => !inTopics.has(a.eventId ?? '')).map((a) => a.eventId)).toEqual(
      [],
    );
    expect(accepted.length).toBe(83);

    // Refusals are counted per customer; the topic that failed takes writes again.
    expect(
      await scrapeMetric(ingest.app.url, 'raise_sync_events_refused_total', {
        customer_id: north.id,
        reason: 'too_large',
      }),
    ).toBe(3);
    await expectEventually(
      async () => {
        const again = await send(east, 'donor', donor(nextId++));
        expect(again.status).toBe(202);
        expect((await stored('donor')).has(again.eventId ?? '')).toBe(true);
      },
      { timeoutMs: 60_000 },
    );
  });

  it('a producer that refuses every write takes readiness down, is recreated, and recovers by itself', async () => {
    const [north] = customers as [(typeof customers)[0]];
    const ready = async (): Promise<number> =>
      (await fetch(`${ingest.app.url}/health/ready`)).status;
    expect(await ready()).toBe(200);
    await breakWrites('gift', true);
    try {
      // Enough failing sends to cross the threshold: 12 keys spread over the 6 partitions' lanes,
      // each lane its own request.
      const failed = await Promise.all(
        Array.from({ length: 12 }, () => send(north, 'gift', gift(nextId++))),
      );
      expect(failed.map((a) => a.status)).toEqual(Array.from({ length: 12 }, () => 503));
      await expectEventually(async () => expect(await ready()).toBe(503), { timeoutMs: 30_000 });
      expect(await scrapeMetric(ingest.app.url, 'raise_sync_producer_healthy', {})).toBe(0);
      await expectEventually(
        async () =>
          expect(
            await scrapeMetric(ingest.app.url, 'raise_sync_producer_recreated_total', {}),
          ).toBeGreaterThanOrEqual(1),
        { timeoutMs: 30_000 },
      );
    } finally {
      await breakWrites('gift', false);
    }
    // No restart, no operator: the next delivery is stored and readiness comes back.
    await expectEventually(
      async () => {
        const answer = await send(north, 'gift', gift(nextId++));
        expect(answer.status).toBe(202);
      },
      { timeoutMs: 60_000 },
    );
    await expectEventually(async () => expect(await ready()).toBe(200), { timeoutMs: 30_000 });
    expect(await scrapeMetric(ingest.app.url, 'raise_sync_producer_healthy', {})).toBe(1);
  });
});

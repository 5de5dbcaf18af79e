import { randomBytes } from 'node:crypto';
import { type SourceEvent } from '@raise-sync/shared/events';
import { EventCodec } from '@raise-sync/shared/kafka';
import { EventProducer, KafkaConnection, retryHeaders, topicsFor } from '@raise-sync/shared/kafka';
import { expectEventually, scrapeMetric, useTestStack } from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  createCustomer,
  giftEvent,
  ledgerOf,
  publish,
  startSubmitter,
  type LedgerRowView,
  type SubmitterUnderTest,
} from './support';

jest.setTimeout(300_000);

/** Retry tiers scaled down from 30 s / 5 min / 1 h, in the same proportions to the waits below. */
const DELAYS_MS = [3000, 10_000, 60_000];

interface DeadLetterView {
  sourceId: string;
  reason: string;
  destinationId: string | null;
  errorMessage: string;
}

/**
 * Waiting is not failing: a destination's `Retry-After`, its rate budget or a CRM+ hourly budget
 * spends no attempt and dead-letters nothing, and one customer's long wait never holds up another
 * customer's short retries (retries go to the tier whose delay fits, and each tier is worked by
 * due time).
 */
describe('submitter: pacing is not failure, and one customer waiting never delays another', () => {
  const stack = useTestStack();
  const prefix = `${stack.prefix}-pace`;
  let sim: Simulator;
  let submitter: SubmitterUnderTest;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 13 });
    submitter = await startSubmitter(stack, prefix, {
      SUBMITTER_RETRY_DELAYS_MS: DELAYS_MS.join(','),
      SUBMITTER_MAX_ATTEMPTS: '4',
      // Breaker probes scaled down like the tiers (10 s first probe against a 30 s first tier).
      SUBMITTER_BREAKER_PROBE_MS: '1000',
      SUBMITTER_BREAKER_PROBE_MAX_MS: '4000',
    });
  });

  afterAll(async () => {
    await submitter?.app.stop('SIGTERM');
    await sim?.stop();
  });

  const rowOf = async (customerId: string, destination: string): Promise<LedgerRowView> => {
    const rows = await ledgerOf(submitter, customerId);
    const row = rows.find((r) => r.destination === destination);
    if (!row) {
      throw new Error(`no ledger row for ${destination} yet`);
    }
    return row;
  };

  it("A's Retry-After of an hour spends no attempt and does not hold up B's 3-second retries", async () => {
    const a = await createCustomer(stack, sim, `pa-${randomBytes(3).toString('hex')}`, ['webhook']);
    const b = await createCustomer(stack, sim, `pb-${randomBytes(3).toString('hex')}`, ['webhook']);
    const hookA = a.destinations.webhook!.account;
    const hookB = b.destinations.webhook!.account;
    sim.destinations.setDestinationFaults(hookA, { status: 429, retryAfterSeconds: 3600 });
    const aEvents = Array.from({ length: 40 }, () => giftEvent(a.id));
    await publish(stack, prefix, aEvents);
    await expectEventually(async () => {
      expect(await rowOf(a.id, 'webhook')).toMatchObject({ inRetry: aEvents.length });
    });
    // Paced: no attempt spent, due in about an hour.
    const entries = await stack.dataSource.query<Array<{ attempt: number; due_in: number }>>(
      `SELECT attempt, extract(epoch FROM due_at - now())::int AS due_in
         FROM retry_entries WHERE customer_id = $1`,
      [a.id],
    );
    expect(entries).toHaveLength(aEvents.length);
    expect(entries.every((e) => e.attempt === 0 && e.due_in > 3000)).toBe(true);

    // B fails once (503), which needs the first tier's retry.
    sim.destinations.setDestinationFaults(hookB, { status: 503 });
    const bEvents = Array.from({ length: 40 }, () => giftEvent(b.id));
    await publish(stack, prefix, bEvents);
    // In retry, or (once the failures open B's breaker) parked in B's lane: either way not lost.
    await expectEventually(async () => {
      const row = await rowOf(b.id, 'webhook');
      expect(row.inRetry + row.waiting).toBe(bEvents.length);
    });
    const recovered = Date.now();
    sim.destinations.clearDestinationFaults(hookB);
    await expectEventually(
      () => {
        const seen = new Set(
          sim.destinations
            .hookDeliveries(hookB)
            .map((d) => (d.body as { recordId?: string }).recordId),
        );
        expect(bEvents.filter((e) => !seen.has(e.recordId))).toEqual([]);
      },
      { timeoutMs: 60_000 },
    );
    const took = Date.now() - recovered;
    process.stdout.write(
      `pacing: B's ${bEvents.length} retries delivered ${took} ms after B recovered (first tier ${DELAYS_MS[0]} ms) while A's ${aEvents.length} wait an hour\n`,
    );
    // Well under A's hour and under the longest tier: B's retries never queued behind A's.
    expect(took).toBeLessThan(DELAYS_MS[2]! / 2);
    // The submitter records a delivery after the destination answered it, so the ledger can be a
    // moment behind what the destination saw (14 of 40 still counted in retry on a clean-clone
    // CI run that checked at once): wait for it.
    await expectEventually(async () => {
      expect(await rowOf(b.id, 'webhook')).toMatchObject({
        delivered: bEvents.length,
        inRetry: 0,
        deadLettered: 0,
        imbalance: 0,
      });
    });
    expect(await rowOf(a.id, 'webhook')).toMatchObject({
      inRetry: aEvents.length,
      deadLettered: 0,
      imbalance: 0,
    });
  });

  it("A's CRM+ backfill over ten budget windows: every record delivered, 0 dead letters, at most 1 attempt each, B not delayed", async () => {
    const a = await createCustomer(stack, sim, `qa-${randomBytes(3).toString('hex')}`, [
      'crm-plus',
    ]);
    const b = await createCustomer(stack, sim, `qb-${randomBytes(3).toString('hex')}`, [
      'crm-plus',
    ]);
    const crmA = a.destinations['crm-plus']!.account;
    const crmB = b.destinations['crm-plus']!.account;
    // A's CRM+ organisation: 10 requests per 2-second "hour", no reserve kept for others; one
    // request per gift, so 100 gifts need 10 windows.
    const LIMIT = 10;
    sim.destinations.removeAccount(crmA);
    sim.destinations.createAccount({
      kind: 'crm-plus',
      id: crmA,
      token: `tok-${crmA}`,
      hourlyLimit: LIMIT,
      hourlyWindowMs: 2000,
    });
    await stack.dataSource.query(
      `UPDATE destinations SET config = config || '{"reserve": 0}'::jsonb WHERE id = $1`,
      [a.destinations['crm-plus']!.id],
    );
    const aEvents = Array.from({ length: 100 }, () => giftEvent(a.id, { origin: 'backfill' }));
    const started = Date.now();
    await publish(stack, prefix, aEvents);

    // B's live gifts while A drains.
    await expectEventually(() => {
      expect(sim.destinations.crmGifts(crmA).length).toBeGreaterThan(0);
    });
    const bEvents = Array.from({ length: 20 }, () => giftEvent(b.id));
    const bSent = Date.now();
    await publish(stack, prefix, bEvents);
    await expectEventually(() => {
      expect(sim.destinations.crmGifts(crmB)).toHaveLength(bEvents.length);
    });
    const bTook = Date.now() - bSent;
    const aDoneWhenB = sim.destinations.crmGifts(crmA).length;

    await expectEventually(
      async () => {
        expect(sim.destinations.crmGifts(crmA)).toHaveLength(aEvents.length);
        expect(await rowOf(a.id, 'crm-plus')).toMatchObject({ inRetry: 0, imbalance: 0 });
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    const aTook = Date.now() - started;
    const stats = sim.destinations.destinationStats(crmA);
    const windows = Math.ceil((stats.requests.total - stats.rateLimited) / LIMIT);
    process.stdout.write(
      `pacing: A's ${aEvents.length} gifts through ${stats.requests.total} CRM+ requests (${windows} budget windows of ${LIMIT}, ${stats.rateLimited} answered 429) in ${aTook} ms; B's ${bEvents.length} gifts in ${bTook} ms (A had ${aDoneWhenB} then)\n`,
    );
    expect(windows).toBeGreaterThanOrEqual(10);
    expect(await rowOf(a.id, 'crm-plus')).toMatchObject({
      delivered: aEvents.length,
      deadLettered: 0,
    });
    const [attempts] = await stack.dataSource.query<Array<{ most: number }>>(
      `SELECT max(attempts)::int AS most FROM sync_records WHERE destination_id = $1`,
      [a.destinations['crm-plus']!.id],
    );
    expect(attempts?.most).toBe(1);
    // B was not held: it finished while A still had most of its backfill to go.
    expect(aDoneWhenB).toBeLessThan(aEvents.length);
    expect(bTook).toBeLessThan(aTook);
  });

  /** Writes a retry message for `event` at `destinationId` the way the engine does, due now. */
  async function publishRetry(event: SourceEvent, destinationId: string): Promise<void> {
    const topics = topicsFor(prefix);
    const kafka = KafkaConnection.create({ brokers: stack.kafkaBrokers, clientId: 'test-forger' });
    const producer = new EventProducer(kafka, new EventCodec(stack.registryUrl));
    await producer.connect();
    try {
      const message = await producer.toMessage(topics.sourceEvents('raise', 'gift'), event);
      await producer.publishRaw(topics.submitRetry('30s'), [
        {
          ...message,
          headers: {
            ...message.headers,
            ...retryHeaders({
              destinationId,
              attempt: 1,
              dueAt: new Date(),
              firstFailedAt: new Date(),
              lastError: 'forged',
              originalTopic: topics.sourceEvents('raise', 'gift'),
              originalPartition: 0,
              originalOffset: '0',
            }),
          },
        },
      ]);
    } finally {
      await producer.disconnect();
    }
  }

  it("a retry naming another customer's destination is refused as destination_mismatch", async () => {
    const a = await createCustomer(stack, sim, `ra-${randomBytes(3).toString('hex')}`, ['webhook']);
    const b = await createCustomer(stack, sim, `rb-${randomBytes(3).toString('hex')}`, ['webhook']);
    const event = giftEvent(a.id);
    await publishRetry(event, b.destinations.webhook!.id);
    let letters: DeadLetterView[] = [];
    await expectEventually(async () => {
      const { body } = await submitter.admin<DeadLetterView[]>(
        'GET',
        `/admin/dead-letters?customerId=${a.id}`,
      );
      letters = body;
      expect(letters).toHaveLength(1);
    });
    expect(letters[0]).toMatchObject({
      sourceId: event.recordId,
      reason: 'destination_mismatch',
      destinationId: null,
    });
    expect(sim.destinations.hookDeliveries(b.destinations.webhook!.account)).toHaveLength(0);
    await expect(
      scrapeMetric(submitter.app.url, 'raise_sync_dead_letters_total', {
        customer_id: a.id,
        reason: 'destination_mismatch',
      }),
    ).resolves.toBe(1);
  });

  it('a retry whose entry is written after its message waits for the entry, so in_retry settles', async () => {
    const c = await createCustomer(stack, sim, `rc-${randomBytes(3).toString('hex')}`, ['webhook']);
    const destinationId = c.destinations.webhook!.id;
    const event = giftEvent(c.id);
    await publishRetry(event, destinationId);
    // The engine's transaction (entry + "received") commits after the message is out; here it
    // is two seconds late, as on a loaded machine.
    await new Promise((r) => setTimeout(r, 2000));
    await stack.dataSource.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO retry_entries (destination_id, customer_id, event_id, resource, source_id, attempt, due_at, last_error, first_failed_at)
         VALUES ($1, $2, $3, 'gift', $4, 1, now(), 'late commit', now())`,
        [destinationId, c.id, event.eventId, event.recordId],
      );
      await tx.query(
        `INSERT INTO delivery_counts (customer_id, destination_id, outcome, n) VALUES ($1, $2, 'received', 1)`,
        [c.id, destinationId],
      );
    });
    await expectEventually(async () => {
      expect(await rowOf(c.id, 'webhook')).toMatchObject({
        received: 1,
        delivered: 1,
        inRetry: 0,
        imbalance: 0,
      });
    });
    expect(
      sim.destinations
        .hookDeliveries(c.destinations.webhook!.account)
        .map((d) => (d.body as { recordId?: string }).recordId),
    ).toEqual([event.recordId]);
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { RAISE_WEBHOOK_HEADERS, signRaiseWebhook } from '@raise-sync/sources';
import { expectEventually, scrapeMetric, useTestStack } from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  onboard,
  raiseGiftWebhookBody,
  raiseSignedHeaders,
  readEvents,
  startIngest,
  topicMessageCount,
  topics,
  type IngestUnderTest,
  type OnboardedCustomer,
  setWebhookSecret,
} from './support';

describe('ingest: signed webhooks into customer-keyed topics (real Kafka, registry, PostgreSQL)', () => {
  const stack = useTestStack();
  let sim: Simulator;
  let ingest: IngestUnderTest;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 11 });
    ingest = await startIngest(stack, sim, { WEBHOOK_MAX_BODY_BYTES: '65536' });
  });

  afterAll(async () => {
    await ingest?.app.stop('SIGTERM');
    await sim?.stop();
  });

  it('lands every simulator webhook of 3 customers on the right topic, keyed by customer, Avro-encoded', async () => {
    const customers: OnboardedCustomer[] = [];
    for (const org of ['alpha', 'bravo', 'charlie']) {
      customers.push(await onboard(ingest, sim, `${org}-${stack.prefix}`));
    }
    // Activity in each org: new gifts, updated donors, a deleted campaign, a recurring gift.
    const expected = new Map<string, number>(); // `${customerId}|${resource}` -> count
    const bump = (c: OnboardedCustomer, resource: string, n = 1): void => {
      const key = `${c.id}|${resource}`;
      expected.set(key, (expected.get(key) ?? 0) + n);
    };
    for (const [i, c] of customers.entries()) {
      for (let n = 0; n < 10 + i * 5; n += 1) {
        sim.control.createRecord(c.org, 'gift');
      }
      bump(c, 'gift', 10 + i * 5);
      const donors = sim.control.records(c.org, 'donor');
      for (const donor of donors.slice(0, 3)) {
        sim.control.updateRecord(c.org, 'donor', donor.id);
      }
      bump(c, 'donor', 3);
      const campaigns = sim.control.records(c.org, 'campaign');
      sim.control.deleteRecord(c.org, 'campaign', (campaigns[0] as { id: number }).id);
      bump(c, 'campaign');
      sim.control.createRecord(c.org, 'recurring_gift');
      bump(c, 'recurring_gift');
    }
    await sim.control.flushWebhooks();

    const t = topics(ingest.topicPrefix);
    for (const resource of ['gift', 'donor', 'campaign', 'recurring_gift'] as const) {
      const topic = t.sourceEvents('raise', resource);
      const want = customers.reduce((n, c) => n + (expected.get(`${c.id}|${resource}`) ?? 0), 0);
      expect(await topicMessageCount(stack, topic)).toBe(want);
      const events = await readEvents(stack, topic, want);
      for (const c of customers) {
        const mine = events.filter((e) => e.event.customerId === c.id);
        expect(mine).toHaveLength(expected.get(`${c.id}|${resource}`) ?? 0);
        for (const { key, event } of mine) {
          expect(key).toBe(`${c.id}:${resource}:${event.recordId}`);
          expect(event.origin).toBe('webhook');
          expect(event.resource).toBe(resource);
        }
      }
      const deletes = events.filter((e) => e.event.operation === 'delete');
      expect(deletes.every((e) => e.event.record === null)).toBe(true);
      expect(deletes).toHaveLength(resource === 'campaign' ? events.length : 0);
    }
    // The sets match exactly: every created gift ID of each org arrived, nothing else.
    const total = (suffix: string): number =>
      [...expected].filter(([k]) => k.endsWith(suffix)).reduce((n, [, v]) => n + v, 0);
    const giftEvents = await readEvents(stack, t.sourceEvents('raise', 'gift'), total('|gift'));
    for (const c of customers) {
      const simIds = sim.control
        .records(c.org, 'gift')
        .map((g) => String((g as { id: number }).id));
      const arrived = new Set(
        giftEvents.filter((e) => e.event.customerId === c.id).map((e) => e.event.recordId),
      );
      expect([...arrived].every((id) => simIds.includes(id))).toBe(true);
    }
    expect(
      await scrapeMetric(ingest.app.url, 'raise_sync_webhooks_total', { outcome: 'accepted' }),
    ).toBe(total(''));
    // Each customer's last webhook is recorded for the console, with its latest replay record's
    // time: the row the console reads once the replay records are pruned.
    const last = await stack.dataSource.query<
      Array<{ customer_id: string; at: Date; latest: Date | null }>
    >(
      `SELECT l.customer_id, l.received_at AS at,
              (SELECT max(w.received_at) FROM webhook_deliveries w
                WHERE w.customer_id = l.customer_id AND w.source = l.source) AS latest
         FROM webhook_last_deliveries l
        WHERE l.source = 'raise' AND l.customer_id = ANY($1::uuid[])`,
      [customers.map((c) => c.id)],
    );
    expect(last.map((r) => r.customer_id).sort()).toEqual(customers.map((c) => c.id).sort());
    for (const row of last) {
      expect(row.at.getTime()).toBe(row.latest?.getTime());
    }
  });

  describe('bad input: clear status, nothing produced, reason counted', () => {
    let customer: OnboardedCustomer;
    const secret = `whsec_${randomBytes(16).toString('hex')}`;
    const url = (id = customer.id): string => `${ingest.app.url}/webhooks/raise/${id}`;
    const giftBody = raiseGiftWebhookBody;
    const post = async (
      body: string,
      headers: Record<string, string>,
      id?: string,
    ): Promise<Response> =>
      fetch(url(id), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
    const signed = (body: string, ts = Math.floor(Date.now() / 1000)): Record<string, string> => ({
      [RAISE_WEBHOOK_HEADERS.timestamp]: String(ts),
      [RAISE_WEBHOOK_HEADERS.signature]: signRaiseWebhook(secret, ts, body),
      [RAISE_WEBHOOK_HEADERS.deliveryId]: randomUUID(),
    });
    const rejected = (reason: string, customerId = customer.id): Promise<number> =>
      scrapeMetric(ingest.app.url, 'raise_sync_webhooks_total', {
        customer_id: customerId,
        outcome: 'rejected',
        reason,
      });

    beforeAll(async () => {
      customer = await onboard(ingest, sim, `bad-${stack.prefix}`, { webhooks: false });
      await setWebhookSecret(ingest, customer.id, secret);
    });

    it.each([
      ['missing signature', 401, 'missing_signature', () => post(giftBody(9001), {})],
      [
        'wrong signature',
        401,
        'bad_signature',
        () =>
          post(giftBody(9002), {
            ...signed(giftBody(9002)),
            [RAISE_WEBHOOK_HEADERS.signature]: 'AAAA',
          }),
      ],
      [
        'signed by another secret',
        401,
        'bad_signature',
        () => {
          const ts = Math.floor(Date.now() / 1000);
          return post(giftBody(9003), {
            [RAISE_WEBHOOK_HEADERS.timestamp]: String(ts),
            [RAISE_WEBHOOK_HEADERS.signature]: signRaiseWebhook(
              'other-secret-123456',
              ts,
              giftBody(9003),
            ),
          });
        },
      ],
      [
        'stale (signed an hour ago)',
        401,
        'stale',
        () => post(giftBody(9004), signed(giftBody(9004), Math.floor(Date.now() / 1000) - 3600)),
      ],
      [
        'malformed JSON',
        400,
        'malformed_json',
        () => post('{"eventType": 10,', signed('{"eventType": 10,')),
      ],
      [
        'unknown event type',
        400,
        'unknown_event_type',
        () => {
          const body = JSON.stringify({ eventType: 55, contextId: 1, data: { id: 1 } });
          return post(body, signed(body));
        },
      ],
      [
        'record without a modified time',
        400,
        'malformed_record',
        () => {
          const body = JSON.stringify({ eventType: 10, contextId: 5, data: { id: 5, amount: 1 } });
          return post(body, signed(body));
        },
      ],
      [
        'body over the limit',
        413,
        'too_large',
        () => {
          const body = JSON.stringify({
            eventType: 10,
            contextId: 1,
            data: { id: 1, pad: 'x'.repeat(70_000) },
          });
          return post(body, signed(body));
        },
      ],
    ])('%s: %d', async (_name, status, reason, send) => {
      const before = await rejected(reason);
      const response = await send();
      expect(response.status).toBe(status);
      expect(((await response.json()) as { error: string }).error).toBe(reason);
      expect(await rejected(reason)).toBe(before + 1);
    });

    it('unknown customer: 404, counted without a customer label', async () => {
      const before = await rejected('unknown_customer', 'unknown');
      const response = await post(giftBody(9010), signed(giftBody(9010)), randomUUID());
      expect(response.status).toBe(404);
      expect(await rejected('unknown_customer', 'unknown')).toBe(before + 1);
    });

    it('a replayed delivery (same signed bytes) is refused with 409 and not written twice', async () => {
      const body = giftBody(9100);
      const headers = signed(body);
      expect((await post(body, headers)).status).toBe(202);
      const again = await post(body, headers);
      expect(again.status).toBe(409);
      expect(await rejected('replayed')).toBe(1);
      // Re-signed by the source (a genuine retry) it is accepted: duplicates are harmless downstream.
      // (A later attempt carries a later timestamp, hence a different signature.)
      expect((await post(body, signed(body, Math.floor(Date.now() / 1000) + 1))).status).toBe(202);
    });

    it('wrote nothing for any rejected delivery', async () => {
      const topic = topics(ingest.topicPrefix).sourceEvents('raise', 'gift');
      await expectEventually(async () => {
        const events = await readEvents(stack, topic, await topicMessageCount(stack, topic));
        const mine = events.filter((e) => e.event.customerId === customer.id);
        // Only the two accepted deliveries of gift 9100 (same event ID: a recognisable duplicate).
        expect(mine.map((e) => e.event.recordId)).toEqual(['9100', '9100']);
        expect(new Set(mine.map((e) => e.event.eventId)).size).toBe(1);
      });
    });
  });

  describe('replay check across replicas', () => {
    let second: IngestUnderTest | undefined;

    afterAll(async () => {
      await second?.app.stop('SIGTERM');
    });

    it('the same signed delivery sent at once to two replicas, ten times to each, is accepted once', async () => {
      // A second ingest on the same database and topics: the replay claims of both meet in
      // PostgreSQL's primary key, whatever statement each replica's group commit puts them in.
      second = await startIngest(stack, sim, {}, ingest.topicPrefix);
      const customer = await onboard(ingest, sim, `replicas-${stack.prefix}`, { webhooks: false });
      const secret = await setWebhookSecret(ingest, customer.id);
      const send = (base: string, id: number, ts: number): Promise<number> => {
        const body = raiseGiftWebhookBody(id);
        return fetch(`${base}/webhooks/raise/${customer.id}`, {
          method: 'POST',
          headers: raiseSignedHeaders(secret, body, ts),
          body,
        }).then((response) => response.status);
      };
      const ts = Math.floor(Date.now() / 1000);
      const replicas = [ingest.app.url, second.app.url];
      // The contested delivery, and around it 40 distinct ones that must all be accepted.
      const contested = replicas.flatMap((base) =>
        Array.from({ length: 10 }, () => send(base, 9500, ts)),
      );
      const others = Array.from({ length: 40 }, (_, i) =>
        send(replicas[i % 2] ?? '', 9600 + i, ts),
      );
      const statuses = await Promise.all(contested);
      expect(statuses.filter((s) => s === 202)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(19);
      expect(await Promise.all(others)).toEqual(Array.from({ length: 40 }, () => 202));

      const topic = topics(ingest.topicPrefix).sourceEvents('raise', 'gift');
      await expectEventually(async () => {
        const events = await readEvents(stack, topic, await topicMessageCount(stack, topic));
        const mine = events
          .filter((e) => e.event.customerId === customer.id)
          .map((e) => Number(e.event.recordId));
        expect(mine.sort((a, b) => a - b)).toEqual([
          9500,
          ...Array.from({ length: 40 }, (_, i) => 9600 + i),
        ]);
      });
    });
  });
});

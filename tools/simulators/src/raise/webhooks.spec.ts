import {
  RAISE_WEBHOOK_HEADERS,
  verifyRaiseSignature,
  type RaiseWebhookModel,
  type RaiseWebhookPayload,
} from '@raise-sync/sources';
import { call, startReceiver, waitFor, type Receiver } from '../../test/helpers';
import { startSimulator } from '../simulator';
import type { Simulator } from '../types';
import { parseRetryAfter } from './webhooks';

const SECRET = 'hook-secret';

async function subscribe(sim: Simulator, token: string, url: string, eventTypesList: number[]) {
  const { body } = await call<RaiseWebhookModel>(`${sim.raiseUrl}/api/Webhook`, {
    token,
    body: {
      name: 'spec',
      notificationUrl: url,
      eventTypesList,
      format: 1,
      status: 1,
      securityToken: SECRET,
    },
  });
  return body;
}

const header = (request: Receiver['requests'][number], name: string) =>
  String(request.headers[name]);

describe('webhook delivery', () => {
  let sim: Simulator;
  let orgCount = 0;

  /** A fresh org per test keeps logs, queues and stats apart. */
  function newOrg(seed = 5): { id: string; token: string } {
    orgCount++;
    const id = `org${orgCount}`;
    sim.control.createOrg({
      id,
      raiseToken: `${id}-raise`,
      vomoToken: `${id}-vomo`,
      seed,
      donors: 50,
      gifts: 200,
      recurringGifts: 5,
      campaigns: 4,
      users: 5,
    });
    return { id, token: `${id}-raise` };
  }

  beforeAll(async () => {
    sim = await startSimulator({ seed: 9, webhooks: { baseDelayMs: 20, attempts: 4 } });
  });

  afterAll(() => sim.stop());

  afterEach(() => sim.control.resetFaults());

  it('delivers signed payloads that verify with verifyRaiseSignature', async () => {
    const receiver = await startReceiver();
    try {
      const org = newOrg();
      await subscribe(sim, org.token, receiver.url, [10, 11, 12, 31]);
      const gift = sim.control.createRecord(org.id, 'gift', { amount: 77 });
      const updated = sim.control.updateRecord(org.id, 'gift', gift.id, { amount: 78 });
      const donor = sim.control.records(org.id, 'donor')[0]!;
      sim.control.updateRecord(org.id, 'donor', donor.id);
      sim.control.deleteRecord(org.id, 'gift', gift.id);
      sim.control.createRecord(org.id, 'campaign'); // 40: not subscribed
      await sim.control.flushWebhooks();

      expect(receiver.requests).toHaveLength(4);
      for (const request of receiver.requests) {
        const timestamp = Number(header(request, RAISE_WEBHOOK_HEADERS.timestamp));
        expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(30);
        expect(
          verifyRaiseSignature(
            SECRET,
            timestamp,
            request.raw,
            header(request, RAISE_WEBHOOK_HEADERS.signature),
          ),
        ).toBe(true);
        expect(header(request, RAISE_WEBHOOK_HEADERS.deliveryId)).toMatch(/^[0-9a-f-]{36}$/);
      }
      const payloads = receiver.requests.map((r) => r.json as RaiseWebhookPayload);
      expect(payloads.map((p) => p.eventType)).toEqual([10, 11, 31, 12]);
      expect(payloads[0]).toMatchObject({
        eventTypeDisplay: 'Gift Created',
        contextId: gift.id,
        data: { id: gift.id, amount: 77, modifiedDate: gift.modifiedDate },
      });
      // Each delivery carries the record as it was when the event happened.
      expect(payloads[1]!.data).toMatchObject({ amount: 78, modifiedDate: updated.modifiedDate });
      expect(payloads[3]).toMatchObject({ contextId: gift.id, data: { id: gift.id } });
      expect(Date.parse(String(payloads[3]!.data!.modifiedDate))).toBeGreaterThan(
        Date.parse(updated.modifiedDate),
      );
      expect(sim.control.stats(org.id).webhooks).toMatchObject({
        delivered: 4,
        failed: 0,
        pending: 0,
      });
    } finally {
      await receiver.close();
    }
  });

  it('lists the delivery log over the Raise API: newest first, Skip/Take, per subscription', async () => {
    // Deliveries to the first subscription fail every attempt; the second one answers 200.
    const failing = await startReceiver(() => 503);
    const working = await startReceiver(() => 200);
    try {
      const org = newOrg();
      const lost = await subscribe(sim, org.token, failing.url, [12]);
      const fine = await subscribe(sim, org.token, working.url, [12]);
      const id = sim.control.recordKeys(org.id, 'gift')[0]!.id;
      sim.control.deleteRecord(org.id, 'gift', id);
      await sim.control.flushWebhooks();
      type Entry = Record<string, unknown>;
      const all = await call<{ items: Entry[]; total: number }>(
        `${sim.raiseUrl}/api/Webhook/log/list?Skip=0&Take=100`,
        { token: org.token },
      );
      expect(all.status).toBe(200);
      // 4 failed attempts (the spec's simulator retries 4 times) + 1 success.
      expect(all.body.total).toBe(5);
      const ids = all.body.items.map((e) => e.id as number);
      expect(ids).toEqual([...ids].sort((a, b) => b - a));
      for (const entry of all.body.items) {
        expect(entry).toMatchObject({
          eventType: 12,
          eventTypeDisplay: 'Gift Deleted',
          contextId: id,
        });
        expect(typeof entry.createdDate).toBe('string');
        expect(entry.success).toBe(entry.webhookId === fine.id);
        expect(entry.httpStatusCode).toBe(entry.webhookId === fine.id ? 200 : 503);
        expect(typeof entry.serverResponse).toBe('string');
      }
      const second = await call<{ items: Entry[]; total: number }>(
        `${sim.raiseUrl}/api/Webhook/log/list?Skip=1&Take=2`,
        { token: org.token },
      );
      expect(second.body.items.map((e) => e.id)).toEqual(ids.slice(1, 3));
      expect(second.body.total).toBe(5);
      const mine = await call<{ items: Entry[]; total: number }>(
        `${sim.raiseUrl}/api/Webhook/${lost.id}/log/list`,
        { token: org.token },
      );
      expect(mine.body.total).toBe(4);
      expect(mine.body.items.every((e) => e.success === false)).toBe(true);
      expect((await call(`${sim.raiseUrl}/api/Webhook/log/list`, { token: 'nope' })).status).toBe(
        401,
      );
      expect(
        (await call(`${sim.raiseUrl}/api/Webhook/log/list?Take=-1`, { token: org.token })).status,
      ).toBe(400);
    } finally {
      await failing.close();
      await working.close();
    }
  });

  it('retries a 500 with backoff, reusing the delivery id and re-signing', async () => {
    const receiver = await startReceiver((_, index) => (index < 2 ? 500 : 200));
    try {
      const org = newOrg();
      await subscribe(sim, org.token, receiver.url, [10]);
      sim.control.createRecord(org.id, 'gift');
      await sim.control.flushWebhooks();
      expect(receiver.requests).toHaveLength(3);
      const ids = new Set(
        receiver.requests.map((r) => header(r, RAISE_WEBHOOK_HEADERS.deliveryId)),
      );
      expect(ids.size).toBe(1);
      for (const request of receiver.requests) {
        const timestamp = Number(header(request, RAISE_WEBHOOK_HEADERS.timestamp));
        expect(
          verifyRaiseSignature(
            SECRET,
            timestamp,
            request.raw,
            header(request, RAISE_WEBHOOK_HEADERS.signature),
          ),
        ).toBe(true);
      }
      // 20 ms, then 40 ms between attempts.
      expect(receiver.requests[2]!.at - receiver.requests[0]!.at).toBeGreaterThanOrEqual(55);
      const log = sim.control.webhookDeliveries(org.id);
      expect(log.map((entry) => [entry.attempt, entry.status])).toEqual([
        [1, 500],
        [2, 500],
        [3, 200],
      ]);
      expect(sim.control.stats(org.id).webhooks).toMatchObject({
        attempts: 3,
        delivered: 1,
        failed: 0,
      });
    } finally {
      await receiver.close();
    }
  });

  it('gives up after the configured attempts and counts the failure', async () => {
    const receiver = await startReceiver(() => 410);
    try {
      const org = newOrg();
      await subscribe(sim, org.token, receiver.url, [10]);
      sim.control.createRecord(org.id, 'gift');
      await sim.control.flushWebhooks();
      expect(receiver.requests).toHaveLength(4);
      expect(sim.control.stats(org.id).webhooks).toMatchObject({
        attempts: 4,
        delivered: 0,
        failed: 1,
      });
    } finally {
      await receiver.close();
    }
  });

  it("honours a receiver's 503 Retry-After", async () => {
    const receiver = await startReceiver((_, index) =>
      index === 0 ? { status: 503, headers: { 'retry-after': '1' } } : 200,
    );
    try {
      const org = newOrg();
      await subscribe(sim, org.token, receiver.url, [10]);
      sim.control.createRecord(org.id, 'gift');
      await sim.control.flushWebhooks();
      expect(receiver.requests).toHaveLength(2);
      expect(receiver.requests[1]!.at - receiver.requests[0]!.at).toBeGreaterThanOrEqual(950);
    } finally {
      await receiver.close();
    }
  });

  it('drops deliveries deterministically from the seed and remembers exactly which', async () => {
    const runOnce = async () => {
      const receiver = await startReceiver();
      try {
        const org = newOrg(1234);
        await subscribe(sim, org.token, receiver.url, [10]);
        sim.control.setFaults(org.id, { dropWebhookRate: 0.3 });
        const created = sim.control.emitWebhooks(org.id, { count: 60 });
        await sim.control.flushWebhooks();
        const dropped = sim.control.droppedWebhooks(org.id);
        const delivered = receiver.requests.map((r) => (r.json as RaiseWebhookPayload).contextId);
        return { org, created, dropped, delivered };
      } finally {
        await receiver.close();
      }
    };
    const first = await runOnce();
    const second = await runOnce();
    expect(first.dropped.length).toBeGreaterThan(5);
    expect(first.dropped.length).toBeLessThan(40);
    const droppedIds = first.dropped.map((d) => d.contextId);
    // Dropped + delivered = everything, no overlap.
    expect([...droppedIds, ...first.delivered].sort()).toEqual(
      Array.from({ length: 60 }, (_, i) => first.created.firstId! + i).sort(),
    );
    expect(first.dropped[0]).toMatchObject({ eventType: 10, reason: 'dropRate' });
    expect(first.dropped[0]!.modifiedDate).toMatch(/Z$/);
    // Same seed, same sequence of events: the same deliveries are dropped.
    expect(second.dropped.map((d) => d.contextId - second.created.firstId!)).toEqual(
      droppedIds.map((id) => id - first.created.firstId!),
    );
    expect(sim.control.stats(first.org.id).webhooks.dropped).toBe(first.dropped.length);
  });

  it('records every event as dropped while webhooks are disabled', async () => {
    const receiver = await startReceiver();
    try {
      const org = newOrg();
      await subscribe(sim, org.token, receiver.url, [10]);
      sim.control.setFaults(org.id, { webhooksEnabled: false });
      sim.control.emitWebhooks(org.id, { count: 3 });
      await sim.control.flushWebhooks();
      expect(receiver.requests).toHaveLength(0);
      expect(sim.control.droppedWebhooks(org.id).map((d) => d.reason)).toEqual([
        'disabled',
        'disabled',
        'disabled',
      ]);
    } finally {
      await receiver.close();
    }
  });

  it('duplicates a delivery under the duplicate fault with two delivery ids', async () => {
    const receiver = await startReceiver();
    try {
      const org = newOrg();
      await subscribe(sim, org.token, receiver.url, [10]);
      sim.control.setFaults(org.id, { duplicateWebhookRate: 1 });
      const gift = sim.control.createRecord(org.id, 'gift');
      await sim.control.flushWebhooks();
      expect(receiver.requests).toHaveLength(2);
      expect(receiver.requests[0]!.raw.equals(receiver.requests[1]!.raw)).toBe(true);
      expect((receiver.requests[0]!.json as RaiseWebhookPayload).contextId).toBe(gift.id);
      const ids = receiver.requests.map((r) => header(r, RAISE_WEBHOOK_HEADERS.deliveryId));
      expect(new Set(ids).size).toBe(2);
      expect(sim.control.stats(org.id).webhooks).toMatchObject({ duplicated: 1, delivered: 2 });
      expect(sim.control.webhookDeliveries(org.id).filter((d) => d.duplicate)).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it('keeps event order per org, and shuffles it under outOfOrderWebhooks', async () => {
    const receiver = await startReceiver();
    try {
      const ordered = newOrg();
      await subscribe(sim, ordered.token, receiver.url, [10]);
      sim.control.setWebhookRetry({ concurrency: 1 });
      const inOrder = sim.control.emitWebhooks(ordered.id, { count: 30 });
      await sim.control.flushWebhooks();
      const orderedIds = receiver.requests.map((r) => (r.json as RaiseWebhookPayload).contextId);
      expect(orderedIds).toEqual(Array.from({ length: 30 }, (_, i) => inOrder.firstId! + i));

      receiver.requests.length = 0;
      const shuffled = newOrg();
      await subscribe(sim, shuffled.token, receiver.url, [10]);
      sim.control.setFaults(shuffled.id, { outOfOrderWebhooks: true });
      const created = sim.control.emitWebhooks(shuffled.id, { count: 30 });
      await sim.control.flushWebhooks();
      const ids = receiver.requests.map((r) => (r.json as RaiseWebhookPayload).contextId);
      const expected = Array.from({ length: 30 }, (_, i) => created.firstId! + i);
      expect([...ids].sort((a, b) => a - b)).toEqual(expected);
      expect(ids).not.toEqual(expected);
    } finally {
      sim.control.setWebhookRetry({ concurrency: 8 });
      await receiver.close();
    }
  });

  it('does not block the mutation while the receiver is slow', async () => {
    const receiver = await startReceiver(() => ({ status: 200, delayMs: 300 }));
    try {
      const org = newOrg();
      await subscribe(sim, org.token, receiver.url, [10]);
      const started = Date.now();
      sim.control.emitWebhooks(org.id, { count: 20 });
      expect(Date.now() - started).toBeLessThan(200);
      expect(sim.control.stats(org.id).webhooks.pending).toBe(20);
      await waitFor(() => receiver.requests.length === 8); // concurrency 8
      await sim.control.flushWebhooks();
      expect(sim.control.stats(org.id).webhooks).toMatchObject({ delivered: 20, pending: 0 });
    } finally {
      await receiver.close();
    }
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(undefined)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
    const inFuture = new Date(Date.now() + 3000).toUTCString();
    expect(parseRetryAfter(inFuture)).toBeGreaterThan(1000);
  });
});

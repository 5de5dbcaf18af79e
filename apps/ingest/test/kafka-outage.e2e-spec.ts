import { EventCodec } from '@raise-sync/shared/kafka';
import { startDedicatedKafka, useTestStack, type DedicatedKafka } from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { onboard, raiseSignedHeaders, startIngest, topics, type IngestUnderTest } from './support';

describe('ingest: Kafka stops while webhooks arrive (own broker, real registry and PostgreSQL)', () => {
  const stack = useTestStack();
  let kafka: DedicatedKafka;
  let sim: Simulator;
  let ingest: IngestUnderTest;

  beforeAll(async () => {
    kafka = await startDedicatedKafka();
    sim = await startSimulator({ seed: 31 });
    ingest = await startIngest(stack, sim, {
      KAFKA_BROKERS: kafka.brokers,
      PUBLISH_TIMEOUT_MS: '1500',
    });
  });

  afterAll(async () => {
    await ingest?.app.stop('SIGKILL');
    await sim?.stop();
    await kafka?.destroy();
  });

  it('answers 503 with Retry-After while Kafka is down, and every redelivered event lands once it is back', async () => {
    const c = await onboard(ingest, sim, `outage-${stack.prefix}`, { webhooks: false });
    const secret = 'whsec_outage_test_0123456789';
    expect(
      (
        await ingest.admin('PUT', `/admin/customers/${c.id}/sources/raise`, {
          webhookSecret: secret,
        })
      ).status,
    ).toBe(200);
    expect(
      (await ingest.admin('POST', `/admin/customers/${c.id}/sources/raise/webhook`, {})).status,
    ).toBe(201);
    sim.control.setWebhookRetry({ attempts: 40, baseDelayMs: 500 });
    const created: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      created.push(sim.control.createRecord(c.org, 'gift').id);
    }
    await sim.control.flushWebhooks();

    await kafka.stop();
    const during: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      during.push((sim.control.createRecord(c.org, 'gift') as { id: number }).id);
    }
    // A delivery made by hand while the broker is down: 503 + Retry-After, nothing acknowledged.
    // (It repeats a real gift, so if the queued write completes later it is only a duplicate.)
    const existing = sim.control.records(c.org, 'gift')[0] as Record<string, unknown>;
    const body = JSON.stringify({
      eventType: 11,
      eventTypeDisplay: 'Gift Updated',
      contextId: existing['id'],
      data: existing,
    });
    const ts = Math.floor(Date.now() / 1000);
    {
      const probe = await fetch(`${ingest.app.url}/webhooks/raise/${c.id}`, {
        method: 'POST',
        headers: raiseSignedHeaders(secret, body, ts),
        body,
      });
      expect(probe.status).toBe(503);
      expect(probe.headers.get('retry-after')).toBe('10');
    }
    // Wait until the simulator has seen the 503s for the deliveries made during the outage.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const log = sim.control.webhookDeliveries(c.org);
      if (log.some((d) => d.status === 503) || Date.now() > deadline) {
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const refused = sim.control.webhookDeliveries(c.org).filter((d) => d.status === 503);
    expect(refused.length).toBeGreaterThan(0);

    await kafka.start();
    await sim.control.flushWebhooks();

    const codec = new EventCodec(stack.registryUrl);
    const messages = await kafka.readAll(topics(ingest.topicPrefix).sourceEvents('raise', 'gift'));
    const ids = new Set<string>();
    for (const m of messages) {
      const decoded = await codec.decode(m.value);
      if (decoded.ok && decoded.event.customerId === c.id) {
        ids.add(decoded.event.recordId);
      }
    }
    // Every gift created before and during the outage arrived; nothing else did (the hand-made
    // probe repeats an existing gift and may land once its queued write completes).
    const expected = [...created, ...during].map(String);
    const probeId = String(existing['id']);
    expect([...ids].filter((id) => id !== probeId).sort()).toEqual(expected.sort());
    expect(during).toHaveLength(10);
  });
});

import {
  expectEventually,
  freePort,
  runAppToExit,
  scrapeMetric,
  stackEnv,
  useTestStack,
} from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  ADMIN_TOKEN,
  onboard,
  raiseGiftWebhookBody,
  raiseSignedHeaders,
  readEvents,
  SECRETS_KEY,
  startIngest,
  topicMessageCount,
  topics,
  type IngestUnderTest,
  setWebhookSecret,
} from './support';

type LogLine = Record<string, unknown>;

/** The primary's own lines (context "workers") with the given message. */
const workerLines = (ingest: IngestUnderTest, msg: string): LogLine[] =>
  ingest.app.logs().filter((l) => l['context'] === 'workers' && l['msg'] === msg);

describe('ingest: INGEST_WORKERS=2, two workers behind one port (real Kafka, registry, PostgreSQL)', () => {
  const stack = useTestStack();
  let sim: Simulator;
  let ingest: IngestUnderTest;
  let customerId: string;
  let secret: string;

  const send = (id: number, ts: number, close = false): Promise<number> => {
    const body = raiseGiftWebhookBody(id);
    return fetch(`${ingest.app.url}/webhooks/raise/${customerId}`, {
      method: 'POST',
      // A new connection per request: the primary hands connections to the workers in turn.
      headers: {
        ...raiseSignedHeaders(secret, body, ts),
        ...(close ? { connection: 'close' } : {}),
      },
      body,
    }).then((response) => response.status);
  };

  beforeAll(async () => {
    sim = await startSimulator({ seed: 19 });
    ingest = await startIngest(stack, sim, { INGEST_WORKERS: '2' });
    await expectEventually(() => {
      if (workerLines(ingest, 'workers started').length !== 1) {
        throw new Error('the primary has not said "workers started" yet');
      }
    });
    customerId = (await onboard(ingest, sim, `workers-${stack.prefix}`, { webhooks: false })).id;
    secret = await setWebhookSecret(ingest, customerId);
  });

  afterAll(async () => {
    await ingest?.app.stop('SIGTERM');
    await sim?.stop();
  });

  it('both workers answer; the same delivery sent 20 times at once is accepted once; /metrics counts both workers', async () => {
    const ts = Math.floor(Date.now() / 1000);
    const contested = Array.from({ length: 20 }, () => send(7100, ts, true));
    const others = Array.from({ length: 40 }, (_, i) => send(7200 + i, ts, true));
    const statuses = await Promise.all(contested);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    expect(await Promise.all(others)).toEqual(Array.from({ length: 40 }, () => 202));

    // Four more copies one after another, each on a new connection: the primary hands them to
    // the workers in turn, so both refuse some, and their log lines say which worker did.
    for (let i = 0; i < 4; i += 1) {
      expect(await send(7100, ts, true)).toBe(409);
    }
    // (The lines come through the app's stdout, read apart from the HTTP answers: wait for them.)
    await expectEventually(() => {
      const replayedBy = ingest.app
        .logs()
        .filter((l) => l['reason'] === 'replayed' && l['customerId'] === customerId)
        .map((l) => l['worker']);
      expect(replayedBy).toHaveLength(23);
      expect(new Set(replayedBy.slice(-4))).toEqual(new Set([1, 2]));
    });

    // Whichever worker a scrape reaches, it counts both workers' 23 refusals and 41 acceptances.
    for (let i = 0; i < 4; i += 1) {
      const labels = { customer_id: customerId, source: 'raise' };
      expect(
        await scrapeMetric(ingest.app.url, 'raise_sync_webhooks_total', {
          ...labels,
          outcome: 'rejected',
          reason: 'replayed',
        }),
      ).toBe(23);
      expect(
        await scrapeMetric(ingest.app.url, 'raise_sync_webhooks_total', {
          ...labels,
          outcome: 'accepted',
        }),
      ).toBe(41);
    }

    const topic = topics(ingest.topicPrefix).sourceEvents('raise', 'gift');
    await expectEventually(async () => {
      const events = await readEvents(stack, topic, await topicMessageCount(stack, topic));
      const mine = events
        .filter((e) => e.event.customerId === customerId)
        .map((e) => Number(e.event.recordId));
      expect(mine.sort((a, b) => a - b)).toEqual([
        7100,
        ...Array.from({ length: 40 }, (_, i) => 7200 + i),
      ]);
    });
  });

  it('a worker that dies is replaced, and webhooks are answered meanwhile by the other', async () => {
    const [first] = workerLines(ingest, 'worker listening');
    const victim = Number(first?.['workerPid']);
    expect(victim).toBeGreaterThan(0);
    process.kill(victim, 'SIGKILL');
    // Connections the primary handed to the worker before it learnt of its death are reset
    // (as with any process killed mid-request; the sender retries). From then on, every
    // request is answered by the live worker while the replacement starts.
    await expectEventually(() =>
      expect(workerLines(ingest, 'worker exited; starting another')).toHaveLength(1),
    );
    const ts = Math.floor(Date.now() / 1000);
    const during = await Promise.all(
      Array.from({ length: 10 }, (_, i) => send(7300 + i, ts, true)),
    );
    expect(during).toEqual(Array.from({ length: 10 }, () => 202));
    await expectEventually(() => expect(workerLines(ingest, 'worker listening')).toHaveLength(3));
    const replaced = workerLines(ingest, 'worker exited; starting another')[0];
    expect(replaced?.['workerPid']).toBe(victim);
    expect(replaced?.['signal']).toBe('SIGKILL');
    const after = await Promise.all(Array.from({ length: 10 }, (_, i) => send(7400 + i, ts, true)));
    expect(after).toEqual(Array.from({ length: 10 }, () => 202));
  });

  it('SIGTERM stops every worker gracefully and the primary exits 0', async () => {
    const code = await ingest.app.stop('SIGTERM');
    expect(code).toBe(0);
    const logs = ingest.app.logs();
    const completeBy = logs.filter((l) => l['msg'] === 'shutdown complete').map((l) => l['worker']);
    expect(new Set(completeBy).size).toBe(2);
    expect(workerLines(ingest, 'workers stopped')).toEqual([
      expect.objectContaining({ failed: false }),
    ]);
  });

  it('a bad INGEST_WORKERS, or workers that cannot start, end the service with exit 1 and say why', async () => {
    const base = {
      ...stackEnv(stack, `${stack.prefix}-workers-bad`),
      SECRETS_KEY,
      ADMIN_TOKEN,
      RAISE_API_URL: sim.url,
      VOMO_API_URL: sim.url,
      HTTP_HOST: '127.0.0.1',
    };
    const bad = await runAppToExit('ingest', {
      ...base,
      HTTP_PORT: String(await freePort()),
      INGEST_WORKERS: '0',
    });
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('INGEST_WORKERS must be');
    expect(bad.output).not.toContain('starting workers');

    const closed = await freePort();
    const unreachable = await runAppToExit('ingest', {
      ...base,
      HTTP_PORT: String(await freePort()),
      INGEST_WORKERS: '2',
      DATABASE_URL: `postgres://raise:x@127.0.0.1:${closed}/raise`,
      STARTUP_DEPENDENCY_TIMEOUT_MS: '1000',
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.output).toContain('service failed to start');
    expect(unreachable.output).toContain('worker failed to start; stopping the service');
  });
});

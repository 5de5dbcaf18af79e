import { randomBytes } from 'node:crypto';
import {
  expectEventually,
  freePort,
  startApp,
  useTestStack,
  type RunningApp,
  stackEnv,
} from '@raise-sync/testing';

describe('submitter as a process', () => {
  const stack = useTestStack();
  let app: RunningApp;
  const prefix = `${stack.prefix}-sub`;

  beforeAll(async () => {
    app = startApp(
      'submitter',
      {
        ...stackEnv(stack, prefix),
        SECRETS_KEY: randomBytes(32).toString('hex'),
      },
      await freePort(),
    );
    await app.waitUntilReady();
  });

  afterAll(async () => {
    await app.stop('SIGKILL');
  });

  it('dead-letters an undecodable message with its customer ID and counts it', async () => {
    const producer = stack.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: `${prefix}.source.raise.gift`,
      messages: [{ key: 'cust-42:gift:1', value: Buffer.from('{"not":"avro"}') }],
    });
    await producer.disconnect();

    const [deadLetter] = await stack.consumeAll(`${prefix}.submitter.dead-letter`, { count: 1 });
    expect(deadLetter?.key).toBe('cust-42:gift:1');
    expect(deadLetter?.headers).toEqual(
      expect.objectContaining({
        'x-error-reason': 'undecodable',
        'x-customer-id': 'cust-42',
        'x-original-topic': `${prefix}.source.raise.gift`,
      }),
    );
    await expectEventually(async () => {
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      expect(metrics).toMatch(
        /raise_sync_dead_letters_total\{[^}]*customer_id="cust-42"[^}]*reason="undecodable"[^}]*\} 1/,
      );
    });
    expect(app.logs()).toContainEqual(
      expect.objectContaining({ msg: 'dead-lettered undecodable message', customerId: 'cust-42' }),
    );
    // Indexed in PostgreSQL with its payload, for the dead-letter admin API.
    const indexed: Array<{ reason: string; message_key: string; payload: Buffer }> =
      await stack.dataSource.query(
        `SELECT reason, message_key, payload FROM dead_letters WHERE topic = $1`,
        [`${prefix}.submitter.dead-letter`],
      );
    expect(indexed).toEqual([
      expect.objectContaining({ reason: 'undecodable', message_key: 'cust-42:gift:1' }),
    ]);
    expect(indexed[0]?.payload.toString()).toBe('{"not":"avro"}');
  });

  it('exits 0 on SIGTERM after stopping the consumer and committing', async () => {
    expect(await app.stop('SIGTERM')).toBe(0);
    const messages = app.logs().map((l) => l['msg']);
    expect(messages).toEqual(
      expect.arrayContaining([
        'shutdown started',
        'stopped consuming; handled offsets committed',
        'shutdown complete',
      ]),
    );
    expect(messages.indexOf('stopped consuming; handled offsets committed')).toBeLessThan(
      messages.indexOf('shutdown complete'),
    );

    // The dead-lettered message's offset was committed: the group has nothing left to read there.
    const admin = stack.kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchOffsets({
      groupId: `${prefix}.submitter`,
      topics: [`${prefix}.source.raise.gift`],
    });
    await admin.disconnect();
    const committed = offsets[0]?.partitions.reduce(
      (sum, p) => sum + Math.max(0, Number(p.offset)),
      0,
    );
    expect(committed).toBe(1);
  });
});

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
    await stack.kafka.write(`${prefix}.source.raise.gift`, [
      { key: 'cust-42:gift:1', value: Buffer.from('{"not":"avro"}') },
    ]);

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
      expect.objectContaining({
        msg: 'dead-lettered a message no destination can take',
        reason: 'undecodable',
        customerId: 'cust-42',
      }),
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

  it('dead-letters undecodable junk near the broker limit without its value, and the partition moves on', async () => {
    // 1,047,800 bytes: within the broker's 1,048,588 with its batch header, so it is stored,
    // but with the dead-letter headers it no longer fits a request to the dead-letter topic.
    // One request each: together they would pass the broker's record-batch limit.
    for (const value of [Buffer.alloc(1_047_800, 120), Buffer.from('{"after":"the big one"}')]) {
      await stack.kafka.write(`${prefix}.source.raise.gift`, [{ key: 'cust-43:gift:1', value }]);
    }
    await expectEventually(
      async () => {
        const rows: Array<{ message_key: string; payload: Buffer | null; headers: unknown }> =
          await stack.dataSource.query(
            `SELECT message_key, payload, headers FROM dead_letters WHERE topic = $1 AND message_key = 'cust-43:gift:1' ORDER BY "offset"`,
            [`${prefix}.submitter.dead-letter`],
          );
        expect(rows).toHaveLength(2);
        expect(rows[1]?.payload?.toString()).toBe('{"after":"the big one"}');
      },
      { timeoutMs: 30_000 },
    );
    const dead = await stack.consumeAll(`${prefix}.submitter.dead-letter`, { count: 3 });
    const big = dead.find(
      (m) => m.key === 'cust-43:gift:1' && m.headers['x-value-omitted'] === 'too_large',
    );
    expect(big?.value ?? null).toBeNull();
    expect(big?.headers['x-original-topic']).toBe(`${prefix}.source.raise.gift`);
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
    // By the lines' own timestamps: they come from two loggers with buffers of their own, so
    // their order on stdout need not be the order of the calls (seen once in CI: 52 before 51).
    const at = (msg: string): number =>
      Date.parse(String(app.logs().find((l) => l['msg'] === msg)?.['time']));
    expect(at('stopped consuming; handled offsets committed')).toBeLessThanOrEqual(
      at('shutdown complete'),
    );

    // The dead-lettered messages' offsets were committed: the group has nothing left to read there.
    const offsets = await stack.kafka.committedOffsets(
      `${prefix}.submitter`,
      `${prefix}.source.raise.gift`,
    );
    const ends = await stack.kafka.topicOffsets(`${prefix}.source.raise.gift`);
    const committed = offsets.reduce((sum, p) => sum + Math.max(0, p.offset), 0);
    expect(committed).toBe(ends.reduce((sum, p) => sum + p.high, 0));
    expect(committed).toBe(3);
  });
});

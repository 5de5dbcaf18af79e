import { createServer } from 'node:net';
import {
  DependencyUnreachableError,
  kafkaCheck,
  postgresCheck,
  registryCheck,
  startFailureLine,
  waitForDependency,
  type DependencyCheck,
} from './startup-dependencies';

/** A port nothing listens on (connections are refused at once). */
async function closedPort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? done(address.port) : fail(new Error('no port')),
      );
    });
  });
}

/** A clock that only moves when the code under test sleeps. */
function fakeClock(): { now: () => number; sleep: (ms: number) => Promise<void> } {
  let time = 0;
  return {
    now: () => time,
    sleep: (ms) => {
      time += ms;
      return Promise.resolve();
    },
  };
}

const failing = (attempts: { n: number }, succeedAt = Infinity): DependencyCheck => ({
  variable: 'DATABASE_URL',
  address: 'postgres://app:[redacted]@db:5432/state',
  secrets: ['pa55word'],
  attempt: () => {
    attempts.n += 1;
    return attempts.n >= succeedAt
      ? Promise.resolve()
      : Promise.reject(
          new Error('password pa55word refused', { cause: new Error('ECONNREFUSED') }),
        );
  },
});

describe(waitForDependency.name, () => {
  it('retries for the window, says once that it waits, then names the variable and address', async () => {
    const attempts = { n: 0 };
    const waiting: unknown[] = [];
    const error = await waitForDependency(failing(attempts), {
      timeoutMs: 5000,
      retryIntervalMs: 500,
      onWaiting: (info) => waiting.push(info),
      ...fakeClock(),
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DependencyUnreachableError);
    expect(error).toMatchObject({
      variable: 'DATABASE_URL',
      address: 'postgres://app:[redacted]@db:5432/state',
      reason: 'password [redacted] refused: ECONNREFUSED',
    });
    expect((error as Error).message).toBe(
      'DATABASE_URL: postgres://app:[redacted]@db:5432/state is unreachable (password [redacted] refused: ECONNREFUSED); gave up after 4500 ms',
    );
    expect(attempts.n).toBe(10);
    expect(waiting).toEqual([
      {
        variable: 'DATABASE_URL',
        address: 'postgres://app:[redacted]@db:5432/state',
        reason: 'password [redacted] refused: ECONNREFUSED',
        timeoutMs: 5000,
      },
    ]);
  });

  it('returns as soon as the dependency answers', async () => {
    const attempts = { n: 0 };
    await waitForDependency(failing(attempts, 3), { timeoutMs: 5000, ...fakeClock() });
    expect(attempts.n).toBe(3);
  });

  it('tries exactly once with a window of 0', async () => {
    const attempts = { n: 0 };
    const waiting: unknown[] = [];
    await expect(
      waitForDependency(failing(attempts), {
        timeoutMs: 0,
        onWaiting: (info) => waiting.push(info),
        ...fakeClock(),
      }),
    ).rejects.toBeInstanceOf(DependencyUnreachableError);
    expect(attempts.n).toBe(1);
    expect(waiting).toEqual([]);
  });

  it('bounds an attempt that never answers (a black-holed address)', async () => {
    const started = Date.now();
    const error = await waitForDependency(
      {
        variable: 'KAFKA_BROKERS',
        address: '10.255.255.1:9092',
        attempt: () => new Promise(() => {}),
      },
      { timeoutMs: 0 },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ variable: 'KAFKA_BROKERS', reason: 'no answer within 2000 ms' });
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('dependency checks against a closed port', () => {
  it('PostgreSQL: refused, address without the password', async () => {
    const port = await closedPort();
    const check = postgresCheck(`postgres://app:pa55word@127.0.0.1:${port}/state`);
    expect(check.address).toBe(`postgres://app:[redacted]@127.0.0.1:${port}/state`);
    const error = await waitForDependency(check, { timeoutMs: 0 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ variable: 'DATABASE_URL' });
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect((error as Error).message).not.toContain('pa55word');
  });

  it('Kafka: refused', async () => {
    const port = await closedPort();
    const error = await waitForDependency(kafkaCheck([`127.0.0.1:${port}`], 'test'), {
      timeoutMs: 0,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ variable: 'KAFKA_BROKERS', address: `127.0.0.1:${port}` });
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('schema registry: refused, credentials and query redacted', async () => {
    const port = await closedPort();
    const check = registryCheck(`http://reg:pa55word@127.0.0.1:${port}/apis/ccompat/v7`);
    expect(check.address).toBe(`http://reg:[redacted]@127.0.0.1:${port}/apis/ccompat/v7`);
    const error = await waitForDependency(check, { timeoutMs: 0 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ variable: 'SCHEMA_REGISTRY_URL' });
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect((error as Error).message).not.toContain('pa55word');
  });
});

describe(startFailureLine.name, () => {
  it('is one JSON line naming the variable and address of an unreachable dependency', () => {
    const line = startFailureLine(
      'ingest',
      new DependencyUnreachableError('KAFKA_BROKERS', '127.0.0.1:1', 5000, 'ECONNREFUSED'),
    );
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      level: 'fatal',
      service: 'ingest',
      time: expect.any(String) as string,
      msg: 'service failed to start',
      error: 'KAFKA_BROKERS: 127.0.0.1:1 is unreachable (ECONNREFUSED); gave up after 5000 ms',
      variable: 'KAFKA_BROKERS',
      address: '127.0.0.1:1',
      waitedMs: 5000,
    });
  });

  it('redacts URLs in any other startup error', () => {
    const line = JSON.parse(
      startFailureLine('submitter', new Error('bad postgres://u:pw@h/db?key=s3cret')),
    ) as { error: string; variable?: string };
    expect(line.error).toBe('bad postgres://u:[redacted]@h/db?key=[redacted]');
    expect(line.variable).toBeUndefined();
  });
});

import { expectEventually } from './expect-eventually';
import { chooseStackStrategy } from './stack-strategy';

describe(chooseStackStrategy.name, () => {
  const all = {
    KAFKA_BROKERS: 'k:9092',
    SCHEMA_REGISTRY_URL: 'http://r',
    DATABASE_URL: 'postgres://d',
  };

  it('reuses services named by the environment, Docker or not', () => {
    expect(chooseStackStrategy(all, true)).toBe('environment');
    expect(chooseStackStrategy(all, false)).toBe('environment');
  });

  it('starts containers for what is missing when a Docker engine answers', () => {
    expect(chooseStackStrategy({ ...all, KAFKA_BROKERS: '' }, true)).toBe('testcontainers');
    expect(chooseStackStrategy({}, true)).toBe('testcontainers');
  });

  it('falls back to the local processes without Docker', () => {
    expect(chooseStackStrategy({ DATABASE_URL: 'postgres://d' }, false)).toBe('local-processes');
  });
});

describe(expectEventually.name, () => {
  it('waits until the assertion passes', async () => {
    let calls = 0;
    await expectEventually(
      () => {
        calls += 1;
        expect(calls).toBeGreaterThanOrEqual(3);
      },
      { intervalMs: 1 },
    );
    expect(calls).toBe(3);
  });

  it('rethrows the last assertion error after the timeout', async () => {
    await expect(
      expectEventually(() => expect(1).toBe(2), { timeoutMs: 30, intervalMs: 5 }),
    ).rejects.toThrow(/toBe/);
  });
});

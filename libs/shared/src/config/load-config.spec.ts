import { configSection, integer, text } from './declare';
import { ConfigError, loadConfig, variablesOf } from './load-config';
import { SHARED_CONFIG } from './shared.config';

const valid = {
  KAFKA_BROKERS: '127.0.0.1:9092,127.0.0.1:9094',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7/',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
  SECRETS_KEY: 'ab'.repeat(32),
};

const load = (env: Record<string, string | undefined>) => loadConfig(env, [SHARED_CONFIG]);

/** A second owner's section, as an app declares one. */
const APP = configSection({
  owner: 'apps/example',
  variables: {
    EXAMPLE_LIMIT: integer({ default: 5, min: 1, max: 10, description: 'a limit' }),
    EXAMPLE_TOKEN: text({
      optional: true,
      secret: true,
      pattern: /^\S{8,}$/,
      expected: 'at least 8 characters',
      description: 'a token',
    }),
  },
  check: (v) => (v.EXAMPLE_LIMIT === 7 ? ['EXAMPLE_LIMIT must not be 7'] : []),
  build: (v) => ({ example: { limit: v.EXAMPLE_LIMIT, token: v.EXAMPLE_TOKEN } }),
});

describe(loadConfig.name, () => {
  it('parses a valid environment with defaults', () => {
    const config = load({ ...valid, HTTP_PORT: '3005' });
    expect(config.kafka).toEqual({
      brokers: ['127.0.0.1:9092', '127.0.0.1:9094'],
      topicPrefix: 'raise-sync',
      sourcePartitions: 6,
      maxMessageBytes: 1_048_588,
      replicationFactor: 1,
    });
    expect(config.registry.url).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
    expect(config.http).toEqual({
      port: 3005,
      host: '0.0.0.0',
      headersTimeoutMs: 20_000,
      requestTimeoutMs: 60_000,
    });
    expect(config.logLevel).toBe('info');
    expect(config.database).toEqual({ url: valid.DATABASE_URL, poolMax: 10 });
    expect(config.adminToken).toBeNull();
    expect(config.pushback).toEqual({ maxLag: 20_000, maxWaiting: 5000 });
  });

  it('sizes the PostgreSQL pool from DATABASE_POOL_MAX and refuses nonsense', () => {
    expect(load({ ...valid, DATABASE_POOL_MAX: '4' }).database.poolMax).toBe(4);
    expect(() => load({ ...valid, DATABASE_POOL_MAX: '0' })).toThrow(/DATABASE_POOL_MAX/);
    expect(() => load({ ...valid, DATABASE_POOL_MAX: '4.5' })).toThrow(/DATABASE_POOL_MAX/);
  });

  it('lists every bad variable by name in one error, without echoing values', () => {
    const secret = 'not-a-key-but-secret';
    let error: unknown;
    try {
      loadConfig(
        {
          ...valid,
          KAFKA_BROKERS: undefined,
          SECRETS_KEY: secret,
          HTTP_PORT: 'eighty',
          EXAMPLE_LIMIT: '11',
        },
        [SHARED_CONFIG, APP],
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect((error as ConfigError).problems).toHaveLength(4);
    expect(message).toMatch(/KAFKA_BROKERS is required/);
    expect(message).toMatch(/SECRETS_KEY must be 64 hexadecimal/);
    expect(message).toMatch(/HTTP_PORT must be an integer from 0 to 65535/);
    expect(message).toMatch(/EXAMPLE_LIMIT must be an integer from 1 to 10/);
    expect(message).not.toContain(secret);
  });

  it('builds each section into its part of one config, and runs its rules', () => {
    const config = loadConfig({ ...valid, EXAMPLE_TOKEN: 'abcdefghij' }, [SHARED_CONFIG, APP]);
    expect(config.example).toEqual({ limit: 5, token: 'abcdefghij' });
    expect(config.kafka.topicPrefix).toBe('raise-sync');
    expect(() => loadConfig({ ...valid, EXAMPLE_LIMIT: '7' }, [SHARED_CONFIG, APP])).toThrow(
      /EXAMPLE_LIMIT must not be 7/,
    );
  });

  it('refuses a variable declared by two sections', () => {
    const twin = configSection({
      owner: 'apps/twin',
      variables: { EXAMPLE_LIMIT: integer({ default: 1, min: 1, max: 2, description: 'again' }) },
      build: () => ({}),
    });
    expect(() => variablesOf([APP, twin])).toThrow(
      /EXAMPLE_LIMIT is declared by both apps\/example and apps\/twin/,
    );
    expect(() => loadConfig(valid, [SHARED_CONFIG, APP, twin])).toThrow(/declared by both/);
  });

  it('reads the HTTP server timeouts; headers must not outlast the whole request', () => {
    const http = load({
      ...valid,
      HTTP_HEADERS_TIMEOUT_MS: '5000',
      HTTP_REQUEST_TIMEOUT_MS: '15000',
    }).http;
    expect(http).toMatchObject({ headersTimeoutMs: 5000, requestTimeoutMs: 15_000 });
    expect(() =>
      load({ ...valid, HTTP_HEADERS_TIMEOUT_MS: '30000', HTTP_REQUEST_TIMEOUT_MS: '10000' }),
    ).toThrow(/HTTP_REQUEST_TIMEOUT_MS must be at least HTTP_HEADERS_TIMEOUT_MS/);
  });
});

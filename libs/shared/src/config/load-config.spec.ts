import { ConfigError, loadConfig } from './load-config';

const valid = {
  KAFKA_BROKERS: '127.0.0.1:9092,127.0.0.1:9094',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7/',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
  SECRETS_KEY: 'ab'.repeat(32),
};

describe(loadConfig.name, () => {
  it('parses a valid environment with defaults', () => {
    const config = loadConfig({ ...valid, HTTP_PORT: '3005' });
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
  });

  it('sizes the PostgreSQL pool from DATABASE_POOL_MAX and refuses nonsense', () => {
    expect(loadConfig({ ...valid, DATABASE_POOL_MAX: '4' }).database.poolMax).toBe(4);
    expect(() => loadConfig({ ...valid, DATABASE_POOL_MAX: '0' })).toThrow(/DATABASE_POOL_MAX/);
  });

  it('lists every bad variable by name in one error, without echoing values', () => {
    const secret = 'not-a-key-but-secret';
    let error: unknown;
    try {
      loadConfig({ ...valid, KAFKA_BROKERS: undefined, SECRETS_KEY: secret, HTTP_PORT: 'eighty' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/KAFKA_BROKERS is required/);
    expect(message).toMatch(/SECRETS_KEY must be 64 hexadecimal/);
    expect(message).toMatch(/HTTP_PORT must be/);
    expect(message).not.toContain(secret);
  });

  it('reads every documented variable (a variable missing from the table would be ignored)', () => {
    const config = loadConfig({
      ...valid,
      SUBMITTER_RETRY_DELAYS_MS: '1000,2000,4000',
      SUBMITTER_MAX_ATTEMPTS: '3',
      SOURCE_RATE_LIMITS: 'raise=7:9',
      POLL_TICK_MS: '250',
      ADMIN_TOKEN: 'a'.repeat(30),
    });
    expect(config.submitter.retryDelaysMs).toEqual([1000, 2000, 4000]);
    expect(config.submitter.maxAttempts).toBe(3);
    expect(config.ingest.sourceRates.raise).toEqual({ requestsPerSecond: 7, burst: 9 });
    expect(config.ingest.pollTickMs).toBe(250);
    expect(config.ingest.adminToken).toBe('a'.repeat(30));
    expect(() => loadConfig({ ...valid, SUBMITTER_MAX_ATTEMPTS: '9' })).toThrow(
      /SUBMITTER_MAX_ATTEMPTS/,
    );
  });

  it('bounds unverified webhook bodies and their read time, consistently with the body limit', () => {
    const defaults = loadConfig(valid).ingest;
    expect(defaults.webhookUnverifiedBytesMax).toBe(64 * 1024 * 1024);
    expect(defaults.webhookBodyTimeoutMs).toBe(10_000);
    const set = loadConfig({
      ...valid,
      WEBHOOK_UNVERIFIED_BYTES_MAX: '2097152',
      WEBHOOK_BODY_TIMEOUT_MS: '2500',
    }).ingest;
    expect(set.webhookUnverifiedBytesMax).toBe(2_097_152);
    expect(set.webhookBodyTimeoutMs).toBe(2500);
    expect(() => loadConfig({ ...valid, WEBHOOK_BODY_TIMEOUT_MS: '0' })).toThrow(
      /WEBHOOK_BODY_TIMEOUT_MS/,
    );
    expect(() => loadConfig({ ...valid, WEBHOOK_UNVERIFIED_BYTES_MAX: 'lots' })).toThrow(
      /WEBHOOK_UNVERIFIED_BYTES_MAX/,
    );
    // A budget below the body limit would refuse every body of the allowed size.
    expect(() =>
      loadConfig({
        ...valid,
        WEBHOOK_MAX_BODY_BYTES: '1048576',
        WEBHOOK_UNVERIFIED_BYTES_MAX: '65536',
      }),
    ).toThrow(/WEBHOOK_UNVERIFIED_BYTES_MAX must be at least WEBHOOK_MAX_BODY_BYTES/);
  });

  it('reads the HTTP server timeouts; headers must not outlast the whole request', () => {
    const http = loadConfig({
      ...valid,
      HTTP_HEADERS_TIMEOUT_MS: '5000',
      HTTP_REQUEST_TIMEOUT_MS: '15000',
    }).http;
    expect(http).toMatchObject({ headersTimeoutMs: 5000, requestTimeoutMs: 15_000 });
    expect(() =>
      loadConfig({ ...valid, HTTP_HEADERS_TIMEOUT_MS: '30000', HTTP_REQUEST_TIMEOUT_MS: '10000' }),
    ).toThrow(/HTTP_REQUEST_TIMEOUT_MS must be at least HTTP_HEADERS_TIMEOUT_MS/);
  });
});

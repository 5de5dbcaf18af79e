import { loadConfig, SHARED_CONFIG } from '@raise-sync/shared/config';
import { INGEST_SECTIONS } from './ingest.config';

const valid = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
  SECRETS_KEY: 'ab'.repeat(32),
};
const load = (env: Record<string, string>) => loadConfig(env, [SHARED_CONFIG, ...INGEST_SECTIONS]);

describe('ingest config', () => {
  it('reads the source rates and polling settings', () => {
    const config = load({ ...valid, SOURCE_RATE_LIMITS: 'raise=7:9', POLL_TICK_MS: '250' });
    expect(config.sources.rates).toEqual({
      raise: { requestsPerSecond: 7, burst: 9 },
      vomo: { requestsPerSecond: 2, burst: 4 },
    });
    expect(config.ingest.pollTickMs).toBe(250);
    expect(config.ingest.liveShare).toEqual({ perSecond: 50, burst: 1000 });
    expect(() => load({ ...valid, SOURCE_RATE_LIMITS: 'raise=0:9' })).toThrow(/SOURCE_RATE_LIMITS/);
  });

  it('bounds unverified webhook bodies and their read time, consistently with the body limit', () => {
    const defaults = load(valid).ingest;
    expect(defaults.webhookUnverifiedBytesMax).toBe(64 * 1024 * 1024);
    expect(defaults.webhookBodyTimeoutMs).toBe(10_000);
    expect(defaults.benchDiscardEvents).toBe(false);
    expect(() => load({ ...valid, WEBHOOK_BODY_TIMEOUT_MS: '0' })).toThrow(
      /WEBHOOK_BODY_TIMEOUT_MS/,
    );
    expect(() =>
      load({ ...valid, WEBHOOK_MAX_BODY_BYTES: '1048576', WEBHOOK_UNVERIFIED_BYTES_MAX: '65536' }),
    ).toThrow(/WEBHOOK_UNVERIFIED_BYTES_MAX must be at least WEBHOOK_MAX_BODY_BYTES/);
  });
  it('reads the retention settings, with the defaults the README states', () => {
    expect(load(valid).ingest.retention).toEqual({
      tickMs: 60_000,
      batchRows: 5000,
      maxBatchesPerTick: 20,
      auditDays: 365,
      deadLetterDays: 30,
      runDays: 90,
    });
    expect(load({ ...valid, AUDIT_RETENTION_DAYS: '30' }).ingest.retention.auditDays).toBe(30);
    expect(() => load({ ...valid, RUN_RETENTION_DAYS: '0' })).toThrow(/RUN_RETENTION_DAYS/);
    expect(() => load({ ...valid, RETENTION_BATCH_ROWS: 'many' })).toThrow(/RETENTION_BATCH_ROWS/);
  });
});

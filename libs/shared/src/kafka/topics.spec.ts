import { customerIdFromKey, messageKeyFor, topicsFor } from './topics';
import { deadLetterHeaders, readDeadLetterHeaders } from './dead-letter-headers';
import { pipelineTopicSpecs } from './admin';

describe(topicsFor.name, () => {
  const topics = topicsFor('raise-sync');

  it('names one source topic per source and resource, plus retry and dead-letter topics', () => {
    expect(topics.allSourceEvents()).toEqual([
      'raise-sync.source.raise.donor',
      'raise-sync.source.raise.gift',
      'raise-sync.source.raise.recurring-gift',
      'raise-sync.source.raise.campaign',
      'raise-sync.source.vomo.user',
    ]);
    expect(topics.allBulkEvents()).toContain('raise-sync.bulk.raise.recurring-gift');
    expect(topics.bulkFor('raise-sync.source.raise.gift')).toBe('raise-sync.bulk.raise.gift');
    expect(topics.bulkFor('raise-sync.bulk.vomo.user')).toBe('raise-sync.bulk.vomo.user');
    expect(topics.submitRetry('5m')).toBe('raise-sync.submitter.retry.5m');
    expect(topics.deadLetters).toBe('raise-sync.submitter.dead-letter');
  });

  it('rejects a prefix Kafka or our naming would not accept', () => {
    expect(() => topicsFor('Raise Sync')).toThrow(/KAFKA_TOPIC_PREFIX/);
  });

  it('gives every topic explicit partitions and retention', () => {
    const specs = pipelineTopicSpecs(topics);
    expect(specs).toHaveLength(5 + 5 + 3 + 1); // source, bulk, retry tiers, dead letters
    for (const spec of specs) {
      expect(spec.numPartitions).toBeGreaterThan(0);
      expect(spec.configs['retention.ms']).toMatch(/^\d+$/);
    }
  });
});

describe(messageKeyFor.name, () => {
  it('starts with the customer ID and round-trips it', () => {
    const key = messageKeyFor('0b6c6a9e-1d2f-4a8e-9c1b-2f0e5d7a4c3b', 'gift', '900113');
    expect(key).toBe('0b6c6a9e-1d2f-4a8e-9c1b-2f0e5d7a4c3b:gift:900113');
    expect(customerIdFromKey(Buffer.from(key))).toBe('0b6c6a9e-1d2f-4a8e-9c1b-2f0e5d7a4c3b');
  });

  it('refuses a customer ID that would make keys ambiguous', () => {
    expect(() => messageKeyFor('a:b', 'gift', '1')).toThrow(/no ':'/);
    expect(customerIdFromKey('no-separator')).toBeUndefined();
    expect(customerIdFromKey(null)).toBeUndefined();
  });
});

describe(deadLetterHeaders.name, () => {
  it('writes and reads back the same information', () => {
    const info = {
      reason: 'undecodable',
      message: 'not Avro',
      attempts: 1,
      originalTopic: 't',
      originalPartition: 2,
      originalOffset: '17',
      firstFailedAt: new Date('2026-11-20T10:00:00Z'),
      customerId: 'c1',
      destination: undefined,
    };
    expect(readDeadLetterHeaders(deadLetterHeaders(info))).toEqual(info);
  });
});

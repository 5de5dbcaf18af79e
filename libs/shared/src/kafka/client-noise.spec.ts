import { isKafkaClientNoise, isRetriedLeadershipError } from './client-noise';

describe('Kafka client warnings', () => {
  it('recognises the client’s negative timeout as noise, and nothing else', () => {
    const fromKafkajs = new Error('-1796411052298 is a negative number.');
    fromKafkajs.name = 'TimeoutNegativeWarning';
    fromKafkajs.stack =
      'TimeoutNegativeWarning: -1796411052298 is a negative number.\n' +
      '    at RequestQueue.scheduleCheckPendingRequests (/app/node_modules/kafkajs/src/network/requestQueue/index.js:317:37)';
    const ours = new Error('-5 is a negative number.');
    ours.name = 'TimeoutNegativeWarning';
    ours.stack = 'TimeoutNegativeWarning: -5\n    at wait (/app/dist/apps/submitter/main.js:1:1)';
    expect(isKafkaClientNoise(fromKafkajs)).toBe(true);
    expect(isKafkaClientNoise(ours)).toBe(false);
  });
});

describe(isRetriedLeadershipError.name, () => {
  it('picks out the leadership answers kafkajs retries, nothing else', () => {
    expect(
      isRetriedLeadershipError({ error: 'This server is not the leader for that topic-partition' }),
    ).toBe(true);
    expect(
      isRetriedLeadershipError({
        error:
          'There is no leader for this topic-partition as we are in the middle of a leadership election',
      }),
    ).toBe(true);
    expect(isRetriedLeadershipError({ error: 'Topic authorization failed' })).toBe(false);
    expect(isRetriedLeadershipError({})).toBe(false);
  });
});

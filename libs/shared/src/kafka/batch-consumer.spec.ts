import { fetchBytesFor } from './batch-consumer';

const MIB = 1024 * 1024;

describe(fetchBytesFor.name, () => {
  it('ties the bytes of one fetch to the partitions handled at once', () => {
    expect(fetchBytesFor({ groupId: 'g', topics: ['t'] })).toEqual({
      maxBytesPerPartition: MIB,
      maxBytes: MIB,
    });
    expect(
      fetchBytesFor({ groupId: 'g', topics: ['t'], partitionsConsumedConcurrently: 4 }),
    ).toEqual({ maxBytesPerPartition: MIB, maxBytes: 4 * MIB });
    expect(
      fetchBytesFor({
        groupId: 'g',
        topics: ['t'],
        partitionsConsumedConcurrently: 32,
        maxBytesPerPartition: 256 * 1024,
      }),
    ).toEqual({ maxBytesPerPartition: 256 * 1024, maxBytes: 8 * MIB });
  });

  it('never asks for more than kafkajs would by default, unless told to', () => {
    expect(
      fetchBytesFor({ groupId: 'g', topics: ['t'], partitionsConsumedConcurrently: 64 }).maxBytes,
    ).toBe(10 * MIB);
    expect(
      fetchBytesFor({ groupId: 'g', topics: ['t'], partitionsConsumedConcurrently: 2, maxBytes: 3 })
        .maxBytes,
    ).toBe(3);
  });
});

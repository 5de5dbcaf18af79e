import type { DeliveryResult } from '@raise-sync/destinations';
import { newSourceEvent, type SourceEvent } from '@raise-sync/shared/events';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import { RecordWriteSerializer } from './record-write-serializer';

const gift = (id: string, at: number): SourceEvent =>
  newSourceEvent({
    customerId: 'c1',
    source: 'raise',
    resource: 'gift',
    operation: 'upsert',
    origin: 'webhook',
    recordId: id,
    sourceModifiedAt: new Date(at),
    record: { ...SAMPLE_RECORDS.gift, id },
  } as never);

const delivered: DeliveryResult = { outcome: 'delivered', destinationRecordId: null };

describe('RecordWriteSerializer', () => {
  it('never writes an older version after a newer one of the same record', async () => {
    const serializer = new RecordWriteSerializer();
    const order: number[] = [];
    const write = (version: number, ms: number) => async (): Promise<DeliveryResult> => {
      await new Promise((r) => setTimeout(r, ms));
      order.push(version);
      return delivered;
    };
    const [newer, older] = await Promise.all([
      serializer.run('d1', gift('1', 2000), write(2000, 30)),
      serializer.run('d1', gift('1', 1000), write(1000, 0)),
    ]);
    expect(newer).toEqual(delivered);
    expect(older).toEqual({ outcome: 'skipped', reason: 'stale' });
    expect(order).toEqual([2000]);
  });

  it('lets different records, and the same record at another destination, write at once', async () => {
    const serializer = new RecordWriteSerializer();
    let concurrent = 0;
    let peak = 0;
    const write = async (): Promise<DeliveryResult> => {
      concurrent += 1;
      peak = Math.max(peak, concurrent);
      await new Promise((r) => setTimeout(r, 20));
      concurrent -= 1;
      return delivered;
    };
    await Promise.all([
      serializer.run('d1', gift('1', 1000), write),
      serializer.run('d1', gift('2', 1000), write),
      serializer.run('d2', gift('1', 1000), write),
    ]);
    expect(peak).toBe(3);
  });
});

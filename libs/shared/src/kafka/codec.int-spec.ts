import { randomBytes } from 'node:crypto';
import { useTestStack } from '@raise-sync/testing';
import { EventCodec, subjectFor } from './codec';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import { eventSchemaFor } from '../events/schemas';
import {
  allSourceResources,
  newSourceEvent,
  type Resource,
  type Source,
  type SourceEvent,
} from '../events/source-event';

describe('EventCodec against the real schema registry', () => {
  const stack = useTestStack();
  const topic = (resource: Resource): string => `${stack.prefix}.source.${resource}`;

  const eventFor = (resource: Resource, operation: 'upsert' | 'delete' = 'upsert'): SourceEvent => {
    const source: Source = resource === 'user' ? 'vomo' : 'raise';
    const record = SAMPLE_RECORDS[resource];
    return newSourceEvent<Resource>({
      customerId: 'cust-1',
      source,
      resource,
      operation,
      origin: 'webhook',
      recordId: record.id,
      sourceModifiedAt: new Date('2026-11-20T09:12:04.250Z'),
      capturedAt: new Date('2026-11-20T09:12:05.000Z'),
      record: operation === 'delete' ? null : record,
    });
  };

  it.each(allSourceResources().map((r) => r.resource))(
    'round-trips a %s event through the registry',
    async (resource) => {
      const codec = new EventCodec(stack.registryUrl);
      const event = eventFor(resource);
      const bytes = await codec.encode(topic(resource), event);

      expect(bytes[0]).toBe(0); // Confluent magic byte
      const decoded = await new EventCodec(stack.registryUrl).decode(bytes);
      expect(decoded).toEqual({ ok: true, event });
    },
  );

  it('round-trips a delete, whose record is null', async () => {
    const codec = new EventCodec(stack.registryUrl);
    const event = eventFor('gift', 'delete');
    const decoded = await codec.decode(await codec.encode(topic('gift'), event));
    expect(decoded.ok && decoded.event).toEqual(
      expect.objectContaining({ operation: 'delete', record: null }),
    );
  });

  it('registers each topic under <topic>-value with BACKWARD compatibility', async () => {
    const codec = new EventCodec(stack.registryUrl);
    await codec.registerEventSchema(topic('donor'), 'donor');
    const config = await fetch(`${stack.registryUrl}/config/${subjectFor(topic('donor'))}`);
    expect(await config.json()).toEqual(
      expect.objectContaining({ compatibilityLevel: 'BACKWARD' }),
    );
  });

  it('accepts a compatible change and rejects an incompatible one', async () => {
    const codec = new EventCodec(stack.registryUrl);
    const subjectTopic = `${stack.prefix}.evolution.${randomBytes(2).toString('hex')}`;
    const v1 = eventSchemaFor('gift');
    const v1Id = await codec.registerSchema(subjectTopic, v1);

    const compatible = {
      ...v1,
      fields: [...v1.fields, { name: 'channel', type: ['null', 'string'], default: null }],
    };
    await expect(codec.registerSchema(subjectTopic, compatible)).resolves.not.toBe(v1Id);

    // A new field without a default cannot be read from old data: BACKWARD forbids it.
    const incompatible = {
      ...v1,
      fields: [...v1.fields, { name: 'mandatoryChannel', type: 'string' }],
    };
    await expect(codec.registerSchema(subjectTopic, incompatible)).rejects.toThrow();

    const versions = await fetch(
      `${stack.registryUrl}/subjects/${subjectFor(subjectTopic)}/versions`,
    );
    expect(await versions.json()).toHaveLength(2);
  });

  describe('reports undecodable input instead of throwing', () => {
    const codec = (): EventCodec => new EventCodec(stack.registryUrl);

    it.each([
      ['no value', null],
      ['plain JSON', Buffer.from(JSON.stringify({ id: 1 }))],
      ['wrong magic byte', Buffer.from([1, 0, 0, 0, 1, 2, 3])],
      ['too short to be framed', Buffer.from([0, 0, 1])],
      ['an unknown schema ID', Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2, 4])],
    ])('%s', async (_label, bytes) => {
      const result = await codec().decode(bytes);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error.reason).toBe('undecodable');
    });

    it('a truncated Avro body under a valid schema ID', async () => {
      const c = codec();
      const bytes = await c.encode(topic('gift'), eventFor('gift'));
      const result = await c.decode(bytes.subarray(0, 12));
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error.reason).toBe('undecodable');
    });

    it('an unreachable registry is retriable, not undecodable', async () => {
      const c = codec();
      const bytes = await c.encode(topic('gift'), eventFor('gift'));
      const result = await new EventCodec('http://127.0.0.1:9/apis/ccompat/v7').decode(bytes);
      expect(result.ok).toBe(false);
      expect(!result.ok && [result.error.reason, result.error.retriable]).toEqual([
        'registry_unavailable',
        true,
      ]);
    });
  });
});

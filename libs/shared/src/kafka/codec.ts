import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import * as avro from 'avsc';
import { RegistryUnavailableError, UndecodableMessageError, type SyncError } from '../errors';
import { eventSchemaFor, type AvroRecordSchema } from '../events/schemas';
import type { Resource, SourceEvent } from '../events/source-event';

/** Avro `timestamp-millis` <-> JS Date, so timestamps round-trip as Dates. */
class TimestampMillis extends avro.types.LogicalType {
  protected override _fromValue(value: unknown): Date {
    return new Date(value as number);
  }
  protected override _toValue(value: unknown): number | undefined {
    if (value instanceof Date) {
      return value.getTime();
    }
    return typeof value === 'number' ? value : undefined;
  }
  protected override _resolve(type: avro.Type): ((value: unknown) => Date) | undefined {
    if (avro.Type.isType(type, 'long', 'logical:timestamp-millis')) {
      return (value) => this._fromValue(value);
    }
    return undefined;
  }
}

const AVRO_OPTIONS = { logicalTypes: { 'timestamp-millis': TimestampMillis } };

/** Result of decoding one Kafka message value; bad input is a value, never an exception. */
export type DecodeResult = { ok: true; event: SourceEvent } | { ok: false; error: SyncError };

/** Subject name under the topic-name strategy. */
export const subjectFor = (topic: string): string => `${topic}-value`;

/**
 * Encodes and decodes source events in the Confluent wire format (magic byte 0, 4-byte schema ID,
 * Avro body) against a Confluent-API schema registry. Schemas are registered per topic with
 * BACKWARD compatibility; registering the same schema again is a no-op that returns the same ID.
 */
export class EventCodec {
  private readonly registry: SchemaRegistry;
  private readonly idsByTopic = new Map<string, Promise<number>>();

  constructor(registryUrl: string) {
    this.registry = new SchemaRegistry(
      {
        host: registryUrl,
        retry: { retries: 2, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 2 },
      },
      { [SchemaType.AVRO]: AVRO_OPTIONS },
    );
  }

  /**
   * Registers a schema under `<topic>-value` (BACKWARD). Throws the registry's error when the
   * schema is incompatible with what the subject already holds.
   */
  async registerSchema(topic: string, schema: AvroRecordSchema): Promise<number> {
    const register = () =>
      this.registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
        { subject: subjectFor(topic), compatibility: COMPATIBILITY.BACKWARD },
      );
    // Two processes registering a new subject at once race on its compatibility rule: the loser
    // sees "already exists", or reads the subject before the winner has set the rule ("does not
    // match the configuration (BACKWARD != NONE)"). Both settle within moments; register again.
    const racing = (error: unknown): boolean =>
      error instanceof Error &&
      /already exists|does not match the configuration/i.test(error.message);
    for (let attempt = 1; ; attempt += 1) {
      try {
        return (await register()).id;
      } catch (error) {
        if (!racing(error) || attempt >= 5) {
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, 150 * attempt));
      }
    }
  }

  /** Registers the event schema of `resource` for its topic once per codec; concurrent callers share it. */
  registerEventSchema(topic: string, resource: Resource): Promise<number> {
    let id = this.idsByTopic.get(topic);
    if (!id) {
      id = this.registerSchema(topic, eventSchemaFor(resource));
      this.idsByTopic.set(topic, id);
      id.catch(() => this.idsByTopic.delete(topic));
    }
    return id;
  }

  /** Encodes an event for `topic`, registering the topic's schema on first use. */
  async encode(topic: string, event: SourceEvent): Promise<Buffer> {
    const id = await this.registerEventSchema(topic, event.resource);
    return this.registry.encode(id, event);
  }

  /**
   * Decodes a message value. Not Confluent-framed, an unknown schema ID or a body that is not
   * valid Avro gives `{ ok: false, error: UndecodableMessageError }` (dead-letter it); an
   * unreachable registry gives a retriable RegistryUnavailableError (retry it later).
   */
  async decode(value: Buffer | null): Promise<DecodeResult> {
    if (value === null || value.length < 6 || value[0] !== 0) {
      return {
        ok: false,
        error: new UndecodableMessageError(
          value === null
            ? 'message has no value'
            : `message is not Confluent-framed Avro (length ${value.length}, first byte ${value[0] ?? 'none'})`,
        ),
      };
    }
    try {
      const event = (await this.registry.decode(value)) as SourceEvent;
      return { ok: true, event };
    } catch (caught) {
      return { ok: false, error: classifyDecodeError(caught, value.readUInt32BE(1)) };
    }
  }
}

function classifyDecodeError(caught: unknown, schemaId: number): SyncError {
  const status = (caught as { status?: unknown }).status;
  const message = caught instanceof Error ? caught.message : String(caught);
  // The registry client reports connection failures as a ResponseError with status 400, so the
  // network check comes before any status check.
  if (isNetworkError(caught)) {
    return new RegistryUnavailableError(`schema registry unreachable: ${message}`, {
      cause: caught,
    });
  }
  if (typeof status === 'number' && status === 404) {
    return new UndecodableMessageError(`schema ID ${schemaId} is unknown to the registry`, {
      cause: caught,
    });
  }
  if (typeof status === 'number' && status >= 500) {
    return new RegistryUnavailableError(`schema registry answered ${status}: ${message}`, {
      cause: caught,
    });
  }
  return new UndecodableMessageError(`Avro body does not match schema ${schemaId}: ${message}`, {
    cause: caught,
  });
}

function isNetworkError(caught: unknown): boolean {
  const code = (caught as { code?: unknown }).code;
  const cause =
    caught instanceof Error && caught.cause instanceof Error ? caught.cause.message : '';
  const text = caught instanceof Error ? `${caught.message} ${cause}` : String(caught);
  return (
    (typeof code === 'string' &&
      /^E(CONNREFUSED|CONNRESET|TIMEDOUT|HOSTUNREACH|NOTFOUND)|^ETIMEDOUT/.test(code)) ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up|fetch failed|timeout/i.test(text)
  );
}

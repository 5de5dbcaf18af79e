import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SourceEvent } from '@raise-sync/shared/events';
import {
  type FieldMap,
  deletePath,
  parseRaw,
  readSourcePath,
  setPath,
  sourceView,
} from '../mapping/field-map';

export const WEBHOOK_HEADERS = {
  timestamp: 'x-raisesync-timestamp',
  signature: 'x-raisesync-signature',
  idempotencyKey: 'idempotency-key',
} as const;

export interface WebhookBody {
  eventId: string;
  customerId: string;
  resource: string;
  operation: string;
  recordId: string;
  /** ISO 8601. */
  sourceModifiedAt: string;
  /** The record (dates as ISO strings, `raw` only with includeRaw), null for deletes. */
  record: Record<string, unknown> | null;
}

const jsonValue = (value: unknown): unknown =>
  value instanceof Date ? (Number.isNaN(value.getTime()) ? null : value.toISOString()) : value;

/**
 * The record as the partner receives it: every field, dates as ISO strings, nulls kept. `raw`
 * (the source API's model) only with `includeRaw`, parsed into JSON. A field map for the
 * resource renames (`"donorEmail": "email"`), adds (`"city": "raw.primaryAddress.city"`,
 * `"origin": {"value": "raise"}`) or drops (`"phone": null`) fields.
 */
export function webhookRecordOf(
  record: object,
  options: { includeRaw: boolean; fieldMap?: FieldMap },
): Record<string, unknown> {
  const fields = record as Record<string, unknown>;
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (key !== 'raw') {
      result[key] = jsonValue(value);
    }
  }
  if (options.includeRaw) {
    const raw = parseRaw(fields.raw);
    result.raw = raw ?? (typeof fields.raw === 'string' ? fields.raw : null);
  }
  if (options.fieldMap) {
    const view = sourceView(record);
    for (const [target, source] of Object.entries(options.fieldMap)) {
      if (source === null) {
        deletePath(result, target);
      } else if (typeof source === 'string') {
        const value = readSourcePath(view, source);
        setPath(result, target, value === undefined ? null : jsonValue(value));
      } else {
        setPath(result, target, source.value);
      }
    }
  }
  return result;
}

export function webhookBodyOf(
  event: SourceEvent,
  options: { includeRaw: boolean; fieldMap?: FieldMap },
): WebhookBody {
  return {
    eventId: event.eventId,
    customerId: event.customerId,
    resource: event.resource,
    operation: event.operation,
    recordId: event.recordId,
    sourceModifiedAt: event.sourceModifiedAt.toISOString(),
    record: event.record ? webhookRecordOf(event.record, options) : null,
  };
}

/** `base64(HMAC-SHA256(secret, "<unix seconds>.<raw body>"))`. */
export function webhookSignatureOf(secret: string, timestamp: string, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('base64');
}

/** For receivers (and tests): constant-time check of a delivery's signature. */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string,
  rawBody: string,
  signature: string,
): boolean {
  const expected = Buffer.from(webhookSignatureOf(secret, timestamp, rawBody));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** One key per event and destination: a redelivery of the same event is recognisable. */
export const webhookIdempotencyKeyOf = (eventId: string, destinationId: string): string =>
  `${eventId}:${destinationId}`;

import { createHmac, timingSafeEqual } from 'node:crypto';
import { decodeSignatureDigest, parseRecordId } from '@raise-sync/sources';

/**
 * Pure rules for CRM+ webhook deliveries (no Nest, no I/O, so they are unit-tested directly).
 *
 * CRM+ signs a delivery with base64(HMAC-SHA256(secret, raw body)) (documented); the header that
 * carries it is not documented. `X-Virtuous-Signature` is what the vendor's docs suggest, so it is
 * our guess, kept in one constant.
 */
export const CRM_PLUS_SIGNATURE_HEADER = 'x-virtuous-signature';

/**
 * True when `signature` is the canonical base64 of the HMAC-SHA256 of `body` under `secret`
 * (constant time). Decoded strictly, like Raise's: one digest has exactly one accepted spelling.
 */
export function verifyCrmPlusSignature(secret: string, body: Buffer, signature: string): boolean {
  const given = decodeSignatureDigest(signature);
  if (!given) {
    return false;
  }
  return timingSafeEqual(given, createHmac('sha256', secret).update(body).digest());
}

/** What one delivery says, reduced to the arrival it records. */
export interface CrmArrival {
  resource: 'gift' | 'contact';
  /** The PascalCase event name, e.g. GiftCreate. */
  event: string;
  crmId: string;
  /** The Raise record it points back to; null when it did not come from Raise. */
  raiseId: string | null;
  details: Record<string, unknown>;
}

/** A delivery we cannot use: the status to answer and the reason (metric label, log field). */
export interface CrmRejection {
  status: number;
  reason: string;
  message: string;
}

/** The CRM+ source names that mark a record as coming from Raise. */
export interface RaiseSourceNames {
  transactionSource: string;
  referenceSource: string;
}

const EVENTS: Record<string, 'gift' | 'contact'> = {
  GiftCreate: 'gift',
  GiftUpdate: 'gift',
  ContactCreate: 'contact',
  ContactUpdate: 'contact',
};

const idText = (value: unknown): string | null =>
  typeof value === 'number' && Number.isFinite(value)
    ? String(value)
    : typeof value === 'string' && value.trim() !== ''
      ? value.trim()
      : null;

/** A Raise record ID by the one rule (parseRecordId), or null when the value is not one. */
const raiseIdOrNull = (value: unknown): string | null => {
  try {
    return parseRecordId(value);
  } catch {
    return null;
  }
};

const sameName = (a: unknown, b: string): boolean =>
  typeof a === 'string' && a.trim().toLowerCase() === b.trim().toLowerCase();

/**
 * The arrival a delivery body describes, or why it is refused: not JSON (400 malformed_json), an
 * event we do not track (`null`: answered 200 and ignored, so CRM+ does not retry it), or a record
 * without an id or whose id is not a record ID (400 malformed_record). A gift points back to
 * Raise through transactionSource/transactionId, a contact through referenceSource/referenceId,
 * when the source name is the one the customer's CRM+ sync writes under and the ID is a Raise
 * record ID by parseRecordId (a refund's `<gift id>-refund`, or anything else, points at no
 * Raise record: raiseId null, answered 200 not_from_raise and not stored).
 */
export function parseCrmPlusDelivery(
  body: Buffer,
  names: RaiseSourceNames,
): CrmArrival | CrmRejection | null {
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    return { status: 400, reason: 'malformed_json', message: 'body is not valid JSON' };
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return { status: 400, reason: 'malformed_json', message: 'body is not a JSON object' };
  }
  const { event } = payload as { event?: unknown };
  const resource = typeof event === 'string' ? EVENTS[event] : undefined;
  if (!resource) {
    return null;
  }
  const record = (payload as Record<string, unknown>)[resource];
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return { status: 400, reason: 'malformed_record', message: `${resource} is missing` };
  }
  const fields = record as Record<string, unknown>;
  // CRM+ IDs are positive integers too; one rule for every record ID we store.
  const crmId = raiseIdOrNull(fields.id);
  if (crmId === null) {
    return {
      status: 400,
      reason: 'malformed_record',
      message: `${resource}.id is missing or not a record ID`,
    };
  }
  if (resource === 'gift') {
    const fromRaise = sameName(fields.transactionSource, names.transactionSource);
    return {
      resource,
      event: event as string,
      crmId,
      raiseId: fromRaise ? raiseIdOrNull(fields.transactionId) : null,
      details: {
        crmAmount: typeof fields.amount === 'number' ? fields.amount : null,
        crmCurrency: typeof fields.currencyCode === 'string' ? fields.currencyCode : null,
        crmGiftDate:
          typeof fields.giftDate === 'string'
            ? fields.giftDate
            : typeof fields.giftDateFormatted === 'string'
              ? fields.giftDateFormatted
              : null,
        crmContactId: idText(fields.contactId),
        transactionSource:
          typeof fields.transactionSource === 'string' ? fields.transactionSource : null,
        transactionId: idText(fields.transactionId),
      },
    };
  }
  const fromRaise = sameName(fields.referenceSource, names.referenceSource);
  return {
    resource,
    event: event as string,
    crmId,
    raiseId: fromRaise ? raiseIdOrNull(fields.referenceId) : null,
    details: {
      referenceSource: typeof fields.referenceSource === 'string' ? fields.referenceSource : null,
      referenceId: idText(fields.referenceId),
    },
  };
}

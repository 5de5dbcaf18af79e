import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from './source-event';

/** Avro record schema as plain JSON. */
export interface AvroRecordSchema {
  type: 'record';
  name: string;
  namespace?: string;
  doc?: string;
  fields: Array<{ name: string; type: unknown; default?: unknown; doc?: string }>;
}

const RECORD_SCHEMA_FILES: Record<Resource, string> = {
  donor: 'raise-donor.avsc',
  gift: 'raise-gift.avsc',
  recurring_gift: 'raise-recurring-gift.avsc',
  campaign: 'raise-campaign.avsc',
  user: 'vomo-user.avsc',
};

// The .avsc files are the source of truth; builds copy them next to the compiled code.
const SCHEMA_DIR = join(__dirname, 'schemas');

function readSchema(file: string): AvroRecordSchema {
  return JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as AvroRecordSchema;
}

/** The record schema of one resource (e.g. RaiseGift). */
export function recordSchemaFor(resource: Resource): AvroRecordSchema {
  return readSchema(RECORD_SCHEMA_FILES[resource]);
}

/**
 * The value schema of a resource's source topic: the shared envelope plus a nullable `record`
 * field of that resource's record type. Named e.g. `RaiseGiftEvent`.
 */
export function eventSchemaFor(resource: Resource): AvroRecordSchema {
  const envelope = readSchema('source-event.avsc');
  const record = recordSchemaFor(resource);
  return {
    type: 'record',
    name: `${record.name}Event`,
    namespace: envelope.namespace,
    doc: `${envelope.doc ?? ''} Record type: ${record.name}.`.trim(),
    fields: [
      ...envelope.fields,
      { name: 'record', type: ['null', record], default: null, doc: 'null for deletes' },
    ],
  };
}

import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import { upsertStatement } from './warehouse.adapter';
import {
  DONOR_TABLE,
  GIFT_TABLE,
  WAREHOUSE_TABLES,
  dateValue,
  localTimestampValue,
  numericValue,
  parseRawObject,
  rawJsonValue,
  textValue,
} from './warehouse.tables';

const row = <R>(
  table: {
    columns: ReadonlyArray<{
      name: string;
      value(r: R, raw: Record<string, unknown> | null): unknown;
    }>;
  },
  record: R & { raw: string },
) =>
  Object.fromEntries(
    table.columns.map((c) => [c.name, c.value(record, parseRawObject(record.raw))]),
  );

describe('warehouse tables', () => {
  it('has a typed column for every Avro record field (raw and the id aside)', () => {
    for (const [resource, table] of Object.entries(WAREHOUSE_TABLES)) {
      const fields = Object.keys(SAMPLE_RECORDS[resource as keyof typeof SAMPLE_RECORDS]).filter(
        (f) => f !== 'raw' && f !== 'id',
      );
      const fromFields = table.columns.map((c) => c.from.split(' ')[0]);
      expect({ resource, missing: fields.filter((f) => !fromFields.includes(f)) }).toEqual({
        resource,
        missing: [],
      });
    }
  });

  it('flattens a gift, including the first project', () => {
    const raw = JSON.stringify({
      segment: 'WEB',
      projects: [{ projectId: 7, name: 'Clean Water', amount: 100 }, { projectId: 8 }],
    });
    expect(row(GIFT_TABLE, { ...SAMPLE_RECORDS.gift, raw })).toEqual({
      donor_id: '48213',
      recurring_gift_id: null,
      campaign_name: 'Winter Appeal',
      amount: '125.50',
      currency: 'USD',
      gift_date: '2026-11-20 09:12:00',
      status_text: 'Success',
      is_test_mode: false,
      is_anonymous: false,
      payment_type: 'CreditCard',
      transaction_id: 'ch_3Q8',
      donor_email: 'ada@example.org',
      created_date: '2026-11-20T09:12:03.000Z',
      modified_date: '2026-11-20T09:12:04.250Z',
      segment: 'WEB',
      project_count: 2,
      first_project_id: '7',
      first_project_name: 'Clean Water',
    });
  });

  it('flattens the donor primary address, from primaryAddress or the primary donorAddresses entry', () => {
    const primary = JSON.stringify({
      primaryAddress: { city: 'Austin', state: 'TX', postal: '78701', countryString: 'US' },
    });
    expect(row(DONOR_TABLE, { ...SAMPLE_RECORDS.donor, raw: primary })).toMatchObject({
      address_city: 'Austin',
      address_state: 'TX',
      address_postal: '78701',
      address_country: 'US',
    });
    const listed = JSON.stringify({
      donorAddresses: [
        { city: 'Old', isPrimary: false },
        { city: 'Leeds', isPrimary: true },
      ],
    });
    expect(row(DONOR_TABLE, { ...SAMPLE_RECORDS.donor, raw: listed })).toMatchObject({
      address_city: 'Leeds',
      address_state: null,
    });
  });

  it('makes every value valid for its column or null', () => {
    expect(localTimestampValue('2026-11-20T09:12:00')).toBe('2026-11-20 09:12:00');
    expect(localTimestampValue('2026-11-20T09:12:00.1234567Z')).toBe('2026-11-20 09:12:00.123456');
    expect(localTimestampValue('2026-11-20')).toBe('2026-11-20 00:00:00');
    expect(localTimestampValue('2026-02-30T00:00:00')).toBeNull();
    expect(localTimestampValue('20/11/2026')).toBeNull();
    expect(dateValue('2026-02-01T00:00:00')).toBe('2026-02-01');
    expect(dateValue('2026-13-01')).toBeNull();
    expect(numericValue('125.50')).toBe('125.50');
    expect(numericValue('12,50')).toBeNull();
    expect(textValue('a\u0000b')).toBe('ab');
    expect(textValue('x\ud800y\ud83d\ude00')).toBe('x\ufffdy\ud83d\ude00');
    expect(rawJsonValue('{"a":"x\\u0000y","\\ud800":"\\ud83d\\ude00"}')).toEqual({
      a: 'xy',
      '\ufffd': '\ud83d\ude00',
    });
    expect(rawJsonValue('{oops')).toEqual({ unparsed: '{oops' });
    expect(rawJsonValue('[1,2]')).toEqual([1, 2]);
    expect(rawJsonValue('')).toBeNull();
  });

  it('builds one multi-row upsert from a single JSON batch parameter, with the newest-wins guard', () => {
    const sql = upsertStatement(GIFT_TABLE);
    expect(sql).toContain(
      'INSERT INTO warehouse.raise_gift AS t (customer_id, source_id, source_modified_at, event_id, deleted_at, raw, donor_id',
    );
    expect(sql).toContain(
      "SELECT $1::uuid, (r->>0)::text, (r->>1)::timestamptz, (r->>2)::text, (r->>3)::timestamptz, NULLIF(r->4, 'null'::jsonb), (r->>5)::text",
    );
    expect(sql).toContain('FROM jsonb_array_elements($2::jsonb) AS r');
    expect(sql).toContain('WHERE excluded.source_modified_at >= t.source_modified_at');
  });
});

import { DONOR_ERASURE_STEPS, bind } from './donor-erasure.repository';

const values = {
  customer: '6f1c1c1e-8d7e-4b8e-9a51-0f3f4c2a9b10',
  donor: '48213',
  gifts: ['1', '2'],
  recurringGifts: ['3'],
};

describe('donor erasure steps', () => {
  it('numbers only the placeholders a statement uses, once each, in order of appearance', () => {
    expect(bind('SELECT {donor}, {customer}, {donor}', values)).toEqual([
      'SELECT $1::text, $2::uuid, $1::text',
      ['48213', values.customer],
    ]);
    expect(bind('SELECT 1', values)).toEqual(['SELECT 1', []]);
  });

  it('scopes every step to the customer and names each table once', () => {
    const tables = DONOR_ERASURE_STEPS.map((s) => s.table);
    expect(new Set(tables).size).toBe(tables.length);
    for (const step of DONOR_ERASURE_STEPS) {
      const [sql, params] = bind(step.sql, values);
      expect(sql).toContain('$1::uuid');
      expect(params[0]).toBe(values.customer);
      expect(sql).not.toMatch(/\{(customer|donor|gifts|recurringGifts)\}/);
    }
  });

  it('covers every table that keeps a donor payload, model or free text, and the warehouse', () => {
    expect(DONOR_ERASURE_STEPS.map((s) => s.table)).toEqual(
      expect.arrayContaining([
        'dead_letters',
        'retry_entries',
        'related_records',
        'write_intents',
        'audit_log',
        'sync_records',
        'cross_product_arrivals',
        'reconciliation_discrepancies',
        'warehouse.raise_donor',
        'warehouse.raise_gift',
        'warehouse.raise_recurring_gift',
      ]),
    );
  });
});

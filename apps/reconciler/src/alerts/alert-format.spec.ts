import { alertItem, backoffMs, runAlertDetails, webhookBody } from './alert-format';

describe('alert format', () => {
  const rows = [
    {
      resource: 'gift',
      source_id: '1000002',
      state: 'missing_in_crm',
      details: { amount: 25, canSync: true, likelyCause: 'sync failed', token: 'leak?' },
    },
    { resource: 'donor', source_id: '10004', state: 'orphaned_crm_key', details: null },
  ];

  it('lists records with resource, id and state first, and drops secret-looking keys', () => {
    expect(alertItem(rows[0]!)).toEqual({
      resource: 'gift',
      id: '1000002',
      state: 'missing_in_crm',
      amount: 25,
      canSync: true,
      likelyCause: 'sync failed',
    });
  });

  it('says when the list is capped', () => {
    const details = runAlertDetails({
      customerId: 'c1',
      customerName: 'Acme',
      kind: 'crm-consistency',
      runId: 'r1',
      windowStart: new Date('2026-11-20T00:00:00Z'),
      windowEnd: new Date('2026-11-21T00:00:00Z'),
      counts: { actionable: 5 },
      total: 5,
      rows,
    });
    expect(details.records).toMatchObject({ total: 5, shown: 2, truncated: true });
    expect(details.window).toEqual({
      start: '2026-11-20T00:00:00.000Z',
      end: '2026-11-21T00:00:00.000Z',
    });
    expect(details.customer).toEqual({ id: 'c1', name: 'Acme' });
  });

  it('wraps the stored alert for the ops URL', () => {
    expect(
      webhookBody({
        id: 'a1',
        runId: 'r1',
        customerId: 'c1',
        severity: 'warning',
        title: 't',
        createdAt: new Date('2026-11-21T06:00:00Z'),
        details: { x: 1 },
      }),
    ).toEqual({
      type: 'raise-sync.reconciliation.alert',
      alertId: 'a1',
      runId: 'r1',
      customerId: 'c1',
      severity: 'warning',
      title: 't',
      createdAt: '2026-11-21T06:00:00.000Z',
      details: { x: 1 },
    });
  });

  it('backs off base, then three times base', () => {
    expect([2, 3, 4].map((attempt) => backoffMs(attempt, 500))).toEqual([500, 1500, 4500]);
  });
});

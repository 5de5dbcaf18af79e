import { raiseWebhookTarget } from './raise-webhook-route';

describe('raiseWebhookTarget (which requests the lean webhook route answers)', () => {
  const id = '6f1c1f0e-7a51-4b43-9d47-4d1b6f0a0001';

  it('takes a plain POST to /webhooks/raise/<id>, with a query or one trailing slash', () => {
    expect(raiseWebhookTarget('POST', `/webhooks/raise/${id}`)).toBe(id);
    expect(raiseWebhookTarget('POST', `/webhooks/raise/${id}?x=1`)).toBe(id);
    expect(raiseWebhookTarget('POST', `/webhooks/raise/${id}/`)).toBe(id);
    // Not a UUID: still the intake's to refuse (404 unknown_customer), like the Nest route.
    expect(raiseWebhookTarget('POST', '/webhooks/raise/not-a-uuid')).toBe('not-a-uuid');
  });

  it.each([
    ['GET', `/webhooks/raise/${id}`],
    ['POST', '/webhooks/raise/'],
    ['POST', '/webhooks/raise'],
    ['POST', `/webhooks/raise/${id}/extra`],
    ['POST', `/webhooks/${id}/crm-plus`],
    ['POST', `/webhooks/vomo/${id}`],
    ['POST', `/Webhooks/Raise/${id}`],
    ['POST', `/webhooks/raise/%36${id.slice(1)}`],
    ['POST', `/admin/customers`],
  ])('leaves %s %s to the Nest routes', (method, url) => {
    expect(raiseWebhookTarget(method, url)).toBeNull();
  });
});

import { createHmac } from 'node:crypto';
import { parseCrmPlusDelivery, verifyCrmPlusSignature } from './crm-plus-delivery';

const names = { transactionSource: 'raise', referenceSource: 'raise' };
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe(verifyCrmPlusSignature.name, () => {
  const body = json({ event: 'GiftCreate', gift: { id: 1 } });
  const good = createHmac('sha256', 'secret').update(body).digest('base64');

  it('accepts the base64 HMAC-SHA256 of the exact bytes and nothing else', () => {
    expect(verifyCrmPlusSignature('secret', body, good)).toBe(true);
    expect(verifyCrmPlusSignature('other', body, good)).toBe(false);
    expect(verifyCrmPlusSignature('secret', Buffer.concat([body, Buffer.from(' ')]), good)).toBe(
      false,
    );
    expect(verifyCrmPlusSignature('secret', body, 'not base64 at all!')).toBe(false);
    expect(verifyCrmPlusSignature('secret', body, '')).toBe(false);
  });

  it('decodes strictly: no other spelling of the same digest passes', () => {
    const urlSafe = good.replace(/\+/g, '-').replace(/\//g, '_');
    for (const variant of [
      good.replace(/=$/, ''),
      `${good}AAAA`,
      ` ${good}`,
      `${good} `,
      `${good.slice(0, 8)} ${good.slice(8)}`,
      `${good}, ${good}`,
      ...(urlSafe === good ? [] : [urlSafe]),
    ]) {
      expect(Buffer.from(variant, 'base64').subarray(0, 32)).toEqual(Buffer.from(good, 'base64'));
      expect(verifyCrmPlusSignature('secret', body, variant)).toBe(false);
    }
  });
});

describe(parseCrmPlusDelivery.name, () => {
  it('links a gift to its Raise gift through transactionSource/transactionId', () => {
    const parsed = parseCrmPlusDelivery(
      json({
        event: 'GiftCreate',
        gift: {
          id: 5000001,
          transactionSource: 'Raise',
          transactionId: '1000007',
          amount: 25,
          currencyCode: 'USD',
          giftDate: '2026-03-04',
          contactId: 200001,
        },
      }),
      names,
    );
    expect(parsed).toEqual({
      resource: 'gift',
      event: 'GiftCreate',
      crmId: '5000001',
      raiseId: '1000007',
      details: {
        crmAmount: 25,
        crmCurrency: 'USD',
        crmGiftDate: '2026-03-04',
        crmContactId: '200001',
        transactionSource: 'Raise',
        transactionId: '1000007',
      },
    });
  });

  it('leaves raiseId null for records written under another source name', () => {
    const gift = parseCrmPlusDelivery(
      json({
        event: 'GiftUpdate',
        gift: { id: 9, transactionSource: 'checks', transactionId: 'x' },
      }),
      names,
    );
    expect(gift).toMatchObject({ resource: 'gift', raiseId: null });
    const contact = parseCrmPlusDelivery(
      json({
        event: 'ContactCreate',
        contact: { id: 7, referenceSource: 'raise', referenceId: 10001 },
      }),
      names,
    );
    expect(contact).toMatchObject({ resource: 'contact', crmId: '7', raiseId: '10001' });
  });

  it('refuses bodies it cannot read and ignores events it does not track', () => {
    expect(parseCrmPlusDelivery(Buffer.from('{nope'), names)).toMatchObject({
      status: 400,
      reason: 'malformed_json',
    });
    expect(parseCrmPlusDelivery(json([1]), names)).toMatchObject({ reason: 'malformed_json' });
    expect(parseCrmPlusDelivery(json({ event: 'GiftCreate' }), names)).toMatchObject({
      status: 400,
      reason: 'malformed_record',
    });
    expect(parseCrmPlusDelivery(json({ event: 'GiftCreate', gift: {} }), names)).toMatchObject({
      reason: 'malformed_record',
    });
    expect(
      parseCrmPlusDelivery(json({ event: 'ProjectCreate', project: { id: 1 } }), names),
    ).toBeNull();
  });

  it('holds every ID to the one record-ID rule', () => {
    for (const id of ['', 'a:b', -5, 1.5, 2 ** 53 + 2, '007']) {
      expect(
        parseCrmPlusDelivery(
          json({ event: 'GiftCreate', gift: { id, transactionSource: 'raise' } }),
          names,
        ),
      ).toMatchObject({ status: 400, reason: 'malformed_record' });
    }
    // A pointer that is no Raise record ID (a refund's reversing transaction, a made-up key) is
    // not a Raise record: nothing to confirm, so it is not stored under that ID.
    for (const transactionId of ['1000007-refund', 'a:b', '-5', '9007199254740993']) {
      expect(
        parseCrmPlusDelivery(
          json({ event: 'GiftCreate', gift: { id: 5, transactionSource: 'raise', transactionId } }),
          names,
        ),
      ).toMatchObject({ crmId: '5', raiseId: null });
    }
    expect(
      parseCrmPlusDelivery(
        json({
          event: 'ContactUpdate',
          contact: { id: 7, referenceSource: 'raise', referenceId: '1:2' },
        }),
        names,
      ),
    ).toMatchObject({ raiseId: null });
  });
});

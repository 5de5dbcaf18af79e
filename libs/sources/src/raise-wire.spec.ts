import { createHmac } from 'node:crypto';
import {
  decodeSignatureDigest,
  parseRaiseTimestamp,
  signRaiseWebhook,
  verifyRaiseSignature,
  verifyRaiseSignatureDigest,
} from './raise-wire';

const secret = 'whsec_test_secret';
const body = Buffer.from('{"eventType":10,"contextId":1,"data":{"id":1}}');

/** A timestamp whose signature contains both `+` and `/`, so base64url spells it differently. */
function timestampWithUrlUnsafeSignature(): number {
  for (let ts = 1_790_000_000; ; ts += 1) {
    const signature = signRaiseWebhook(secret, ts, body);
    if (signature.includes('+') && signature.includes('/')) {
      return ts;
    }
  }
}

describe(verifyRaiseSignature.name, () => {
  const ts = timestampWithUrlUnsafeSignature();
  const canonical = signRaiseWebhook(secret, ts, body);

  it('accepts the canonical base64 of the HMAC and returns its digest bytes', () => {
    expect(verifyRaiseSignature(secret, ts, body, canonical)).toBe(true);
    expect(verifyRaiseSignatureDigest(secret, ts, body, canonical)).toEqual(
      createHmac('sha256', secret).update(`${ts}.`).update(body).digest(),
    );
    expect(verifyRaiseSignature('other', ts, body, canonical)).toBe(false);
    expect(verifyRaiseSignature(secret, ts + 1, body, canonical)).toBe(false);
  });

  it.each([
    ['padding dropped', (s: string) => s.replace(/=$/, '')],
    ['four extra characters', (s: string) => `${s}AAAA`],
    ['an extra padding character', (s: string) => `${s}=`],
    ['a space inside', (s: string) => `${s.slice(0, 10)} ${s.slice(10)}`],
    ['a trailing space', (s: string) => `${s} `],
    ['a newline', (s: string) => `${s}\n`],
    ['base64url', (s: string) => s.replace(/\+/g, '-').replace(/\//g, '_')],
    [
      'base64url without padding',
      (s: string) => s.replace(/\+/g, '-').replace(/\//g, '_').slice(0, -1),
    ],
    ['the header twice, joined by Node', (s: string) => `${s}, ${s}`],
    ['hex of the digest', (s: string) => Buffer.from(s, 'base64').toString('hex')],
    ['the empty string', () => ''],
  ])('refuses the same digest spelled with %s', (_name, variant) => {
    const text = variant(canonical);
    expect(text).not.toBe(canonical);
    expect(verifyRaiseSignatureDigest(secret, ts, body, text)).toBeNull();
  });

  it('refuses non-canonical padding bits that decode to the same bytes', () => {
    // The 43rd character carries 2 unused bits; setting them changes the text, not the bytes.
    const last = canonical[42] as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const sloppy = `${canonical.slice(0, 42)}${alphabet[alphabet.indexOf(last) | 1]}=`;
    expect(sloppy).not.toBe(canonical);
    expect(Buffer.from(sloppy, 'base64')).toEqual(Buffer.from(canonical, 'base64'));
    expect(decodeSignatureDigest(sloppy)).toBeNull();
    expect(decodeSignatureDigest(canonical)).toHaveLength(32);
  });
});

describe(parseRaiseTimestamp.name, () => {
  it('reads plain Unix seconds only', () => {
    expect(parseRaiseTimestamp('1790000000')).toBe(1_790_000_000);
    for (const text of [
      '',
      ' 1790000000',
      '+1790000000',
      '1790000000.0',
      '1.79e9',
      '0x6AB0F980',
      '01790000000',
      '-1',
    ]) {
      expect(parseRaiseTimestamp(text)).toBeNull();
    }
  });
});

import { randomBytes } from 'node:crypto';
import { SecretBox } from './secret-box';

describe(SecretBox.name, () => {
  const box = new SecretBox(randomBytes(32));

  it('opens what it sealed', () => {
    expect(box.open(box.seal('tok_live_123'))).toBe('tok_live_123');
    expect(box.openJson(box.sealJson({ raise: { token: 'a' } }))).toEqual({
      raise: { token: 'a' },
    });
  });

  it('uses a fresh IV each time, so equal secrets do not look equal', () => {
    expect(box.seal('same').equals(box.seal('same'))).toBe(false);
  });

  it('does not contain the plaintext', () => {
    expect(box.seal('tok_live_PLAINTEXT').includes(Buffer.from('PLAINTEXT'))).toBe(false);
  });

  it('detects tampering without echoing the secret', () => {
    const sealed = box.seal('secret-value');
    sealed[sealed.length - 1] = (sealed[sealed.length - 1] ?? 0) ^ 0xff;
    expect(() => box.open(sealed)).toThrow(/failed authentication/);
    expect(() => box.open(sealed)).not.toThrow(/secret-value/);
  });

  it('says when the key is wrong', () => {
    expect(() => new SecretBox(randomBytes(32)).open(box.seal('x'))).toThrow(
      /different SECRETS_KEY/,
    );
  });

  it('rejects keys that are not 64 hex characters, naming SECRETS_KEY', () => {
    expect(() => SecretBox.fromHex('zz')).toThrow(/SECRETS_KEY/);
    expect(SecretBox.fromHex('ab'.repeat(32))).toBeInstanceOf(SecretBox);
  });
});

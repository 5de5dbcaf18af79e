import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_BYTES = 4;
const HEADER_BYTES = 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES;

/**
 * AES-256-GCM for secrets at rest (customer tokens, webhook secrets).
 *
 * Sealed format: version (1 byte) | key id (4 bytes, first bytes of sha256(key)) | IV (12 random
 * bytes) | auth tag (16 bytes) | ciphertext. The key id lets `open` say "wrong key" instead of
 * "corrupt", and leaves room for key rotation. Errors never contain the plaintext.
 */
export class SecretBox {
  private readonly keyId: Buffer;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) {
      throw new Error(`SECRETS_KEY must be 32 bytes (64 hex characters); got ${key.length} bytes`);
    }
    this.keyId = createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES);
  }

  /** From the 64-hex-character SECRETS_KEY value. */
  static fromHex(hex: string): SecretBox {
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
      throw new Error('SECRETS_KEY must be 64 hexadecimal characters (an AES-256 key)');
    }
    return new SecretBox(Buffer.from(hex, 'hex'));
  }

  seal(plaintext: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), this.keyId, iv, cipher.getAuthTag(), body]);
  }

  open(sealed: Buffer): string {
    if (sealed.length < HEADER_BYTES || sealed[0] !== VERSION) {
      throw new Error('sealed secret has an unknown format');
    }
    if (!sealed.subarray(1, 1 + KEY_ID_BYTES).equals(this.keyId)) {
      throw new Error('sealed secret was encrypted with a different SECRETS_KEY');
    }
    const ivStart = 1 + KEY_ID_BYTES;
    const iv = sealed.subarray(ivStart, ivStart + IV_BYTES);
    const tag = sealed.subarray(ivStart + IV_BYTES, HEADER_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([
        decipher.update(sealed.subarray(HEADER_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new Error('sealed secret failed authentication (tampered or corrupt)');
    }
  }

  sealJson(value: unknown): Buffer {
    return this.seal(JSON.stringify(value));
  }

  openJson<T>(sealed: Buffer): T {
    return JSON.parse(this.open(sealed)) as T;
  }
}

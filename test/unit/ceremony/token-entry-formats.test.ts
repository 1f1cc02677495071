import {
  constants,
  createCipheriv,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { oaepDecode, rfc3394Wrap } from '../../../electron/hsm/pkcs11/ceremony-ops.host';

/**
 * The two formats the token host runs itself when forming keys: RFC 3394 over a one-block
 * cipher (the token's AES-ECB in the host; node's AES-ECB here), and EME-OAEP decoding of a raw
 * RSA result (for tokens that do OAEP with SHA-1 only). Checked against the RFC's own vector and
 * against node:crypto.
 */

const ecb = (key: Buffer) => (block: Buffer) => {
  const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
};

describe('RFC 3394 key wrap over a one-block cipher', () => {
  it('gives the RFC 3394 section 4.6 answer (256-bit key data, 256-bit KEK)', () => {
    const kek = Buffer.from('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F', 'hex');
    const data = Buffer.from('00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F', 'hex');
    expect(rfc3394Wrap(data, ecb(kek)).toString('hex').toUpperCase()).toBe(
      '28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21',
    );
  });

  it.each([16, 24, 32])('agrees with node’s id-aes256-wrap for %i-byte keys', (n) => {
    const kek = randomBytes(32);
    const data = randomBytes(n);
    const node = createCipheriv('id-aes256-wrap', kek, Buffer.from('a6a6a6a6a6a6a6a6', 'hex'));
    expect(rfc3394Wrap(data, ecb(kek))).toEqual(Buffer.concat([node.update(data), node.final()]));
  });
});

describe('EME-OAEP (SHA-256) decoding of a raw RSA result', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const raw = (ciphertext: Buffer) =>
    privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ciphertext);

  it('opens what node:crypto encrypted with OAEP SHA-256', () => {
    const message = randomBytes(24);
    const ct = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      message,
    );
    expect(Buffer.from(oaepDecode(raw(ct), 256)!)).toEqual(message);
  });

  it('refuses OAEP with SHA-1 and a block with any byte changed, with one answer', () => {
    const message = randomBytes(24);
    const sha1 = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      message,
    );
    expect(oaepDecode(raw(sha1), 256)).toBeNull();
    // Well formed but under another label: only the label hash tells.
    const labelled = publicEncrypt(
      {
        key: publicKey,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
        oaepLabel: Buffer.from('x'),
      },
      message,
    );
    expect(oaepDecode(raw(labelled), 256)).toBeNull();
    const ct = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      message,
    );
    const em = raw(ct);
    for (const at of [0, 1, 40, 200, 255]) {
      const bad = Buffer.from(em);
      bad[at]! ^= 0x01;
      expect(oaepDecode(bad, 256), `byte ${at}`).toBeNull();
    }
  });
});

import { constants, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkMerchantPublicKey,
  decodePkcs1v15,
  decryptField,
} from '../../../electron/gateway/sandbox/rsa.nodejs';

const K = 256;
const nonzero = (n: number) => Buffer.from(Array.from(randomBytes(n), (b) => b || 0xff));
const block = (parts: (number[] | Buffer)[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));

describe('decodePkcs1v15', () => {
  it('returns the message after 00 02 PS 00', () => {
    const em = block([[0, 2], nonzero(K - 3 - 5), [0], Buffer.from('hello')]);
    expect(decodePkcs1v15(em, K)?.toString()).toBe('hello');
  });

  it('accepts an empty message and a padding string of exactly 8 bytes', () => {
    expect(decodePkcs1v15(block([[0, 2], nonzero(K - 3), [0]]), K)?.length).toBe(0);
    const m = Buffer.alloc(K - 11, 0x41);
    expect(decodePkcs1v15(block([[0, 2], nonzero(8), [0], m]), K)?.equals(m)).toBe(true);
  });

  it.each([
    ['first byte not zero', block([[1, 2], nonzero(K - 8), [0], Buffer.from('abcde')])],
    ['block type 1', block([[0, 1], nonzero(K - 8), [0], Buffer.from('abcde')])],
    ['block type 0', block([[0, 0], nonzero(K - 8), [0], Buffer.from('abcde')])],
    ['padding string of 7 bytes', block([[0, 2], nonzero(7), [0], Buffer.alloc(K - 10, 0x41)])],
    ['a zero right after the type byte', block([[0, 2, 0], nonzero(K - 3)])],
    ['no separator', block([[0, 2], nonzero(K - 2)])],
    ['wrong length', block([[0, 2], nonzero(K - 4), [0]])],
  ])('refuses %s', (_name, em) => {
    expect(decodePkcs1v15(em, K)).toBeNull();
  });
});

describe('decryptField', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

  it('decrypts PKCS#1 v1.5 and OAEP-SHA256, each only under its own padding', () => {
    const v15 = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from('4111'));
    const oaep = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from('4111'),
    );
    expect(decryptField(privateKey, 'RSAES-PKCS1-V1_5', v15)?.toString()).toBe('4111');
    expect(decryptField(privateKey, 'RSAES-OAEP-SHA256', oaep)?.toString()).toBe('4111');
    expect(decryptField(privateKey, 'RSAES-OAEP-SHA256', v15)).toBeNull();
    expect(decryptField(privateKey, 'RSAES-PKCS1-V1_5', oaep)).toBeNull();
  });

  it('refuses a ciphertext that is not exactly the modulus length, or not below the modulus', () => {
    expect(decryptField(privateKey, 'RSAES-PKCS1-V1_5', Buffer.alloc(255, 1))).toBeNull();
    expect(decryptField(privateKey, 'RSAES-PKCS1-V1_5', Buffer.alloc(256, 0xff))).toBeNull();
  });
});

describe('checkMerchantPublicKey', () => {
  const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });

  it('accepts an RSA-2048 public key as SPKI or PKCS#1 PEM', () => {
    const spki = rsa2048.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const pkcs1 = rsa2048.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(checkMerchantPublicKey(spki)).toMatchObject({ ok: true, bits: 2048 });
    expect(checkMerchantPublicKey(pkcs1)).toMatchObject({ ok: true, bits: 2048 });
  });

  it('refuses a private key even though a public key could be derived from it', () => {
    const pem = rsa2048.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    const r = checkMerchantPublicKey(pem);
    expect(r.ok).toBe(false);
  });

  it('refuses RSA-PSS, EC and short keys', () => {
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    for (const pem of [pss, ec, short]) expect(checkMerchantPublicKey(pem as string).ok).toBe(false);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { constants, publicEncrypt, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import {
  checkPkcs1v15Padding,
  decryptPkcs1v15,
  rsaRawDecrypt,
  unpadPkcs1v15,
} from '../../../electron/crypto/rsa-pkcs1.nodejs';
import { MkmError } from '../../../shared/errors.std';
import { makeRsaFixture, opensslAccepts, openssl, writeTemp, type RsaFixture } from './fixtures';

const K = 256;
let fx: RsaFixture;
let forgePublic: forge.pki.rsa.PublicKey;

beforeAll(() => {
  fx = makeRsaFixture();
  forgePublic = forge.pki.publicKeyFromPem(fx.publicPem);
});

function nonzero(n: number): Buffer {
  const b = randomBytes(n);
  for (let i = 0; i < n; i++) if (b[i] === 0) b[i] = 1 + (i % 255);
  return b;
}

/** EM = 00 02 PS 00 M, with knobs to break each part. */
function em(message: Uint8Array, opts: { first?: number; second?: number; psLength?: number } = {}): Buffer {
  const psLength = opts.psLength ?? K - 3 - message.length;
  const out = Buffer.concat([
    Buffer.from([opts.first ?? 0, opts.second ?? 2]),
    nonzero(psLength),
    Buffer.from([0]),
    message,
  ]);
  expect(out.length).toBe(K);
  return out;
}

/** Raw RSA under the public key: what a (possibly malicious) client could send. */
function rawEncrypt(block: Buffer): Buffer {
  return publicEncrypt({ key: fx.publicKey, padding: constants.RSA_NO_PADDING }, block);
}

function opensslPkcs1Decrypts(ciphertext: Buffer): boolean {
  const file = writeTemp(fx.dir, `c-${randomBytes(4).toString('hex')}`, ciphertext);
  return opensslAccepts([
    'pkeyutl',
    '-decrypt',
    '-inkey',
    fx.privatePemPath,
    '-pkeyopt',
    'rsa_padding_mode:pkcs1',
    '-in',
    file,
  ]);
}

function refused(ciphertext: Uint8Array): MkmError {
  try {
    decryptPkcs1v15(fx.privateKey, ciphertext);
  } catch (e) {
    return e as MkmError;
  }
  throw new Error('expected a refusal');
}

describe('explicit PKCS#1 v1.5 decryption', () => {
  it('accepts a field node-forge encrypted the way PayTrace does', () => {
    for (const value of ['4111111111111111', '999', 'B4111111111111111^TEST/CARD^2912101']) {
      const b64 = forge.util.encode64(forgePublic.encrypt(value, 'RSAES-PKCS1-V1_5'));
      const ciphertext = Buffer.from(b64, 'base64');
      expect(ciphertext.length).toBe(K);
      const raw = rsaRawDecrypt(fx.privateKey, ciphertext);
      expect(raw.length).toBe(K);
      expect([raw[0], raw[1]]).toEqual([0x00, 0x02]);
      expect(checkPkcs1v15Padding(raw).ok).toBe(true);
      expect(decryptPkcs1v15(fx.privateKey, ciphertext).toString('utf8')).toBe(value);
    }
  });

  it('agrees with openssl pkeyutl (OpenSSL 3.0: explicit rejection) on good and bad paddings', () => {
    const m = Buffer.from('4012888888881881');
    const cases: [string, Buffer, boolean][] = [
      ['well formed', em(m), true],
      ['PS of exactly 8 bytes', em(randomBytes(K - 11).map((b) => b | 1)), true],
      ['empty message', em(Buffer.alloc(0)), true],
      ['first byte 0x01', em(m, { first: 1 }), false],
      ['block type 1 (signature)', em(m, { second: 1 }), false],
      ['block type 0', em(m, { second: 0 }), false],
      [
        'PS of 7 bytes',
        em(Buffer.concat([Buffer.from([0]), nonzero(K - 11)]), { psLength: 7 }).fill(0, 9, 10),
        false,
      ],
      ['no zero separator', Buffer.concat([Buffer.from([0, 2]), nonzero(K - 2)]), false],
    ];
    for (const [label, block, good] of cases) {
      const ciphertext = rawEncrypt(block);
      expect({ label, openssl: opensslPkcs1Decrypts(ciphertext) }).toEqual({ label, openssl: good });
      expect({ label, ours: checkPkcs1v15Padding(block).ok }).toEqual({ label, ours: good });
      if (good) {
        expect(decryptPkcs1v15(fx.privateKey, ciphertext).equals(Buffer.from(unpadPkcs1v15(block)!))).toBe(
          true,
        );
        const file = writeTemp(fx.dir, `ok-${label.length}`, ciphertext);
        const viaOpenssl = openssl([
          'pkeyutl',
          '-decrypt',
          '-inkey',
          fx.privatePemPath,
          '-pkeyopt',
          'rsa_padding_mode:pkcs1',
          '-in',
          file,
        ]);
        expect(viaOpenssl.equals(decryptPkcs1v15(fx.privateKey, ciphertext))).toBe(true);
      } else {
        expect(refused(ciphertext).code).toBe('ENCRYPTED_DATA_INVALID');
      }
    }
  });

  it('finds the first zero after PS, not a later one', () => {
    const block = em(Buffer.from([0x41, 0x00, 0x42]));
    expect(Buffer.from(unpadPkcs1v15(block)!).toString('hex')).toBe('410042');
  });

  it('refuses a zero inside the first eight PS bytes at every position', () => {
    for (let zeroAt = 2; zeroAt < 10; zeroAt++) {
      const block = em(Buffer.from('123'));
      block[zeroAt] = 0;
      expect(checkPkcs1v15Padding(block).ok).toBe(false);
    }
    const block = em(Buffer.from('123'));
    block[10] = 0;
    expect(checkPkcs1v15Padding(block).ok).toBe(true);
  });

  it('refuses blocks too short to hold a padding', () => {
    expect(checkPkcs1v15Padding(new Uint8Array(0)).ok).toBe(false);
    expect(checkPkcs1v15Padding(Uint8Array.from([0, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0])).ok).toBe(true);
    expect(checkPkcs1v15Padding(Uint8Array.from([0, 2, 1, 1, 1, 1, 1, 1, 1, 0])).ok).toBe(false);
  });

  it('gives one generic error for wrong length, out-of-range and bad-padding ciphertexts', () => {
    const errors = [
      refused(randomBytes(K - 1)),
      refused(randomBytes(K + 1)),
      refused(Buffer.alloc(K, 0xff)),
      refused(rawEncrypt(em(Buffer.from('x'), { second: 1 }))),
    ];
    for (const e of errors) {
      expect(e).toBeInstanceOf(MkmError);
      expect(e.toShape()).toEqual({
        code: 'ENCRYPTED_DATA_INVALID',
        message: 'The encrypted data could not be decrypted.',
      });
    }
  });

  it('returns a message that survives wiping the raw block', () => {
    const ciphertext = Buffer.from(forgePublic.encrypt('5555555555554444', 'RSAES-PKCS1-V1_5'), 'binary');
    const first = decryptPkcs1v15(fx.privateKey, ciphertext);
    expect(first.toString()).toBe('5555555555554444');
  });
});

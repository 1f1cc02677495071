import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  aes256CbcDecrypt,
  aes256CbcEncrypt,
  hmacSha256,
  macInput,
  nextKeySetSchema,
  openJson,
  openMessage,
  parseNextKeySet,
  parseSecureRequest,
  parseSecureResponse,
  sealJson,
  sealMessage,
} from '../../../electron/crypto/envelope.nodejs';
import { MkmError } from '../../../shared/errors.std';
import { openssl, writeTemp } from './fixtures';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
const dir = mkdtempSync(join(tmpdir(), 'mkm-envelope-'));

// NIST SP 800-38A, F.2.5 (CBC-AES256.Encrypt) and F.2.6 (CBC-AES256.Decrypt).
const NIST_KEY = hex('603deb1015ca71be2b73aef0857d7781 1f352c073b6108d72d9810a30914dff4');
const NIST_IV = hex('000102030405060708090a0b0c0d0e0f');
const NIST_PT = hex(`6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
  30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710`);
const NIST_CT = hex(`f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d
  39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b`);

function opensslDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Buffer {
  const file = writeTemp(dir, `ct-${randomBytes(4).toString('hex')}`, ciphertext);
  return openssl([
    'enc',
    '-d',
    '-aes-256-cbc',
    '-K',
    Buffer.from(key).toString('hex'),
    '-iv',
    Buffer.from(iv).toString('hex'),
    '-in',
    file,
  ]);
}

function opensslHmac(key: Uint8Array, data: Uint8Array): string {
  const file = writeTemp(dir, `mac-${randomBytes(4).toString('hex')}`, data);
  const out = openssl([
    'dgst',
    '-sha256',
    '-mac',
    'HMAC',
    '-macopt',
    `hexkey:${Buffer.from(key).toString('hex')}`,
    file,
  ]);
  return out.toString().trim().split(/\s+/).pop()!.toLowerCase();
}

function expectMacInvalid(fn: () => unknown): void {
  try {
    fn();
    expect.unreachable('should have refused');
  } catch (e) {
    expect(e).toBeInstanceOf(MkmError);
    expect((e as MkmError).code).toBe('MAC_INVALID');
    expect((e as MkmError).message).toBe('The message authentication failed.');
    expect((e as MkmError).details).toBeUndefined();
  }
}

describe('AES-256-CBC (the envelope cipher)', () => {
  it('NIST SP 800-38A F.2.5: encrypts the published vector', () => {
    expect(aes256CbcEncrypt(NIST_KEY, NIST_IV, NIST_PT, { pkcs7: false }).toString('hex')).toBe(
      NIST_CT.toString('hex'),
    );
  });

  it('NIST SP 800-38A F.2.6: decrypts the published vector', () => {
    expect(aes256CbcDecrypt(NIST_KEY, NIST_IV, NIST_CT, { pkcs7: false }).toString('hex')).toBe(
      NIST_PT.toString('hex'),
    );
  });

  it('a sealed NIST plaintext starts with the NIST ciphertext, adds one PKCS#7 block, and openssl opens it', () => {
    const sealed = sealMessage({
      dir: 'req',
      setId: 's1',
      encKey: NIST_KEY,
      macKey: randomBytes(32),
      iv: NIST_IV,
      plaintext: NIST_PT,
    });
    const ct = Buffer.from(sealed.ciphertext, 'base64');
    expect(ct.length).toBe(80);
    expect(ct.subarray(0, 64).toString('hex')).toBe(NIST_CT.toString('hex'));
    expect(opensslDecrypt(NIST_KEY, NIST_IV, ct).toString('hex')).toBe(NIST_PT.toString('hex'));
  });

  it('refuses keys and IVs of the wrong size', () => {
    expect(() => aes256CbcEncrypt(randomBytes(16), NIST_IV, NIST_PT)).toThrow(RangeError);
    expect(() => aes256CbcEncrypt(NIST_KEY, randomBytes(12), NIST_PT)).toThrow(RangeError);
  });
});

describe('HMAC-SHA256 (the envelope MAC)', () => {
  // RFC 4231 test cases 1, 2, 6 and 7.
  it.each([
    [
      hex('0b'.repeat(20)),
      Buffer.from('Hi There'),
      'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    ],
    [
      Buffer.from('Jefe'),
      Buffer.from('what do ya want for nothing?'),
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    ],
    [
      hex('aa'.repeat(131)),
      Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'),
      '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    ],
    [
      hex('aa'.repeat(131)),
      Buffer.from(
        'This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.',
      ),
      '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    ],
  ])('RFC 4231 case %#', (key, data, mac) => {
    expect(hmacSha256(key, data).toString('hex')).toBe(mac);
  });

  it('macInput is ASCII(dir) || 0x2e || UTF-8(set_id) || 0x2e || iv || ciphertext (contract 1.1)', () => {
    const iv = Buffer.alloc(16, 0xaa);
    const ct = Buffer.alloc(32, 0xbb);
    const tail =
      Buffer.from('ks_é1', 'utf8').toString('hex') + '2e' + iv.toString('hex') + ct.toString('hex');
    expect(macInput('req', 'ks_é1', iv, ct).toString('hex')).toBe('7265712e' + tail);
    expect(macInput('rsp', 'ks_é1', iv, ct).toString('hex')).toBe('7273702e' + tail);
  });
});

describe('sealed messages', () => {
  const encKey = randomBytes(32);
  const macKey = randomBytes(32);
  const iv = randomBytes(16);
  const setId = 'ks_01HZX3Q2V9';
  const body = { fields: { card_number: '4111111111111111' }, salt: randomBytes(16).toString('base64') };

  it('seals a JSON body that openssl decrypts and whose MAC openssl computes', () => {
    const sealed = sealJson({ dir: 'req', setId, encKey, macKey, iv, body });
    expect(Object.keys(sealed)).toEqual(['set_id', 'ciphertext', 'mac']);
    const ct = Buffer.from(sealed.ciphertext, 'base64');
    expect(JSON.parse(opensslDecrypt(encKey, iv, ct).toString('utf8'))).toEqual(body);
    const expectedMac = opensslHmac(
      macKey,
      Buffer.concat([Buffer.from('req.'), Buffer.from(setId), Buffer.from('.'), iv, ct]),
    );
    expect(Buffer.from(sealed.mac, 'base64').toString('hex')).toBe(expectedMac);
  });

  it('opens what it seals, from base64 or from parsed bytes', () => {
    const sealed = sealJson({ dir: 'req', setId, encKey, macKey, iv, body });
    expect(openJson({ dir: 'req', message: sealed, encKey, macKey, iv })).toEqual(body);
    const parsed = parseSecureRequest(sealed);
    expect(openJson({ dir: 'req', message: parsed, encKey, macKey, iv })).toEqual(body);
  });

  it('answers every kind of tampering with the same generic MAC_INVALID', () => {
    const sealed = sealMessage({ dir: 'req', setId, encKey, macKey, iv, plaintext: 'x'.repeat(40) });
    const ct = Buffer.from(sealed.ciphertext, 'base64');
    const flip = (b: Buffer, i: number) => {
      const c = Buffer.from(b);
      c[i]! ^= 0x01;
      return c.toString('base64');
    };
    const mac = Buffer.from(sealed.mac, 'base64');
    const cases = [
      { ...sealed, ciphertext: flip(ct, 0) },
      { ...sealed, ciphertext: flip(ct, ct.length - 1) },
      { ...sealed, mac: flip(mac, 31) },
      { ...sealed, mac: mac.subarray(0, 16).toString('base64') },
      { ...sealed, mac: '' },
      { ...sealed, set_id: 'ks_other' },
      { ...sealed, ciphertext: sealed.ciphertext.replace(/=*$/, '') + '!' },
      { ...sealed, ciphertext: ct.subarray(0, 16).toString('base64') },
    ];
    for (const message of cases)
      expectMacInvalid(() => openMessage({ dir: 'req', message, encKey, macKey, iv }));
    expectMacInvalid(() => openMessage({ dir: 'req', message: sealed, encKey, macKey, iv: randomBytes(16) }));
    expectMacInvalid(() => openMessage({ dir: 'req', message: sealed, encKey, macKey: randomBytes(32), iv }));
    // A request reflected back as an answer fails: the MAC names its direction.
    expectMacInvalid(() => openMessage({ dir: 'rsp', message: sealed, encKey, macKey, iv }));
  });

  it('a correctly MACed ciphertext with bad padding or the wrong key is still just MAC_INVALID (no padding oracle)', () => {
    const badPadding = aes256CbcEncrypt(encKey, iv, Buffer.alloc(16, 0x00), { pkcs7: false });
    const message = {
      set_id: setId,
      ciphertext: badPadding.toString('base64'),
      mac: hmacSha256(macKey, macInput('req', setId, iv, badPadding)).toString('base64'),
    };
    expectMacInvalid(() => openMessage({ dir: 'req', message, encKey, macKey, iv }));
    const sealed = sealMessage({ dir: 'req', setId, encKey, macKey, iv, plaintext: 'hello' });
    expectMacInvalid(() => openMessage({ dir: 'req', message: sealed, encKey: randomBytes(32), macKey, iv }));
  });

  it('JSON that does not parse after a good MAC is MAC_INVALID too', () => {
    const sealed = sealMessage({ dir: 'req', setId, encKey, macKey, iv, plaintext: '{not json' });
    expectMacInvalid(() => openJson({ dir: 'req', message: sealed, encKey, macKey, iv }));
  });
});

describe('envelope schemas', () => {
  const b64 = (n: number) => randomBytes(n).toString('base64');
  const good = () => ({
    set_id: 'ks_1',
    wrapping_key_id: 'merchant-2026-11',
    enc_key: b64(256),
    mac_key: b64(256),
    iv: b64(16),
    enc_kcv: 'a1b2c3',
    mac_kcv: '0f0e0d',
    expires_at: '2026-11-23T19:15:00Z',
    merchant: 'merchant-a',
    issued_at: '2026-11-23T19:00:00Z',
    signing_key_id: 'sk_1',
    sig: b64(384),
  });

  it('parses a next_key_set into bytes', () => {
    const set = good();
    const parsed = parseNextKeySet(set, 256);
    expect(parsed.iv).toHaveLength(16);
    expect(Buffer.from(parsed.enc_key).toString('base64')).toBe(set.enc_key);
    expect(parsed.expires_at).toBe(set.expires_at);
    expect(
      parseNextKeySet({ ...set, expires_at: '2026-11-23T20:15:00.000+01:00', extra: 1 }),
    ).not.toHaveProperty('extra');
  });

  it.each([
    [{ iv: b64(12) }, 'iv: wrong length: 12 bytes, expected 16'],
    [{ enc_key: b64(255) }, 'enc_key: wrong length: 255 bytes, expected 256'],
    [{ mac_key: b64(384) }, 'mac_key: wrong length: 384 bytes, expected 256'],
    [{ enc_key: randomBytes(256).toString('base64url') + '-' }, "enc_key: '-' or '_' at position"],
    [{ iv: b64(16).slice(0, -1) }, 'iv: bad padding'],
    [{ enc_kcv: 'A1B2C3' }, 'enc_kcv: uppercase hex digit at position 1'],
    [{ mac_kcv: 'a1b2c3d4' }, 'mac_kcv: wrong length: 4 bytes, expected 3'],
    [{ expires_at: '23/11/2026 19:15' }, 'expires_at:'],
    [{ set_id: 'ks 1' }, 'set_id: must be'],
    [{ wrapping_key_id: undefined }, 'wrapping_key_id:'],
    // Contract 1.1: a set without its signature or merchant is not a set.
    [{ sig: undefined }, 'sig:'],
    [{ merchant: undefined }, 'merchant:'],
    [{ signing_key_id: undefined }, 'signing_key_id:'],
  ])('refuses %j precisely', (patch, message) => {
    try {
      parseNextKeySet({ ...good(), ...patch }, 256);
      expect.unreachable();
    } catch (e) {
      expect((e as MkmError).code).toBe('GATEWAY_BAD_RESPONSE');
      expect((e as MkmError).message).toContain(message);
    }
  });

  it('lists every problem, not just the first', () => {
    const result = nextKeySetSchema(256).safeParse({ ...good(), iv: b64(8), enc_kcv: 'zz' });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.')).sort()).toEqual(['enc_kcv', 'iv']);
  });

  it('without a known modulus, accepts 2048-4096-bit wrapped keys', () => {
    expect(parseNextKeySet({ ...good(), enc_key: b64(512), mac_key: b64(512) }).enc_key).toHaveLength(512);
    expect(() => parseNextKeySet({ ...good(), enc_key: b64(512), mac_key: b64(384) })).toThrow(
      /mac_key: wrong length: 384 bytes, enc_key has 512/,
    );
    expect(() => parseNextKeySet({ ...good(), enc_key: b64(128) })).toThrow(
      /enc_key: wrong length: 128 bytes/,
    );
  });

  it('checks requests strictly and responses with their next_key_set', () => {
    const request = { set_id: 'ks_1', ciphertext: b64(32), mac: b64(32) };
    expect(parseSecureRequest(request).ciphertext).toHaveLength(32);
    expect(() => parseSecureRequest({ ...request, plaintext: 'x' })).toThrow(MkmError);
    expect(() => parseSecureRequest({ ...request, ciphertext: b64(20) })).toThrow(/not a multiple of 16/);
    expect(() => parseSecureRequest({ ...request, mac: b64(20) })).toThrow(
      /mac: wrong length: 20 bytes, expected 32/,
    );
    const response = { ...request, iv: b64(16), next_key_set: good() };
    expect(parseSecureResponse(response, 256).next_key_set.iv).toHaveLength(16);
    expect(() => parseSecureResponse({ ...response, next_key_set: { ...good(), iv: b64(15) } })).toThrow(
      /next_key_set\.iv: wrong length/,
    );
  });
});

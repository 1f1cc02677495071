import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { aesCmacKcv, hmacKcv, kcv, tdesCmac } from '../../electron/crypto/kcv.nodejs';
import { formatLabelledKcv } from '../../shared/formats/kcv-methods.std';
import { formatKcv } from '../../shared/wording.std';
import { expectNoSecretIn, thrown } from './formats/components-fixtures';

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/\s/g, ''), 'hex'));

/** openssl's encryption of one zero block in ECB, no padding: the legacy KCV's source. */
function opensslEcbZero(cipher: string, keyHex: string, block: number): string {
  return execFileSync('openssl', ['enc', `-${cipher}`, '-K', keyHex, '-nopad'], {
    input: Buffer.alloc(block),
  })
    .toString('hex')
    .toLowerCase();
}

function opensslCmac(cipher: string, keyHex: string, block: number): string {
  return execFileSync('openssl', ['mac', '-cipher', cipher, '-macopt', `hexkey:${keyHex}`, 'CMAC'], {
    input: Buffer.alloc(block),
  })
    .toString()
    .trim()
    .toLowerCase();
}

describe('KCVs by method: published known answers', () => {
  it.each([
    ['tdes-2key', '0123456789ABCDEFFEDCBA9876543210', '08D7B4'],
    ['tdes-2key', 'F039121BEC83D26B169BDCD5B22AAF8F', 'CB9DEA'],
  ] as const)('%s %s has the legacy KCV %s', (type, key, expected) => {
    const result = kcv(type, bytes(key), 'legacy');
    expect(result).toEqual({ kcv: expected.toLowerCase(), method: 'legacy' });
    expect(formatKcv(result.kcv)).toBe(expected);
    expect(formatLabelledKcv(result)).toBe(`${expected} (legacy)`);
  });

  it('AES 3F419E1CB7079442AA37474C2EFBF8B8 has the 5-byte cmac KCV 08793E25AB', () => {
    const result = kcv('aes-128', bytes('3F419E1CB7079442AA37474C2EFBF8B8'), 'cmac', 5);
    expect(formatKcv(result.kcv)).toBe('08793E25AB');
    expect(result.method).toBe('cmac');
    // 3 bytes by default, the prefix of the same value, as the token and gateway show it.
    expect(kcv('aes-128', bytes('3F419E1CB7079442AA37474C2EFBF8B8'), 'cmac').kcv).toBe('08793e');
    expect(kcv('aes-128', bytes('3F419E1CB7079442AA37474C2EFBF8B8'), 'cmac', 4).kcv).toBe('08793e25');
  });

  it('TDES-CMAC matches NIST SP 800-38B (three-key TDEA, empty message)', () => {
    const key = bytes('8aa83bf8cbda1062 0bc1bf19fbb6cd58 bc313d4a371ca8b5');
    expect(tdesCmac(key, Buffer.alloc(0)).toString('hex')).toBe('b7a688e122ffaf95');
    expect(tdesCmac(key, Buffer.from('6bc1bee22e409f96', 'hex')).toString('hex')).toBe('8e8f293136283797');
  });
});

describe('KCVs by method: the same values as openssl', () => {
  const tdes3 = '0123456789abcdeffedcba987654321089abcdef01234567';
  const tdes2 = 'f039121bec83d26b169bdcd5b22aaf8f';
  const aes = {
    'aes-128': '000102030405060708090a0b0c0d0e0f',
    'aes-192': '000102030405060708090a0b0c0d0e0f1011121314151617',
    'aes-256': '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4',
  } as const;

  it('legacy TDES (3-key as is, 2-key as K1 K2 K1) is des-ede3 ECB of a zero block', () => {
    expect(kcv('tdes-3key', bytes(tdes3), 'legacy').kcv).toBe(
      opensslEcbZero('des-ede3', tdes3, 8).slice(0, 6),
    );
    expect(kcv('tdes-2key', bytes(tdes2), 'legacy').kcv).toBe(
      opensslEcbZero('des-ede3', tdes2 + tdes2.slice(0, 16), 8).slice(0, 6),
    );
  });

  it.each(Object.entries(aes))('legacy %s is AES ECB of a zero block', (type, key) => {
    const bits = type.slice(4);
    expect(kcv(type as keyof typeof aes, bytes(key), 'legacy').kcv).toBe(
      opensslEcbZero(`aes-${bits}-ecb`, key, 16).slice(0, 6),
    );
  });

  it.each(Object.entries(aes))('cmac %s is AES-CMAC of a zero block, 3 to 5 bytes', (type, key) => {
    const mac = opensslCmac(`AES-${type.slice(4)}-CBC`, key, 16);
    for (const length of [3, 4, 5]) {
      expect(kcv(type as keyof typeof aes, bytes(key), 'cmac', length).kcv).toBe(mac.slice(0, 2 * length));
    }
  });

  it('cmac TDES is TDES-CMAC of an 8-byte zero block', () => {
    expect(kcv('tdes-3key', bytes(tdes3), 'cmac', 5).kcv).toBe(
      opensslCmac('DES-EDE3-CBC', tdes3, 8).slice(0, 10),
    );
    expect(kcv('tdes-2key', bytes(tdes2), 'cmac').kcv).toBe(
      opensslCmac('DES-EDE3-CBC', tdes2 + tdes2.slice(0, 16), 8).slice(0, 6),
    );
  });

  it('the existing cmac and hmac KCVs are what kcv() gives for those methods', () => {
    const key = bytes(aes['aes-256']);
    expect(kcv('aes-256', key, 'cmac')).toEqual({ kcv: aesCmacKcv(Buffer.from(key)), method: 'cmac' });
    const hmacKey = Buffer.alloc(32, 0x11);
    expect(kcv('hmac', hmacKey, 'hmac')).toEqual({ kcv: hmacKcv(hmacKey), method: 'hmac' });
  });

  it('leaves the caller’s key as it was (a 2-key TDES key is expanded in a copy)', () => {
    const key = bytes(tdes2);
    kcv('tdes-2key', key, 'legacy');
    kcv('tdes-2key', key, 'cmac');
    expect(Buffer.from(key).toString('hex')).toBe(tdes2);
  });
});

describe('KCVs by method: refusals', () => {
  it.each([
    ['aes-256', 'hmac'],
    ['tdes-2key', 'hmac'],
    ['hmac', 'legacy'],
    ['hmac', 'cmac'],
    ['aes-128', 'token'],
    ['tdes-3key', 'token'],
  ] as const)('refuses %s with the %s method', (type, method) => {
    const key = new Uint8Array(
      type === 'aes-128' || type === 'hmac' ? 16 : type === 'tdes-2key' ? 16 : 32,
    ).fill(7);
    const error = thrown(() => kcv(type, type === 'tdes-3key' ? key.subarray(0, 24) : key, method));
    expect(error.code).toBe('KCV_METHOD_NOT_APPLICABLE');
    expect(error.details).toMatchObject({ method, keyType: type });
  });

  it.each([
    ['legacy', 5],
    ['cmac', 2],
    ['cmac', 6],
    ['hmac', 4],
  ] as const)('refuses a %s KCV of %i bytes', (method, length) => {
    const type = method === 'hmac' ? 'hmac' : 'aes-128';
    expect(thrown(() => kcv(type, new Uint8Array(16).fill(1), method, length)).code).toBe(
      'KCV_LENGTH_INVALID',
    );
  });

  it('refuses a key whose length is not its type’s, and an empty HMAC key', () => {
    const key = bytes('0123456789abcdeffedcba9876543210');
    const error = thrown(() => kcv('tdes-3key', key, 'legacy'));
    expect(error.code).toBe('KEY_LENGTH_INVALID');
    expectNoSecretIn(error, '0123456789abcdeffedcba9876543210');
    expect(error.details).toEqual({ keyType: 'tdes-3key', actualBytes: 16 });
    expect(thrown(() => kcv('aes-256', new Uint8Array(24).fill(1), 'cmac')).code).toBe('KEY_LENGTH_INVALID');
    expect(thrown(() => kcv('hmac', new Uint8Array(0), 'hmac')).code).toBe('KEY_LENGTH_INVALID');
  });
});

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aesCmac, aesCmacKcv, hmacKcv } from '../../electron/crypto/kcv.nodejs';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

// RFC 4493 section 4 (AES-128) and NIST SP 800-38B D.3 (AES-256) examples.
const K128 = hex('2b7e1516 28aed2a6 abf71588 09cf4f3c');
const K256 = hex('603deb10 15ca71be 2b73aef0 857d7781 1f352c07 3b6108d7 2d9810a3 0914dff4');
const M = hex(
  '6bc1bee2 2e409f96 e93d7e11 7393172a ae2d8a57 1e03ac9c 9eb76fac 45af8e51 30c81c46 a35ce411 e5fbc119 1a0a52ef f69f2445 df4f9b17 ad2b417b e66c3710',
);

describe('AES-CMAC', () => {
  it.each([
    [K128, 0, 'bb1d6929 e9593728 7fa37d12 9b756746'],
    [K128, 16, '070a16b4 6b4d4144 f79bdd9d d04a287c'],
    [K128, 40, 'dfa66747 de9ae630 30ca3261 1497c827'],
    [K128, 64, '51f0bebf 7e3b9d92 fc497417 79363cfe'],
    [K256, 0, '028962f6 1b7bf89e fc6b551f 4667d983'],
    [K256, 16, '28a7023f 452e8f82 bd4bf28d 8c37c35c'],
    [K256, 40, 'aaf3d8f1 de5640c2 32f5b169 b9c911e6'],
    [K256, 64, 'e1992190 549f6ed5 696a2c05 6c315410'],
  ])('matches the published vector (key %#, %i bytes)', (key, len, expected) => {
    expect(aesCmac(key, M.subarray(0, len)).toString('hex')).toBe(hex(expected).toString('hex'));
  });

  it('gives the same MAC as openssl for a 256-bit key', () => {
    const key = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const file = join(mkdtempSync(join(tmpdir(), 'mkm-cmac-')), 'zero16');
    writeFileSync(file, Buffer.alloc(16));
    const out = execFileSync('openssl', [
      'mac',
      '-cipher',
      'AES-256-CBC',
      '-macopt',
      `hexkey:${key.toString('hex')}`,
      '-in',
      file,
      'CMAC',
    ])
      .toString()
      .trim()
      .toLowerCase();
    expect(aesCmac(key, Buffer.alloc(16)).toString('hex')).toBe(out);
    expect(aesCmacKcv(key)).toBe(out.slice(0, 6));
  });
});

describe('KCVs', () => {
  it('labels an AES key by its CMAC and an HMAC key by HMAC-SHA256 over 16 zero bytes', () => {
    const key = Buffer.alloc(32, 0x11);
    expect(aesCmacKcv(key)).toMatch(/^[0-9a-f]{6}$/);
    const hmac = execFileSync(
      'openssl',
      ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${key.toString('hex')}`],
      {
        input: Buffer.alloc(16),
      },
    )
      .toString()
      .trim()
      .split('= ')[1]!;
    expect(hmacKcv(key)).toBe(hmac.slice(0, 6));
  });
});

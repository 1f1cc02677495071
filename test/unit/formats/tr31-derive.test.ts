import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { softKeyBlockCrypto, type SoftKey } from '../../../electron/ceremony/tr31-soft-crypto.nodejs';
import { tdesCmac } from '../../../electron/crypto/kcv.nodejs';
import type { CipherFamily } from '../../../shared/formats/tr31/crypto.std';
import { derivationFor } from '../../../shared/formats/tr31/derive.std';
import { codeOf, hex, kbpkOf, toHex } from './tr31-helpers';

const soft = softKeyBlockCrypto();

/** CMAC by the openssl command line (an implementation independent of ours). */
function opensslCmac(family: CipherFamily, key: Uint8Array, data: Uint8Array): string {
  const cipher =
    family === 'aes' ? `AES-${key.length * 8}-CBC` : key.length === 16 ? 'DES-EDE-CBC' : 'DES-EDE3-CBC';
  const out = execFileSync('openssl', ['mac', '-cipher', cipher, '-macopt', `hexkey:${toHex(key)}`, 'CMAC'], {
    input: Buffer.from(data),
  });
  return out.toString('utf8').trim().toUpperCase();
}

async function derived(family: CipherFamily, kbpkHex: string, version: 'B' | 'D') {
  const kbpk = kbpkOf(family, kbpkHex);
  const kbek = (await soft.deriveKey(kbpk.key, derivationFor(version, kbpk, 'encryption'))) as SoftKey;
  const kbak = (await soft.deriveKey(kbpk.key, derivationFor(version, kbpk, 'mac'))) as SoftKey;
  return { kbek: toHex(kbek.bytes), kbak: toHex(kbak.bytes) };
}

describe('KBEK and KBAK derivation', () => {
  // Intermediate values of the annexes, as openemv/tr31 test/tr31_crypto_test.c quotes them.
  it.each([
    [
      'TR-31:2018 A.7.2.2 (TDES-CMAC, 2-key)',
      'tdes',
      'B',
      'DD7515F2BFC17F85CE48F3CA25CB21F6',
      '698832F8778A7CFCBC79559DAB07B88A',
      'DD6CEEC1782D8453671BF8358AF9DB47',
    ],
    [
      'TR-31:2018 A.7.3.2 (TDES-CMAC, 2-key)',
      'tdes',
      'B',
      '1D22BF32387C600AD97F9B97A51311AC',
      'BCE8E2AD5D4489FD0EA5236A884DAC58',
      '1F9B2BDAF969C7B8B6C933AC7B9C6894',
    ],
    [
      'TR-31:2018 A.7.4 (AES-CMAC, AES-256)',
      'aes',
      'D',
      '88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6',
      '396C9382A6E2E66A088774E1D6E46541F5EAD67D7204F8DD0D7AE8FDA334D3AC',
      '4EF24317696213840451890756757E573E0673483888F9B7F9B7517827F95022',
    ],
  ] as const)('%s gives the published keys', async (_source, family, version, kbpk, kbek, kbak) => {
    expect(await derived(family, kbpk, version)).toEqual({ kbek, kbak });
  });

  it('builds the 8-byte PRF inputs of the standards: counter, usage, separator, algorithm, bits', () => {
    const aes256 = derivationFor('D', kbpkOf('aes', '00'.repeat(32)), 'mac');
    expect(aes256.inputs.map(toHex)).toEqual(['0100010000040100', '0200010000040100']);
    const aes192 = derivationFor('D', kbpkOf('aes', '00'.repeat(24)), 'encryption');
    expect(aes192).toMatchObject({ length: 24, family: 'aes' });
    expect(aes192.inputs.map(toHex)).toEqual(['01000000000300C0', '02000000000300C0']);
    expect(derivationFor('D', kbpkOf('aes', '00'.repeat(16)), 'encryption').inputs.map(toHex)).toEqual([
      '0100000000020080',
    ]);
    const tdes3 = derivationFor('B', kbpkOf('tdes', '00'.repeat(24)), 'encryption');
    expect(tdes3.inputs.map(toHex)).toEqual(['01000000000100C0', '02000000000100C0', '03000000000100C0']);
  });

  it.each([
    ['aes', 'D', '2B7E151628AED2A6ABF7158809CF4F3C'],
    ['aes', 'D', '8E73B0F7DA0E6452C810F32B809079E562F8EAD2522C6B7B'],
    ['aes', 'D', '603DEB1015CA71BE2B73AEF0857D77811F352C073B6108D72D9810A30914DFF4'],
    ['tdes', 'B', '89E88CF7931444F334BD7547FC3F380C'],
    ['tdes', 'B', '8AA83BF8CBDA10620BC1BF19FBB6CD58BC313D4A371CA8B5'],
  ] as const)(
    'matches openssl mac CMAC over the same inputs (%s, %s, KBPK %s)',
    async (family, version, kbpkHex) => {
      const kbpk = kbpkOf(family, kbpkHex);
      const ours = await derived(family, kbpkHex, version);
      for (const role of ['encryption', 'mac'] as const) {
        const d = derivationFor(version, kbpk, role);
        const theirs = d.inputs.map((input) => opensslCmac(family, hex(kbpkHex), input)).join('');
        expect(role === 'encryption' ? ours.kbek : ours.kbak).toBe(theirs.slice(0, 2 * kbpk.length));
      }
    },
  );

  it('refuses a KBPK the version does not take', async () => {
    expect(await codeOf(() => derivationFor('D', kbpkOf('tdes', '00'.repeat(16)), 'mac'))).toBe(
      'TR31_KBPK_INVALID',
    );
    expect(await codeOf(() => derivationFor('B', kbpkOf('aes', '00'.repeat(16)), 'mac'))).toBe(
      'TR31_KBPK_INVALID',
    );
  });
});

describe('TDES-CMAC', () => {
  it.each([0, 7, 8, 16, 20, 64])('agrees with openssl for a %i-byte message, 2-key and 3-key', (n) => {
    const message = new Uint8Array(n).map((_, i) => (i * 37 + 11) & 0xff);
    for (const key of [
      '0123456789ABCDEFFEDCBA9876543210',
      '8AA83BF8CBDA10620BC1BF19FBB6CD58BC313D4A371CA8B5',
    ]) {
      expect(toHex(tdesCmac(Buffer.from(key, 'hex'), Buffer.from(message)))).toBe(
        opensslCmac('tdes', hex(key), message),
      );
    }
  });
});

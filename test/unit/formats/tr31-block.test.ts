import { describe, expect, it } from 'vitest';
import { softKeyBlockCrypto } from '../../../electron/ceremony/tr31-soft-crypto.nodejs';
import { unwrapKeyBlock, wrapKeyBlock, type WrapRequest } from '../../../shared/formats/tr31/block.std';
import { derivationFor } from '../../../shared/formats/tr31/derive.std';
import {
  KEY_USAGES,
  type Algorithm,
  type KeyUsage,
  type ModeOfUse,
} from '../../../shared/formats/tr31/fields.std';
import { buildHeader, parseHeader } from '../../../shared/formats/tr31/header.std';
import { attributesForHeader } from '../../../shared/formats/tr31/policy.std';
import { codeOf, fixedRandom, hex, kbpkFor, kbpkOf, recordingCrypto, toHex } from './tr31-helpers';
import {
  PUBLISHED_BLOCKS,
  TR31_2018_A_7_2_1,
  TR31_2018_A_7_2_2,
  TR31_2018_A_7_3_1,
  TR31_2018_A_7_3_2,
  TR31_2018_A_7_4,
  X9_143_2021_8_1,
  X9_143_2021_8_6,
} from './tr31-vectors';

const soft = softKeyBlockCrypto();
const AES256 = kbpkFor(TR31_2018_A_7_4);
const TDES2 = kbpkFor(TR31_2018_A_7_2_2);

describe('published key blocks unwrap to their published keys', () => {
  it.each(PUBLISHED_BLOCKS.map((v) => [v.source, v] as const))('%s', async (_source, v) => {
    const out = await unwrapKeyBlock(soft, kbpkFor(v), v.block);
    expect(toHex(out.key)).toBe(v.key);
    expect(out.header.length).toBe(v.block.length);
  });

  it('reads the header fields of TR-31:2018 A.7.3.2 (B0, TDES, X, key version 12, S, one KS block)', async () => {
    const out = await unwrapKeyBlock(soft, kbpkFor(TR31_2018_A_7_3_2), TR31_2018_A_7_3_2.block);
    expect(out.header).toMatchObject({
      version: 'B',
      usage: 'B0',
      algorithm: 'T',
      modeOfUse: 'X',
      keyVersion: '12',
      exportability: 'S',
      optionalBlocks: [{ id: 'KS', data: '00604B120F9292800000' }],
    });
  });

  it('checks the KP block of X9.143 8.6 (CMAC KCV of the KBPK, 2331550BC9) and refuses it under another KBPK', async () => {
    const out = await unwrapKeyBlock(soft, kbpkFor(X9_143_2021_8_6), X9_143_2021_8_6.block);
    expect(out.checkedKcvs).toEqual(['KP']);
    expect(out.header.optionalBlocks.map((b) => b.id)).toEqual(['CT', 'KP', 'TS', 'PB']);
    expect(out.header.optionalBlocks[0]!.data).toHaveLength(0x5cc - 10);
    const other = kbpkOf('aes', '00'.repeat(32));
    expect(await codeOf(unwrapKeyBlock(soft, other, X9_143_2021_8_6.block))).toBe('TR31_MAC_MISMATCH');
  });

  it('refuses versions A and C (TR-31:2018 A.7.2.1, A.7.3.1) as deprecated, after reading their headers', async () => {
    expect(parseHeader(TR31_2018_A_7_2_1).usage).toBe('P0');
    expect(await codeOf(unwrapKeyBlock(soft, TDES2, TR31_2018_A_7_2_1))).toBe('TR31_VERSION_DEPRECATED');
    expect(parseHeader(TR31_2018_A_7_3_1).optionalBlocks).toEqual([
      { id: 'KS', data: '00604B120F9292800000' },
    ]);
    expect(await codeOf(unwrapKeyBlock(soft, TDES2, TR31_2018_A_7_3_1))).toBe('TR31_VERSION_DEPRECATED');
  });

  it('refuses version E (ISO 20038 B.2) as unsupported', async () => {
    const iso = 'E0084B0TV16N0000B2AE5E26BBA7F246E84D5EA24167E208A6B66EF2E27E55A52DB52F0AEACB94C57547';
    expect(await codeOf(unwrapKeyBlock(soft, AES256, iso))).toBe('TR31_VERSION_UNSUPPORTED');
  });

  it('refuses a KBPK of the wrong cipher for the version, and a wrong KBPK of the right one', async () => {
    expect(await codeOf(unwrapKeyBlock(soft, TDES2, TR31_2018_A_7_4.block))).toBe('TR31_KBPK_INVALID');
    expect(await codeOf(unwrapKeyBlock(soft, AES256, TR31_2018_A_7_2_2.block))).toBe('TR31_KBPK_INVALID');
    const wrong = kbpkOf('tdes', '0123456789ABCDEFFEDCBA9876543210');
    expect(await codeOf(unwrapKeyBlock(soft, wrong, TR31_2018_A_7_2_2.block))).toBe('TR31_MAC_MISMATCH');
  });

  it('refuses a lowercase copy of a published block: hex case is part of the block', async () => {
    const v = TR31_2018_A_7_4;
    const lower = v.block.slice(0, 16) + v.block.slice(16).toLowerCase();
    expect(await codeOf(unwrapKeyBlock(soft, AES256, lower))).toBe('TR31_ENCODING_INVALID');
  });
});

describe('wrapping reproduces published blocks byte for byte with their published padding', () => {
  it.each(PUBLISHED_BLOCKS.map((v) => [v.source, v] as const))('%s', async (_source, v) => {
    // The padding is the random part: read it from the published block, then wrap again with it.
    const rec = recordingCrypto();
    const kbpk = kbpkFor(v);
    const out = await unwrapKeyBlock(rec.crypto, kbpk, v.block);
    const clear = rec.decrypted[0]!;
    const padding = clear.slice(2 + out.key.length);
    const h = out.header;
    if (h.version !== 'B' && h.version !== 'D') throw new Error('not a B or D block');
    const request: WrapRequest = {
      header: {
        version: h.version,
        usage: h.usage,
        algorithm: h.algorithm,
        modeOfUse: h.modeOfUse,
        keyVersion: h.keyVersion,
        exportability: h.exportability,
        optionalBlocks: h.optionalBlocks.filter((b) => b.id !== 'PB'),
      },
      key: out.key,
      maskedKeyLength: clear.length - 2,
    };
    const block = await wrapKeyBlock(softKeyBlockCrypto(fixedRandom(padding)), kbpk, request);
    expect(block).toBe(v.block);
  });
});

/** Key sizes to wrap for each algorithm (asymmetric keys are DER, so any size; one is enough). */
const KEY_SIZES: Record<Algorithm, number[]> = {
  A: [16, 24, 32],
  T: [16, 24],
  H: [32],
  R: [100],
  E: [121],
  S: [50],
  D: [8],
};
const ALGORITHMS = Object.keys(KEY_SIZES) as Algorithm[];
const MODES: ModeOfUse[] = ['B', 'C', 'D', 'E', 'G', 'N', 'S', 'T', 'V', 'X', 'Y'];

function acceptedCombinations(): { usage: KeyUsage; algorithm: Algorithm; mode: ModeOfUse }[] {
  const out: { usage: KeyUsage; algorithm: Algorithm; mode: ModeOfUse }[] = [];
  for (const usage of Object.keys(KEY_USAGES) as KeyUsage[]) {
    for (const algorithm of ALGORITHMS) {
      for (const mode of MODES) {
        const header = buildHeader(
          { version: 'D', usage, algorithm, modeOfUse: mode, exportability: 'E' },
          0,
        );
        try {
          attributesForHeader(header);
          out.push({ usage, algorithm, mode });
        } catch {
          // refused by the import policy: not a combination the app writes
        }
      }
    }
  }
  return out;
}

describe('round trips', () => {
  const combos = acceptedCombinations();

  it('covers every usage the policy accepts, with each of its algorithms and modes', () => {
    const usages = new Set(combos.map((c) => c.usage));
    for (const u of ['D0', 'K0', 'K1', 'P0', 'B0', 'M3', 'C0', 'M7', 'S0', 'E0'] as KeyUsage[])
      expect(usages).toContain(u);
    expect(combos.length).toBeGreaterThan(100);
  });

  it.each([
    ['D', 'aes', 16],
    ['D', 'aes', 24],
    ['D', 'aes', 32],
    ['B', 'tdes', 16],
    ['B', 'tdes', 24],
  ] as const)(
    'version %s under a %s-%i KBPK: every accepted usage/algorithm/mode and key size',
    async (version, family, size) => {
      const kbpk = kbpkOf(family, toHex(soft.random(size)));
      let count = 0;
      for (const { usage, algorithm, mode } of combos) {
        for (const keySize of KEY_SIZES[algorithm]) {
          const key = soft.random(keySize);
          const exportability = (['E', 'N', 'S'] as const)[count % 3]!;
          const block = await wrapKeyBlock(soft, kbpk, {
            header: { version, usage, algorithm, modeOfUse: mode, exportability },
            key,
          });
          const out = await unwrapKeyBlock(soft, kbpk, block);
          expect(toHex(out.key), `${usage}${algorithm}${mode}`).toBe(toHex(key));
          expect(out.header).toMatchObject({ version, usage, algorithm, modeOfUse: mode, exportability });
          expect(block.length % (version === 'D' ? 16 : 8)).toBe(0);
          count++;
        }
      }
      expect(count).toBeGreaterThan(100);
    },
  );

  it('hides the key size when asked: a 16-byte key masked to 32 gives the block length of a 32-byte key', async () => {
    const header = { version: 'D', usage: 'D0', algorithm: 'A', modeOfUse: 'B', exportability: 'E' } as const;
    const short = await wrapKeyBlock(soft, AES256, { header, key: soft.random(16), maskedKeyLength: 32 });
    const long = await wrapKeyBlock(soft, AES256, { header, key: soft.random(32) });
    expect(short.length).toBe(long.length);
    expect(toHex((await unwrapKeyBlock(soft, AES256, short)).key)).toHaveLength(32);
  });

  it('pads the header with a PB block to the cipher block size and keeps other optional blocks verbatim', async () => {
    const block = await wrapKeyBlock(soft, AES256, {
      header: {
        version: 'D',
        usage: 'B0',
        algorithm: 'A',
        modeOfUse: 'X',
        exportability: 'E',
        optionalBlocks: [{ id: 'KS', data: '00604B120F9292800000' }],
      },
      key: soft.random(16),
    });
    const out = await unwrapKeyBlock(soft, AES256, block);
    expect(out.header.optionalBlocks).toEqual([
      { id: 'KS', data: '00604B120F9292800000' },
      { id: 'PB', data: '0000' },
    ]);
    expect(out.header.text.length % 16).toBe(0);
  });
});

describe('KC and KP check value blocks', () => {
  // Issue 11's known answers: TDES F039...AF8F legacy CB9DEA; AES 3F41...F8B8 cmac 08793E25AB (X9.143 8.1).
  it('writes the KCVs of the key and of the KBPK by the method asked, and checks them on unwrap', async () => {
    const tdes = await wrapKeyBlock(soft, TDES2, {
      header: { version: 'B', usage: 'P0', algorithm: 'T', modeOfUse: 'E', exportability: 'E' },
      key: hex('F039121BEC83D26B169BDCD5B22AAF8F'),
      kcv: { KC: 'legacy', KP: 'cmac' },
    });
    const th = parseHeader(tdes);
    expect(th.optionalBlocks[0]).toEqual({ id: 'KC', data: '00CB9DEA' });
    expect(th.optionalBlocks[1]!.id).toBe('KP');
    expect((await unwrapKeyBlock(soft, TDES2, tdes)).checkedKcvs).toEqual(['KC', 'KP']);

    const aes = await wrapKeyBlock(soft, AES256, {
      header: { version: 'D', usage: 'P0', algorithm: 'A', modeOfUse: 'E', exportability: 'E' },
      key: hex('3F419E1CB7079442AA37474C2EFBF8B8'),
      kcv: { KC: 'cmac', KP: 'cmac' },
    });
    const ah = parseHeader(aes);
    expect(ah.optionalBlocks.slice(0, 2)).toEqual([
      { id: 'KC', data: '0108793E25AB' },
      { id: 'KP', data: '012331550BC9' }, // the KP of X9.143 8.6, same KBPK
    ]);
    expect((await unwrapKeyBlock(soft, AES256, aes)).checkedKcvs).toEqual(['KC', 'KP']);
  });

  it.each(['KC', 'KP'] as const)(
    'refuses a block whose MAC holds but whose %s does not match',
    async (id) => {
      const block = await wrapKeyBlock(soft, AES256, {
        header: {
          version: 'D',
          usage: 'K0',
          algorithm: 'A',
          modeOfUse: 'B',
          exportability: 'E',
          optionalBlocks: [{ id, data: '0108793E25AC' }],
        },
        key: hex('3F419E1CB7079442AA37474C2EFBF8B8'),
      });
      expect(await codeOf(unwrapKeyBlock(soft, AES256, block))).toBe('TR31_KCV_MISMATCH');
    },
  );

  it('refuses a KC block for a key whose check value it cannot compute (HMAC)', async () => {
    const request = {
      header: { version: 'D', usage: 'M7', algorithm: 'H', modeOfUse: 'C', exportability: 'E' },
      key: soft.random(32),
      kcv: { KC: 'cmac' },
    } as const;
    expect(await codeOf(wrapKeyBlock(soft, AES256, request))).toBe('TR31_KCV_UNSUPPORTED');
  });
});

/** A block with a valid MAC over chosen clear key data, to reach the checks that come after the MAC. */
async function forge(headerText: string, clear: Uint8Array): Promise<string> {
  const kbek = await soft.deriveKey(AES256.key, derivationFor('D', AES256, 'encryption'));
  const kbak = await soft.deriveKey(AES256.key, derivationFor('D', AES256, 'mac'));
  const mac = await soft.cmac(kbak, new Uint8Array([...Buffer.from(headerText, 'ascii'), ...clear]));
  return headerText + toHex(await soft.cbcEncrypt(kbek, mac, clear)) + toHex(mac);
}

describe('checks after the MAC', () => {
  const headerText = (bodyChars: number, algorithm: Algorithm = 'A') => {
    const usage = algorithm === 'H' ? 'M7' : 'D0';
    const modeOfUse = algorithm === 'H' ? 'C' : 'B';
    return buildHeader({ version: 'D', usage, algorithm, modeOfUse, exportability: 'E' }, bodyChars).text;
  };

  it.each([
    ['longer than the data (AES)', 'A', 0x0200],
    ['not whole bytes (AES)', 'A', 0x0084],
    ['zero (AES)', 'A', 0x0000],
    ['not an AES key size (20 bytes)', 'A', 0x00a0],
    // HMAC keys have no fixed sizes: only the field's own checks keep the padding out of the key.
    ['longer than the data (HMAC)', 'H', 0x0100],
    ['not whole bytes (HMAC)', 'H', 0x0084],
    ['zero (HMAC)', 'H', 0x0000],
  ] as const)('refuses a key length field %s', async (_what, algorithm, bits) => {
    const clear = new Uint8Array(32);
    clear[0] = bits >> 8;
    clear[1] = bits & 0xff;
    const block = await forge(headerText(2 * (32 + 16), algorithm), clear);
    expect(await codeOf(unwrapKeyBlock(soft, AES256, block))).toBe('TR31_KEY_LENGTH_INVALID');
  });

  it('accepts the same forged construction with a valid length (the forge is sound)', async () => {
    const clear = new Uint8Array(32);
    clear[1] = 0x80;
    const block = await forge(headerText(2 * (32 + 16)), clear);
    expect((await unwrapKeyBlock(soft, AES256, block)).key).toHaveLength(16);
  });

  it.each([Number.NaN, -1, 1.5, 0x2000])(
    'refuses to mask the key length as %s bytes',
    async (maskedKeyLength) => {
      const request = {
        header: { version: 'D', usage: 'D0', algorithm: 'A', modeOfUse: 'B', exportability: 'E' },
        key: soft.random(16),
        maskedKeyLength,
      } as const;
      expect(await codeOf(wrapKeyBlock(soft, AES256, request))).toBe('TR31_KEY_LENGTH_INVALID');
    },
  );

  it('refuses to wrap a key whose size does not fit its algorithm', async () => {
    const request = {
      header: { version: 'D', usage: 'D0', algorithm: 'A', modeOfUse: 'B', exportability: 'E' },
      key: soft.random(20),
    } as const;
    expect(await codeOf(wrapKeyBlock(soft, AES256, request))).toBe('TR31_KEY_LENGTH_INVALID');
  });
});

describe('sizes', () => {
  it('refuses encrypted data that is not a whole number of cipher blocks, or none', async () => {
    const v = X9_143_2021_8_1;
    const fix = (b: string) => b[0] + String(b.length).padStart(4, '0') + b.slice(5);
    const cut = fix(v.block.slice(0, 16) + v.block.slice(32));
    expect(await codeOf(unwrapKeyBlock(soft, AES256, cut))).toBe('TR31_LENGTH_MISMATCH');
    const none = fix(v.block.slice(0, 16) + v.block.slice(-32));
    expect(await codeOf(unwrapKeyBlock(soft, AES256, none))).toBe('TR31_LENGTH_MISMATCH');
    const whole = fix(v.block.slice(0, 16) + v.block.slice(48));
    expect(await codeOf(unwrapKeyBlock(soft, AES256, whole))).toBe('TR31_MAC_MISMATCH');
  });
});

describe('keys the codec makes do not outlive the block', () => {
  function countingCrypto() {
    const base = softKeyBlockCrypto();
    const made = new Set<unknown>();
    const disposed = new Set<unknown>();
    const crypto: typeof base = {
      ...base,
      deriveKey: async (k, d) => {
        const key = await base.deriveKey(k, d);
        made.add(key);
        return key;
      },
      importKey: async (f, b) => {
        const key = await base.importKey(f, b);
        made.add(key);
        return key;
      },
      dispose: async (key) => {
        disposed.add(key);
        await base.dispose(key);
      },
    };
    return { crypto, made, disposed };
  }

  it('destroys KBEK, KBAK and KC handles after a wrap, an unwrap and a refused unwrap, and never the KBPK', async () => {
    const kbpk = kbpkOf('aes', TR31_2018_A_7_4.kbpk);
    const c = countingCrypto();
    const block = await wrapKeyBlock(c.crypto, kbpk, {
      header: { version: 'D', usage: 'K0', algorithm: 'A', modeOfUse: 'B', exportability: 'E' },
      key: soft.random(32),
      kcv: { KC: 'legacy', KP: 'cmac' },
    });
    await unwrapKeyBlock(c.crypto, kbpk, block);
    const tampered = block.slice(0, -1) + (block.endsWith('0') ? '1' : '0');
    expect(await codeOf(unwrapKeyBlock(c.crypto, kbpk, tampered))).toBe('TR31_MAC_MISMATCH');
    expect(c.made.size).toBe(2 + 1 + 2 + 1 + 2);
    expect(c.disposed).toEqual(c.made);
    expect(c.disposed.has(kbpk.key)).toBe(false);
    expect(toHex(kbpk.key.bytes)).toBe(TR31_2018_A_7_4.kbpk);
  });
});

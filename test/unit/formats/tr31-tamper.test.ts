import { describe, expect, it } from 'vitest';
import { softKeyBlockCrypto } from '../../../electron/ceremony/tr31-soft-crypto.nodejs';
import { unwrapKeyBlock } from '../../../shared/formats/tr31/block.std';
import type { ErrorCode } from '../../../shared/errors.std';
import {
  isAlgorithm,
  isExportability,
  isKeyUsage,
  isModeOfUse,
  isVersion,
} from '../../../shared/formats/tr31/fields.std';
import { parseHeader } from '../../../shared/formats/tr31/header.std';
import { codeOf, kbpkFor } from './tr31-helpers';
import {
  TR31_2018_A_7_2_2,
  TR31_2018_A_7_3_2,
  TR31_2018_A_7_4,
  X9_143_2021_8_1,
  X9_143_2021_8_6,
  type PublishedBlock,
} from './tr31-vectors';

/**
 * Every bit of every character of published blocks is flipped, one at a time; each altered
 * block must be refused, and with the code of the check its position belongs to. Where a
 * flip can land on another valid value (a usage that exists, a hex digit that stays hex), the
 * field's own check passes and the MAC must catch it: that is what the expectation says.
 */

const base = softKeyBlockCrypto();
const derived = new Map<string, ReturnType<typeof base.deriveKey>>();
/** The derived keys depend only on the KBPK and the role: computed once per KBPK, not per flip. */
const soft: typeof base = {
  ...base,
  deriveKey: (kbpk, derivation) => {
    const id = `${kbpk.bytes.toString('hex')}/${derivation.role}`;
    if (!derived.has(id)) derived.set(id, base.deriveKey(kbpk, derivation));
    return derived.get(id)!;
  },
  // The cached keys serve every flip: none is destroyed after one.
  dispose: () => Promise.resolve(),
};
const headers = new Map<string, ReturnType<typeof parseHeader>>();
function headerOf(block: string) {
  if (!headers.has(block)) headers.set(block, parseHeader(block));
  return headers.get(block)!;
}

type Expectation = ErrorCode | readonly ErrorCode[];

const UPPER_HEX = /^[0-9A-F]$/;
const PRINTABLE = /^[\x20-\x7e]$/;
const ALNUM = /^[0-9A-Za-z]$/;
const DIGIT = /^[0-9]$/;
/** Moving an optional block's bounds shifts the rest: any structural check, or the MAC, may be first. */
const STRUCTURE: readonly ErrorCode[] = [
  'TR31_HEADER_SYNTAX',
  'TR31_OPTIONAL_BLOCK_MALFORMED',
  'TR31_PADDING_INVALID',
  'TR31_LENGTH_MISMATCH',
  'TR31_ENCODING_INVALID',
  'TR31_MAC_MISMATCH',
];

/** What a flip at `pos` to `ch` must be refused with, from where `pos` lies in the original block. */
function expected(block: string, pos: number, ch: string): { where: string; code: Expectation } {
  const header = headerOf(block);
  const mac = (ok: boolean, otherwise: ErrorCode): ErrorCode => (ok ? 'TR31_MAC_MISMATCH' : otherwise);
  if (pos === 0)
    return { where: 'version', code: isVersion(ch) ? 'TR31_VERSION_DEPRECATED' : 'TR31_VERSION_UNSUPPORTED' };
  if (pos <= 4)
    return { where: 'length', code: DIGIT.test(ch) ? 'TR31_LENGTH_MISMATCH' : 'TR31_HEADER_SYNTAX' };
  const swap = (from: number, to: number) => block.slice(from, pos) + ch + block.slice(pos + 1, to);
  if (pos <= 6) return { where: 'usage', code: mac(isKeyUsage(swap(5, 7)), 'TR31_USAGE_UNKNOWN') };
  if (pos === 7) return { where: 'algorithm', code: mac(isAlgorithm(ch), 'TR31_ALGORITHM_UNKNOWN') };
  if (pos === 8) return { where: 'mode of use', code: mac(isModeOfUse(ch), 'TR31_MODE_UNKNOWN') };
  if (pos <= 10) return { where: 'key version', code: mac(ALNUM.test(ch), 'TR31_HEADER_SYNTAX') };
  if (pos === 11)
    return { where: 'exportability', code: mac(isExportability(ch), 'TR31_EXPORTABILITY_UNKNOWN') };
  if (pos <= 13)
    return { where: 'optional block count', code: DIGIT.test(ch) ? STRUCTURE : 'TR31_HEADER_SYNTAX' };
  if (pos <= 15) return { where: 'reserved', code: 'TR31_HEADER_SYNTAX' };
  if (pos < header.text.length) {
    // Which optional block, and which part of it.
    let at = 16;
    for (const b of header.optionalBlocks) {
      const lengthChars = b.data.length + 4 > 0xff ? 8 : 2;
      const end = at + 2 + lengthChars + b.data.length;
      if (pos < end) {
        const offset = pos - at;
        if (offset < 2)
          return { where: `${b.id} id`, code: ['TR31_OPTIONAL_BLOCK_MALFORMED', 'TR31_MAC_MISMATCH'] };
        if (offset < 2 + lengthChars) return { where: `${b.id} length`, code: STRUCTURE };
        if (!PRINTABLE.test(ch)) return { where: `${b.id} data`, code: 'TR31_OPTIONAL_BLOCK_MALFORMED' };
        if (b.id === 'KC' || b.id === 'KP') {
          // Method code, then the KCV in uppercase hex of the method's length (legacy 3 bytes,
          // CMAC 5): another method no longer fits the length, a non-hex digit is no KCV.
          const isMethod = pos - (at + 2 + lengthChars) < 2;
          const fits = !isMethod && UPPER_HEX.test(ch);
          return { where: `${b.id} data`, code: mac(fits, 'TR31_OPTIONAL_BLOCK_MALFORMED') };
        }
        return { where: `${b.id} data`, code: 'TR31_MAC_MISMATCH' };
      }
      at = end;
    }
    throw new Error(`position ${pos} is in no optional block`);
  }
  const macStart = block.length - (header.version === 'D' ? 32 : 16);
  const where = pos < macStart ? 'encrypted key data' : 'MAC';
  return { where, code: mac(UPPER_HEX.test(ch), 'TR31_ENCODING_INVALID') };
}

async function flipEverything(v: PublishedBlock) {
  const kbpk = kbpkFor(v);
  const seen = new Map<string, Set<string>>();
  let flips = 0;
  for (let pos = 0; pos < v.block.length; pos++) {
    for (let bit = 0; bit < 8; bit++) {
      const ch = String.fromCharCode(v.block.charCodeAt(pos) ^ (1 << bit));
      const altered = v.block.slice(0, pos) + ch + v.block.slice(pos + 1);
      const got = await codeOf(unwrapKeyBlock(soft, kbpk, altered));
      const want = expected(v.block, pos, ch);
      const allowed: readonly string[] = typeof want.code === 'string' ? [want.code] : want.code;
      if (!allowed.includes(got)) {
        throw new Error(
          `${v.source}: bit ${bit} of position ${pos} (${want.where}) gave ${got}, expected ${allowed.join('|')}`,
        );
      }
      const codes = seen.get(want.where) ?? new Set<string>();
      codes.add(got);
      seen.set(want.where, codes);
      flips++;
    }
  }
  return { flips, seen };
}

describe('a bit flipped anywhere in a published block is refused by the check its position names', () => {
  it.each(
    [TR31_2018_A_7_4, X9_143_2021_8_1, TR31_2018_A_7_2_2, TR31_2018_A_7_3_2].map(
      (v) => [v.source, v] as const,
    ),
  )('%s', async (_source, v) => {
    // The original is accepted: the flips, not the setup, are refused.
    await expect(unwrapKeyBlock(soft, kbpkFor(v), v.block)).resolves.toBeDefined();
    const { flips, seen } = await flipEverything(v);
    expect(flips).toBe(v.block.length * 8);
    expect(seen.get('version')).toEqual(
      new Set(['TR31_VERSION_UNSUPPORTED', ...(v.block[0] === 'B' ? ['TR31_VERSION_DEPRECATED'] : [])]),
    );
    expect(seen.get('reserved')).toEqual(new Set(['TR31_HEADER_SYNTAX']));
    expect(seen.get('exportability')).toEqual(new Set(['TR31_EXPORTABILITY_UNKNOWN']));
    // The encrypted part and the MAC are guarded by the MAC, and by strict hex where a flip leaves hex.
    expect(seen.get('encrypted key data')).toEqual(new Set(['TR31_MAC_MISMATCH', 'TR31_ENCODING_INVALID']));
    expect(seen.get('MAC')).toEqual(new Set(['TR31_MAC_MISMATCH', 'TR31_ENCODING_INVALID']));
    expect(seen.get('usage')).toContain('TR31_USAGE_UNKNOWN');
    expect(seen.get('length')).toEqual(new Set(['TR31_LENGTH_MISMATCH', 'TR31_HEADER_SYNTAX']));
  });

  it(
    'X9.143 8.6: every bit of its CT, KP, TS and PB optional blocks and of its key data',
    { timeout: 60_000 },
    async () => {
      const { flips, seen } = await flipEverything(X9_143_2021_8_6);
      expect(flips).toBe(X9_143_2021_8_6.block.length * 8);
      expect(seen.get('KP data')).toEqual(new Set(['TR31_MAC_MISMATCH', 'TR31_OPTIONAL_BLOCK_MALFORMED']));
      expect(seen.get('CT data')).toEqual(new Set(['TR31_MAC_MISMATCH', 'TR31_OPTIONAL_BLOCK_MALFORMED']));
      expect(seen.get('PB data')).toContain('TR31_MAC_MISMATCH');
    },
  );
});

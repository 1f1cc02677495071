import { describe, expect, it } from 'vitest';
import type { Algorithm, Exportability, KeyUsage, ModeOfUse } from '../../../shared/formats/tr31/fields.std';
import { buildHeader } from '../../../shared/formats/tr31/header.std';
import {
  assertExportAllowed,
  attributesForHeader,
  exportAllowed,
  type ImportAttributes,
} from '../../../shared/formats/tr31/policy.std';
import { codeOf } from './tr31-helpers';

function header(
  usage: KeyUsage,
  algorithm: Algorithm,
  modeOfUse: ModeOfUse,
  exportability: Exportability = 'E',
) {
  return buildHeader({ version: 'D', usage, algorithm, modeOfUse, exportability }, 64);
}

const NONE: ImportAttributes = {
  encrypt: false,
  decrypt: false,
  wrap: false,
  unwrap: false,
  sign: false,
  verify: false,
  derive: false,
  keyBlocks: { create: false, read: false },
  extractable: true,
  wrapWithTrusted: true,
  sensitive: true,
};

describe('attributesForHeader: an imported key gets only what its header grants', () => {
  it.each([
    ['K0', 'A', 'B', { wrap: true, unwrap: true }],
    ['K0', 'T', 'E', { wrap: true }],
    ['K0', 'T', 'D', { unwrap: true }],
    ['K0', 'T', 'N', { wrap: true, unwrap: true }],
    // A KBPK derives its blocks' keys on the token; the direction is kept for the caller to enforce.
    ['K1', 'A', 'B', { derive: true, keyBlocks: { create: true, read: true } }],
    ['K1', 'T', 'E', { derive: true, keyBlocks: { create: true, read: false } }],
    ['K1', 'A', 'D', { derive: true, keyBlocks: { create: false, read: true } }],
    ['D0', 'A', 'B', { encrypt: true, decrypt: true }],
    ['D0', 'A', 'D', { decrypt: true }],
    ['P0', 'T', 'E', { encrypt: true }],
    ['M3', 'T', 'C', { sign: true, verify: true }],
    ['M3', 'T', 'G', { sign: true }],
    ['M3', 'T', 'V', { verify: true }],
    ['M7', 'H', 'C', { sign: true, verify: true }],
    ['C0', 'T', 'V', { verify: true }],
    ['B0', 'T', 'X', { derive: true }],
    ['B0', 'A', 'N', { derive: true }],
    ['E0', 'A', 'X', { derive: true }],
    ['S0', 'E', 'S', { sign: true }],
    ['S0', 'R', 'V', { verify: true }],
  ] as const)('%s %s mode %s', (usage, algorithm, mode, granted) => {
    expect(attributesForHeader(header(usage, algorithm, mode))).toEqual({ ...NONE, ...granted });
  });

  it.each([
    ['K0', 'A', 'G', 'mode_of_use'],
    ['K0', 'T', 'C', 'mode_of_use'],
    ['K0', 'T', 'X', 'mode_of_use'],
    ['K1', 'A', 'X', 'mode_of_use'],
    ['K1', 'R', 'B', 'algorithm'],
    ['D0', 'A', 'S', 'mode_of_use'],
    ['M3', 'T', 'B', 'mode_of_use'],
    ['M3', 'T', 'E', 'mode_of_use'],
    ['B0', 'T', 'B', 'mode_of_use'],
    ['S0', 'R', 'E', 'mode_of_use'],
    ['P0', 'R', 'E', 'algorithm'],
    ['K0', 'D', 'B', 'algorithm'],
    ['M7', 'T', 'C', 'algorithm'],
    ['S0', 'A', 'S', 'algorithm'],
    ['I0', 'A', 'N', 'usage'],
  ] as const)('refuses %s %s with mode %s (%s)', async (usage, algorithm, mode, reason) => {
    try {
      attributesForHeader(header(usage, algorithm, mode));
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'TR31_ATTRIBUTES_INCONSISTENT', details: { reason } });
    }
  });

  it('makes a key extractable (under trusted keys only) for E and S, never for N', () => {
    expect(attributesForHeader(header('D0', 'A', 'B', 'E'))).toMatchObject({
      extractable: true,
      wrapWithTrusted: true,
    });
    expect(attributesForHeader(header('D0', 'A', 'B', 'S'))).toMatchObject({
      extractable: true,
      wrapWithTrusted: true,
    });
    expect(attributesForHeader(header('D0', 'A', 'B', 'N'))).toMatchObject({
      extractable: false,
      sensitive: true,
    });
  });
});

describe('exportAllowed', () => {
  const plain = { allowsSensitiveExport: false };
  const marked = { allowsSensitiveExport: true };

  it('never lets an N key out, under any KBPK', async () => {
    expect(exportAllowed({ exportability: 'N' }, plain)).toBe(false);
    expect(exportAllowed({ exportability: 'N' }, marked)).toBe(false);
    expect(await codeOf(() => assertExportAllowed({ exportability: 'N' }, marked))).toBe(
      'TR31_EXPORT_REFUSED',
    );
  });

  it('lets an S key out only under a KBPK marked for it', async () => {
    expect(exportAllowed({ exportability: 'S' }, plain)).toBe(false);
    expect(await codeOf(() => assertExportAllowed({ exportability: 'S' }, plain))).toBe(
      'TR31_EXPORT_REFUSED',
    );
    expect(exportAllowed({ exportability: 'S' }, marked)).toBe(true);
    expect(await codeOf(() => assertExportAllowed({ exportability: 'S' }, marked))).toBe('accepted');
  });

  it('lets an E key out under a trusted KBPK', () => {
    expect(exportAllowed({ exportability: 'E' }, plain)).toBe(true);
  });
});

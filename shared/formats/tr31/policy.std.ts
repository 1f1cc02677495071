import { MkmError } from '../../errors.std';
import type { Algorithm, KeyUsage, ModeOfUse } from './fields.std';
import type { KeyBlockHeader } from './header.std';

/**
 * What a key read from a key block may become on the token, and whether it may leave again.
 * A block may only create a key whose attributes its header grants: the usage decides the
 * kind of operations, the mode of use which of them, the exportability whether the key is
 * extractable. Combinations that make no sense (a key encryption key that only "generates",
 * a MAC key that "wraps", an RSA key for PIN encryption) are refused, not guessed at.
 * Usage/mode pairs follow TR-31:2018 table 7 and X9.143 table 3, narrowed to what a PKCS#11
 * token can hold (no IVs, no single DES).
 */

/** The PKCS#11 attributes an imported key gets; `sensitive` is always true. */
export interface ImportAttributes {
  encrypt: boolean;
  decrypt: boolean;
  wrap: boolean;
  unwrap: boolean;
  sign: boolean;
  verify: boolean;
  derive: boolean;
  /**
   * For key block protection keys (K1, K4): whether the key may make blocks (export) and read
   * them (import). The token only sees `derive` (SP 800-108 of the block keys), so the caller
   * enforces this direction.
   */
  keyBlocks: { create: boolean; read: boolean };
  extractable: boolean;
  /** CKA_WRAP_WITH_TRUSTED: an exportable key leaves only under a trusted key. */
  wrapWithTrusted: boolean;
  sensitive: true;
}

type Operation =
  'encrypt' | 'decrypt' | 'wrap' | 'unwrap' | 'sign' | 'verify' | 'derive' | 'createBlocks' | 'readBlocks';

interface UsageClass {
  usages: readonly KeyUsage[];
  algorithms: readonly Algorithm[];
  /** Each allowed mode of use and the operations it grants. */
  modes: Partial<Record<ModeOfUse, readonly Operation[]>>;
}

/** B, E, D and N for a pair of operations: wrap/unwrap for key encryption keys, encrypt/decrypt for data. */
function cipherModes(forward: Operation, backward: Operation): UsageClass['modes'] {
  return { B: [forward, backward], E: [forward], D: [backward], N: [forward, backward] };
}
const WRAPPING = cipherModes('wrap', 'unwrap');
const ENCRYPTING = cipherModes('encrypt', 'decrypt');
const PROTECTING = cipherModes('createBlocks', 'readBlocks');
const MACING: UsageClass['modes'] = {
  C: ['sign', 'verify'],
  G: ['sign'],
  V: ['verify'],
  N: ['sign', 'verify'],
};

const SYMMETRIC: readonly Algorithm[] = ['A', 'T'];
const ASYMMETRIC: readonly Algorithm[] = ['R', 'E'];

const CLASSES: readonly UsageClass[] = [
  {
    // Key encryption keys wrap and unwrap other keys.
    usages: ['K0'],
    algorithms: SYMMETRIC,
    modes: WRAPPING,
  },
  {
    // Key block protection keys do not wrap: each block's keys are derived from them.
    usages: ['K1', 'K4'],
    algorithms: SYMMETRIC,
    modes: PROTECTING,
  },
  {
    usages: ['K2', 'K3'],
    algorithms: ASYMMETRIC,
    modes: WRAPPING,
  },
  {
    // Data and PIN encryption keys encrypt and decrypt data (a PIN block is data to the token).
    usages: ['D0', 'D2', 'D3', 'P0'],
    algorithms: SYMMETRIC,
    modes: ENCRYPTING,
  },
  {
    usages: ['D1'],
    algorithms: ['R'],
    modes: ENCRYPTING,
  },
  {
    // MAC keys, and keys whose algorithms compute MAC-like values (CVV, PIN verification values).
    usages: ['M0', 'M1', 'M2', 'M3', 'M4', 'M5', 'M6', 'M8', 'C0', 'P1', 'V0', 'V1', 'V2', 'V3', 'V4'],
    algorithms: SYMMETRIC,
    modes: MACING,
  },
  {
    usages: ['M7'],
    algorithms: ['H'],
    modes: MACING,
  },
  {
    usages: ['S0', 'S1', 'S2'],
    algorithms: ['R', 'E', 'S'],
    modes: { S: ['sign'], V: ['verify'], N: ['sign', 'verify'] },
  },
  {
    // Derivation keys (DUKPT BDKs, EMV issuer master keys) only derive.
    usages: ['B0', 'B1', 'B2', 'B3', 'E0', 'E1', 'E2', 'E3', 'E4', 'E5', 'E6'],
    algorithms: SYMMETRIC,
    modes: { X: ['derive'], Y: ['derive'], N: ['derive'] },
  },
];

function inconsistent(header: KeyBlockHeader, reason: string): MkmError {
  return new MkmError('TR31_ATTRIBUTES_INCONSISTENT', undefined, {
    reason,
    usage: header.usage,
    algorithm: header.algorithm,
    modeOfUse: header.modeOfUse,
  });
}

/** The attributes a key imported from this block gets, or TR31_ATTRIBUTES_INCONSISTENT. */
export function attributesForHeader(header: KeyBlockHeader): ImportAttributes {
  const cls = CLASSES.find((c) => c.usages.includes(header.usage));
  if (cls === undefined) throw inconsistent(header, 'usage');
  if (!cls.algorithms.includes(header.algorithm)) throw inconsistent(header, 'algorithm');
  const granted = cls.modes[header.modeOfUse];
  if (granted === undefined) throw inconsistent(header, 'mode_of_use');
  const extractable = header.exportability !== 'N';
  return {
    encrypt: granted.includes('encrypt'),
    decrypt: granted.includes('decrypt'),
    wrap: granted.includes('wrap'),
    unwrap: granted.includes('unwrap'),
    sign: granted.includes('sign'),
    verify: granted.includes('verify'),
    derive: granted.some((op) => op === 'derive' || op === 'createBlocks' || op === 'readBlocks'),
    keyBlocks: { create: granted.includes('createBlocks'), read: granted.includes('readBlocks') },
    extractable,
    wrapWithTrusted: extractable,
    sensitive: true,
  };
}

/** Whether a KBPK may carry keys whose blocks said `S` (sensitive) out again. */
export interface ExportTarget {
  allowsSensitiveExport: boolean;
}

/**
 * Whether a key imported under `header` may be exported again under `target`: `E` yes, `N`
 * never, `S` only under a KBPK marked for it.
 */
export function exportAllowed(header: Pick<KeyBlockHeader, 'exportability'>, target: ExportTarget): boolean {
  switch (header.exportability) {
    case 'E':
      return true;
    case 'S':
      return target.allowsSensitiveExport;
    default:
      return false;
  }
}

export function assertExportAllowed(
  header: Pick<KeyBlockHeader, 'exportability'>,
  target: ExportTarget,
): void {
  if (!exportAllowed(header, target)) {
    throw new MkmError('TR31_EXPORT_REFUSED', undefined, { exportability: header.exportability });
  }
}

/**
 * The code tables of a TR-31 / ANSI X9.143 key block header: which one-character and
 * two-character values the header fields may hold, and what each means. Values outside these
 * tables are refused when a block is read (fail closed: a usage we do not know is a usage we
 * cannot enforce). Sources: ASC X9 TR 31-2018 tables 6-8 and ANSI X9.143-2021 tables 2-4.
 */

export const KEY_USAGES = {
  B0: 'Base derivation key (BDK)',
  B1: 'Initial DUKPT key',
  B2: 'Base key variant key',
  B3: 'Key derivation key (non ANSI X9.24)',
  C0: 'Card verification key (CVK)',
  D0: 'Symmetric key for data encryption',
  D1: 'Asymmetric key for data encryption',
  D2: 'Data encryption key for decimalization table',
  D3: 'Data encryption key for sensitive data',
  E0: 'EMV/chip issuer master key: application cryptograms',
  E1: 'EMV/chip issuer master key: secure messaging for confidentiality',
  E2: 'EMV/chip issuer master key: secure messaging for integrity',
  E3: 'EMV/chip issuer master key: data authentication code',
  E4: 'EMV/chip issuer master key: dynamic numbers',
  E5: 'EMV/chip issuer master key: card personalization',
  E6: 'EMV/chip issuer master key: other',
  I0: 'Initialization vector (IV)',
  K0: 'Key encryption or wrapping',
  K1: 'TR-31 key block protection key',
  K2: 'TR-34 asymmetric key',
  K3: 'Asymmetric key for key agreement or key wrapping',
  K4: 'Key block protection key, ISO 20038',
  M0: 'ISO 16609 MAC algorithm 1 (TDEA)',
  M1: 'ISO 9797-1 MAC algorithm 1',
  M2: 'ISO 9797-1 MAC algorithm 2',
  M3: 'ISO 9797-1 MAC algorithm 3',
  M4: 'ISO 9797-1 MAC algorithm 4',
  M5: 'ISO 9797-1:1999 MAC algorithm 5',
  M6: 'ISO 9797-1:2011 MAC algorithm 5 (CMAC)',
  M7: 'HMAC',
  M8: 'ISO 9797-1:2011 MAC algorithm 6',
  P0: 'PIN encryption',
  P1: 'PIN generation key',
  S0: 'Asymmetric key pair for digital signature',
  S1: 'Asymmetric key pair, CA key',
  S2: 'Asymmetric key pair, non X9.24 key',
  V0: 'PIN verification, KPV, other algorithm',
  V1: 'PIN verification, IBM 3624',
  V2: 'PIN verification, VISA PVV',
  V3: 'PIN verification, X9.132 algorithm 1',
  V4: 'PIN verification, X9.132 algorithm 2',
} as const;
export type KeyUsage = keyof typeof KEY_USAGES;

export const ALGORITHMS = {
  A: 'AES',
  D: 'DEA (single DES)',
  E: 'Elliptic curve',
  H: 'HMAC',
  R: 'RSA',
  S: 'DSA',
  T: 'Triple DEA (TDES)',
} as const;
export type Algorithm = keyof typeof ALGORITHMS;

export const MODES_OF_USE = {
  B: 'Both encrypt/wrap and decrypt/unwrap',
  C: 'Both generate and verify',
  D: 'Decrypt/unwrap only',
  E: 'Encrypt/wrap only',
  G: 'Generate only',
  N: 'No special restrictions',
  S: 'Signature only',
  T: 'Both sign and decrypt',
  V: 'Verify only',
  X: 'Key used to derive other keys',
  Y: 'Key used to create key variants',
} as const;
export type ModeOfUse = keyof typeof MODES_OF_USE;

export const EXPORTABILITY = {
  E: 'Exportable under a trusted key',
  N: 'Non-exportable',
  S: 'Sensitive: exportable only under a key marked for it',
} as const;
export type Exportability = keyof typeof EXPORTABILITY;

/** B (TDES key derivation) and D (AES key derivation) are read and written; A and C are known and refused. */
export const VERSIONS = ['A', 'B', 'C', 'D'] as const;
export type KeyBlockVersion = (typeof VERSIONS)[number];
export type SupportedVersion = 'B' | 'D';

/** Cipher block size in bytes: headers, encrypted data and MACs line up on it. */
export function blockSizeOf(version: KeyBlockVersion): 8 | 16 {
  return version === 'D' ? 16 : 8;
}

export function isKeyUsage(value: string): value is KeyUsage {
  return Object.hasOwn(KEY_USAGES, value);
}
export function isAlgorithm(value: string): value is Algorithm {
  return Object.hasOwn(ALGORITHMS, value);
}
export function isModeOfUse(value: string): value is ModeOfUse {
  return Object.hasOwn(MODES_OF_USE, value);
}
export function isExportability(value: string): value is Exportability {
  return Object.hasOwn(EXPORTABILITY, value);
}
export function isVersion(value: string): value is KeyBlockVersion {
  return (VERSIONS as readonly string[]).includes(value);
}

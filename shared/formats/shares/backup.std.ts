/**
 * What an M-of-N key backup is made of: the public part (the commitments, published with the
 * ceremony's transcript and printed on no share) and the secret shares, one per custodian.
 * The backup id is a hash of the public part, so a share that names it names the one set of
 * commitments it can be checked against, and commitments that were damaged no longer match it.
 */

import { MkmError } from '../../errors.std';
import { ELEMENT_BYTES, bytesToBigInt, isSubgroupElement } from './group.std';
import { sha256 } from './sha256.std';

export const SHARE_FORMAT_VERSION = 1;
export const KEY_LENGTHS = [16, 24, 32] as const;
export type KeyLength = (typeof KEY_LENGTHS)[number];
export const MAX_SHARES = 16;
/** A share's value: the polynomial's value y and the blinding polynomial's value z, each 256 bytes. */
export const SHARE_VALUE_BYTES = 2 * ELEMENT_BYTES;
export const BACKUP_ID_BYTES = 16;

export interface BackupParameters {
  /** M: how many shares recover the key. */
  threshold: number;
  /** N: how many shares there are. */
  count: number;
  keyLength: KeyLength;
}

/** Public: may be printed, published and hashed into the transcript. */
export interface ShareBackup extends BackupParameters {
  version: typeof SHARE_FORMAT_VERSION;
  /** 32 lower-case hex digits. */
  backupId: string;
  /** Pedersen commitments C_0..C_{M-1}, each ELEMENT_BYTES big-endian; C_0 commits to the key. */
  commitments: readonly Uint8Array[];
}

/** Secret: one custodian's share. Never logged, never in an error's message or details. */
export interface KeyShare extends BackupParameters {
  backupId: string;
  /** 1..N, the x at which the polynomials were evaluated. */
  index: number;
  /** SHARE_VALUE_BYTES: y then z. */
  value: Uint8Array;
}

export function isKeyLength(n: number): n is KeyLength {
  return (KEY_LENGTHS as readonly number[]).includes(n);
}

export function parametersProblem(p: { threshold: number; count: number; keyLength: number }): string | null {
  if (!isKeyLength(p.keyLength)) return `a key of ${p.keyLength} bytes cannot be backed up (16, 24 or 32)`;
  if (!Number.isInteger(p.count) || p.count < 2 || p.count > MAX_SHARES)
    return `${p.count} shares is not 2 to 16`;
  if (!Number.isInteger(p.threshold) || p.threshold < 2 || p.threshold > p.count) {
    return `a threshold of ${p.threshold} is not 2 to ${p.count}`;
  }
  return null;
}

export function assertParameters(p: { threshold: number; count: number; keyLength: number }): void {
  const problem = parametersProblem(p);
  if (problem !== null) {
    throw new MkmError('SHARE_PARAMETERS_INVALID', `Key backup parameters refused: ${problem}.`, {
      threshold: p.threshold,
      count: p.count,
      keyLength: p.keyLength,
    });
  }
}

const ID_DOMAIN = new TextEncoder().encode('mkm key backup v1');

/** The backup id of a set of commitments and parameters (SHA-256, first 16 bytes, hex). */
export function computeBackupId(p: BackupParameters, commitments: readonly Uint8Array[]): string {
  const input = new Uint8Array(ID_DOMAIN.length + 3 + commitments.length * ELEMENT_BYTES);
  input.set(ID_DOMAIN);
  input.set([p.threshold, p.count, p.keyLength], ID_DOMAIN.length);
  commitments.forEach((c, j) => input.set(c, ID_DOMAIN.length + 3 + j * ELEMENT_BYTES));
  return toHex(sha256(input).subarray(0, BACKUP_ID_BYTES));
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function invalid(reason: string, details: Record<string, string | number>): MkmError {
  return new MkmError(
    'SHARE_COMMITMENTS_INVALID',
    `The backup's commitments are refused: ${reason}.`,
    details,
  );
}

/**
 * The commitments are what every share is checked against, so they are checked first: the
 * right number, each an element of the order-q subgroup (a value outside it could let a
 * forged share pass), and together hashing to the backup id the shares name.
 */
export function assertBackup(backup: ShareBackup): void {
  if (backup.version !== SHARE_FORMAT_VERSION) {
    throw new MkmError('SHARE_VERSION_UNSUPPORTED', undefined, { version: String(backup.version) });
  }
  assertParameters(backup);
  if (backup.commitments.length !== backup.threshold) {
    throw invalid(
      `there are ${backup.commitments.length} commitments for a threshold of ${backup.threshold}`,
      {
        commitments: backup.commitments.length,
        threshold: backup.threshold,
      },
    );
  }
  backup.commitments.forEach((c, j) => {
    if (!(c instanceof Uint8Array) || c.length !== ELEMENT_BYTES || !isSubgroupElement(bytesToBigInt(c))) {
      throw invalid(`commitment ${j} is not an element of the group`, { commitment: j });
    }
  });
  if (computeBackupId(backup, backup.commitments) !== backup.backupId) {
    throw invalid('they do not hash to the backup id', { backupId: backup.backupId });
  }
}

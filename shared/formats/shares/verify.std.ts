/**
 * Check one share on its own against the published commitments, without any other share and
 * without the key: g^y * h^z must equal the product of C_j^(i^j). The refusal names the share
 * by its number and the check it failed, never by its value.
 */

import { MkmError } from '../../errors.std';
import { assertBackup, type KeyShare, type ShareBackup, SHARE_VALUE_BYTES } from './backup.std';
import { ELEMENT_BYTES, P, Q, bytesToBigInt, modPow } from './group.std';
import { commit } from './split.std';

/** Which check refused a share. */
export type ShareCheck = 'format' | 'backup' | 'duplicate' | 'commitment';

export interface ShareProblem {
  index: number;
  check: ShareCheck;
  error: MkmError;
}

function problem(share: KeyShare, check: ShareCheck, code: MkmError['code'], sentence: string): ShareProblem {
  const index = Number.isInteger(share.index) ? share.index : -1;
  return { index, check, error: new MkmError(code, sentence, { index, check }) };
}

/** The share's (y, z), or null when the value is not two field elements. */
export function shareScalars(share: KeyShare): [bigint, bigint] | null {
  if (!(share.value instanceof Uint8Array) || share.value.length !== SHARE_VALUE_BYTES) return null;
  const y = bytesToBigInt(share.value.subarray(0, ELEMENT_BYTES));
  const z = bytesToBigInt(share.value.subarray(ELEMENT_BYTES));
  return y < Q && z < Q ? [y, z] : null;
}

/** The product of C_j^(i^j), by Horner's rule in the exponent (each power is by i <= 16). */
function expectedCommitment(backup: ShareBackup, index: number): bigint {
  const c = backup.commitments.map(bytesToBigInt);
  const x = BigInt(index);
  let acc = c[c.length - 1]!;
  for (let j = c.length - 2; j >= 0; j--) acc = (modPow(acc, x, P) * c[j]!) % P;
  return acc;
}

/**
 * What is wrong with a share, for a backup already checked by assertBackup; null when the
 * share is good. Order matters: a share of another backup is named as such, not as altered.
 */
export function findShareProblem(backup: ShareBackup, share: KeyShare): ShareProblem | null {
  if (!Number.isInteger(share.index) || share.index < 1) {
    return problem(share, 'format', 'SHARE_FORMAT_INVALID', 'The share has no valid share number.');
  }
  if (
    share.backupId !== backup.backupId ||
    share.threshold !== backup.threshold ||
    share.count !== backup.count ||
    share.keyLength !== backup.keyLength ||
    share.index > backup.count
  ) {
    return problem(
      share,
      'backup',
      'SHARE_NOT_IN_BACKUP',
      `Share ${share.index} belongs to another backup (${share.threshold} of ${share.count}, backup id ${String(share.backupId).slice(0, 8)}…), not to backup ${backup.backupId.slice(0, 8)}… (${backup.threshold} of ${backup.count}).`,
    );
  }
  const scalars = shareScalars(share);
  if (scalars === null) {
    return problem(
      share,
      'format',
      'SHARE_FORMAT_INVALID',
      `Share ${share.index} does not hold a share value.`,
    );
  }
  if (commit(scalars[0], scalars[1]) !== expectedCommitment(backup, share.index)) {
    return problem(
      share,
      'commitment',
      'SHARE_COMMITMENT_MISMATCH',
      `Share ${share.index} does not match the backup's commitments: it was altered or damaged and cannot be used.`,
    );
  }
  return null;
}

/** Check one share on its own; throws the named problem. */
export function verifyShare(backup: ShareBackup, share: KeyShare): void {
  assertBackup(backup);
  const found = findShareProblem(backup, share);
  if (found !== null) throw found.error;
}

/**
 * Recover the key from M or more shares. Every share is checked against the commitments first
 * and any bad one refuses the whole recovery, named (number and check): a bad share is never
 * dropped silently and never interpolated into a different key. The result is then checked
 * against C_0, the commitment to the key itself; the caller compares the key's KCV too.
 */

import { MkmError } from '../../errors.std';
import { type KeyShare, type ShareBackup } from './backup.std';
import { drillShares } from './drill.std';
import { bigIntToBytes, bytesToBigInt, invertModQ, mod, Q } from './group.std';
import { commit } from './split.std';
import { shareScalars } from './verify.std';

/** Lagrange coefficients at x = 0 for the given distinct x values, mod q. */
export function lagrangeAtZero(xs: readonly bigint[]): bigint[] {
  return xs.map((xi, i) => {
    let numerator = 1n;
    let denominator = 1n;
    xs.forEach((xj, j) => {
      if (j === i) return;
      numerator = (numerator * xj) % Q;
      denominator = mod(denominator * (xj - xi), Q);
    });
    return (numerator * invertModQ(denominator)) % Q;
  });
}

export function recoverKey(backup: ShareBackup, shares: readonly KeyShare[]): Uint8Array {
  const report = drillShares(backup, shares);
  const bad = report.results.find((r) => r.problem !== null);
  if (bad?.problem) throw bad.problem.error;
  if (!report.recoverable) {
    throw new MkmError(
      'SHARES_TOO_FEW',
      `${report.good.length} good share${report.good.length === 1 ? '' : 's'} presented; this backup needs ${backup.threshold}. Nothing was recovered.`,
      { presented: report.good.length, needed: backup.threshold },
    );
  }
  // Exactly M shares, the lowest numbers: any M good shares give the same polynomial.
  const chosen = [...shares].sort((a, b) => a.index - b.index).slice(0, backup.threshold);
  const lambdas = lagrangeAtZero(chosen.map((s) => BigInt(s.index)));
  let key = 0n;
  let blinding = 0n;
  chosen.forEach((share, i) => {
    const [y, z] = shareScalars(share)!;
    key = (key + lambdas[i]! * y) % Q;
    blinding = (blinding + lambdas[i]! * z) % Q;
  });
  if (
    commit(key, blinding) !== bytesToBigInt(backup.commitments[0]!) ||
    key >> BigInt(8 * backup.keyLength) !== 0n
  ) {
    throw new MkmError('SHARE_RECOVERY_MISMATCH', undefined, { backupId: backup.backupId });
  }
  return bigIntToBytes(key, backup.keyLength);
}

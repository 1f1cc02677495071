/**
 * The drill: custodians bring their shares and each is checked against the published
 * commitments, one by one, without the key being reconstructed (no M shares are ever
 * combined), so a backup can be proved recoverable as often as policy asks without exposing
 * the key it protects. Recovery runs the same inspection first.
 */

import { MkmError } from '../../errors.std';
import { assertBackup, type KeyShare, type ShareBackup } from './backup.std';
import { findShareProblem, type ShareProblem } from './verify.std';

export interface DrillResult {
  /** Position in the order presented, from 1. */
  position: number;
  /** The share number it claims (-1 when it has none). */
  index: number;
  problem: ShareProblem | null;
}

export interface DrillReport {
  backupId: string;
  threshold: number;
  count: number;
  results: DrillResult[];
  /** Share numbers that passed every check, ascending. */
  good: number[];
  /** Share numbers of the backup nobody presented, ascending. */
  missing: number[];
  /** At least M distinct good shares were presented: recovery would succeed. */
  recoverable: boolean;
}

/**
 * Check every share presented; the report names each bad one (number and check) instead of
 * stopping at the first, so a drill tells all custodians at once.
 */
export function drillShares(backup: ShareBackup, shares: readonly KeyShare[]): DrillReport {
  assertBackup(backup);
  const seen = new Set<number>();
  const results = shares.map((share, i): DrillResult => {
    let found = findShareProblem(backup, share);
    if (found === null && seen.has(share.index)) {
      found = duplicate(share.index);
    }
    if (found === null) seen.add(share.index);
    return { position: i + 1, index: Number.isInteger(share.index) ? share.index : -1, problem: found };
  });
  const good = [...seen].sort((a, b) => a - b);
  const missing: number[] = [];
  for (let index = 1; index <= backup.count; index++) {
    if (!results.some((r) => r.index === index)) missing.push(index);
  }
  return {
    backupId: backup.backupId,
    threshold: backup.threshold,
    count: backup.count,
    results,
    good,
    missing,
    recoverable: good.length >= backup.threshold,
  };
}

function duplicate(index: number): ShareProblem {
  return {
    index,
    check: 'duplicate',
    error: new MkmError(
      'SHARE_DUPLICATE_INDEX',
      `Share ${index} was presented twice; each custodian presents their own share once.`,
      { index, check: 'duplicate' },
    ),
  };
}

import { describe, expect, it } from 'vitest';
import type { MkmError } from '../../../shared/errors.std';
import { refusal } from '../../helpers/failure';
import { seededRandom } from '../../helpers/seeded-random';
import { computeBackupId, type KeyShare, type ShareBackup } from '../../../shared/formats/shares/backup.std';
import { drillShares } from '../../../shared/formats/shares/drill.std';
import { ELEMENT_BYTES, Q, bigIntToBytes, bytesToBigInt } from '../../../shared/formats/shares/group.std';
import { lagrangeAtZero, recoverKey } from '../../../shared/formats/shares/recover.std';
import { commit, evaluate, splitKey, type RandomBytes } from '../../../shared/formats/shares/split.std';
import { verifyShare } from '../../../shared/formats/shares/verify.std';

const key = (length: number, seed = 'key') => new Uint8Array(seededRandom(seed)(length));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function subsets<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  if (items.length < size) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, size - 1).map((s) => [first!, ...s]), ...subsets(rest, size)];
}

/** A copy of the share with one bit of its value flipped (in y when `part` is 0, in z when 1). */
function altered(share: KeyShare, part: 0 | 1, bit = 3): KeyShare {
  const value = share.value.slice();
  value[part * ELEMENT_BYTES + ELEMENT_BYTES - 1 - bit]! ^= 1 << (bit % 8);
  return { ...share, value };
}

/** No refusal says any part of the share's value. */
function expectNoSecret(error: MkmError, shares: readonly KeyShare[]): void {
  const said = `${error.message} ${JSON.stringify(error.details ?? {})}`;
  for (const share of shares) {
    for (const chunk of hex(share.value).match(/.{8}/g)!) expect(said).not.toContain(chunk);
  }
}

describe('M-of-N split and recovery', () => {
  const cases = [
    { count: 2, threshold: 2, keyLength: 16 },
    { count: 3, threshold: 2, keyLength: 24 },
    { count: 3, threshold: 3, keyLength: 32 },
    { count: 4, threshold: 2, keyLength: 32 },
    { count: 4, threshold: 3, keyLength: 16 },
    { count: 4, threshold: 4, keyLength: 24 },
  ];
  for (const { count, threshold, keyLength } of cases) {
    it(`recovers a ${keyLength}-byte key from every ${threshold} of ${count} shares, in any order`, () => {
      const secret = key(keyLength, `${count}/${threshold}`);
      const { backup, shares } = splitKey(
        secret,
        { threshold, count },
        seededRandom(`split ${count}/${threshold}`),
      );
      expect(backup).toMatchObject({ version: 1, threshold, count, keyLength });
      expect(backup.commitments).toHaveLength(threshold);
      expect(shares.map((s) => s.index)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      for (const subset of subsets(shares, threshold)) {
        expect(hex(recoverKey(backup, subset.reverse()))).toBe(hex(secret));
      }
    });
  }

  it('recovers from more than M shares too', () => {
    const secret = key(32);
    const { backup, shares } = splitKey(secret, { threshold: 2, count: 5 }, seededRandom('more'));
    expect(hex(recoverKey(backup, shares))).toBe(hex(secret));
  });

  it('backs up a 16 of 16 split of a 32-byte key (the largest) and recovers it', () => {
    const secret = key(32, 'large');
    const { backup, shares } = splitKey(secret, { threshold: 16, count: 16 }, seededRandom('large'));
    expect(hex(recoverKey(backup, shares))).toBe(hex(secret));
  });

  it('refuses to recover from M-1 shares, and M-1 shares interpolate to something that is not the key', () => {
    const secret = key(16);
    const { backup, shares } = splitKey(secret, { threshold: 3, count: 5 }, seededRandom('too few'));
    const error = refusal(() => recoverKey(backup, shares.slice(0, 2)));
    expect(error.code).toBe('SHARES_TOO_FEW');
    expect(error.details).toEqual({ presented: 2, needed: 3 });
    expect(refusal(() => recoverKey(backup, [])).code).toBe('SHARES_TOO_FEW');
    // What a careless implementation would compute from two shares of a 3-of-5 split.
    const ys = shares.slice(0, 2).map((s) => bytesToBigInt(s.value.subarray(0, ELEMENT_BYTES)));
    const lambdas = lagrangeAtZero([1n, 2n]);
    const guess = (lambdas[0]! * ys[0]! + lambdas[1]! * ys[1]!) % Q;
    expect(guess).not.toBe(bytesToBigInt(secret));
    expect(guess >> 128n).not.toBe(0n);
  });

  it('publishes commitments that change with the blinding even for the same key (they hide it)', () => {
    const secret = key(16);
    const a = splitKey(secret, { threshold: 2, count: 2 }, seededRandom('a'));
    const b = splitKey(secret, { threshold: 2, count: 2 }, seededRandom('b'));
    expect(hex(a.backup.commitments[0]!)).not.toBe(hex(b.backup.commitments[0]!));
    expect(a.backup.backupId).not.toBe(b.backup.backupId);
  });

  it('refuses parameters outside 2 <= M <= N <= 16 and keys other than 16, 24 or 32 bytes', () => {
    const random = seededRandom('params');
    for (const [threshold, count, length] of [
      [1, 3, 16],
      [4, 3, 16],
      [2, 17, 16],
      [2, 1, 16],
      [2.5, 3, 16],
      [2, 3, 15],
      [2, 3, 20],
      [2, 3, 64],
    ] as const) {
      const error = refusal(() => splitKey(new Uint8Array(length), { threshold, count }, random));
      expect(error.code, `${threshold} of ${count}, ${length} bytes`).toBe('SHARE_PARAMETERS_INVALID');
    }
  });

  it('fails closed on a random source that is short, stuck or returns zeros', () => {
    const secret = key(16);
    const short: RandomBytes = (n) => new Uint8Array(n - 1);
    const zeros: RandomBytes = (n) => new Uint8Array(n);
    const stuck: RandomBytes = (n) => new Uint8Array(n).fill(0x5a);
    const allOnes: RandomBytes = (n) => new Uint8Array(n).fill(0xff); // always >= q
    for (const random of [short, zeros, stuck, allOnes]) {
      expect(refusal(() => splitKey(secret, { threshold: 2, count: 3 }, random)).code).toBe(
        'SHARE_RANDOM_FAILED',
      );
    }
  });
});

describe('each share checked on its own, and a bad share named', () => {
  const secret = key(32, 'named');
  const { backup, shares } = splitKey(secret, { threshold: 3, count: 5 }, seededRandom('named'));
  const other = splitKey(secret, { threshold: 3, count: 5 }, seededRandom('other backup'));

  it('accepts every good share against the published commitments, with no other share', () => {
    for (const share of shares) expect(() => verifyShare(backup, share)).not.toThrow();
  });

  it('names an altered share (its y or its z), by number and check, and refuses recovery with it', () => {
    for (const part of [0, 1] as const) {
      const bad = altered(shares[1]!, part);
      const alone = refusal(() => verifyShare(backup, bad));
      expect(alone.code).toBe('SHARE_COMMITMENT_MISMATCH');
      expect(alone.details).toEqual({ index: 2, check: 'commitment' });
      expect(alone.message).toContain('Share 2 ');
      // With exactly M shares: without the per-share check this would be a different key
      // (or at best an unnamed mismatch); it must be refused naming share 2.
      const recovery = refusal(() => recoverKey(backup, [shares[0]!, bad, shares[2]!]));
      expect(recovery.code).toBe('SHARE_COMMITMENT_MISMATCH');
      expect(recovery.details).toEqual({ index: 2, check: 'commitment' });
      // Even with enough good shares besides, a bad one is not dropped silently.
      expect(refusal(() => recoverKey(backup, [...shares.slice(2), bad])).details).toEqual({
        index: 2,
        check: 'commitment',
      });
      expectNoSecret(alone, [shares[1]!, bad]);
    }
  });

  it('names a share relabelled with another number', () => {
    const relabelled = { ...shares[1]!, index: 4 };
    const error = refusal(() => recoverKey(backup, [shares[0]!, relabelled, shares[2]!]));
    expect(error.code).toBe('SHARE_COMMITMENT_MISMATCH');
    expect(error.details).toEqual({ index: 4, check: 'commitment' });
  });

  it('names a share of another backup as foreign, and one relabelled with this backup id as altered', () => {
    const foreign = other.shares[1]!;
    const error = refusal(() => verifyShare(backup, foreign));
    expect(error.code).toBe('SHARE_NOT_IN_BACKUP');
    expect(error.details).toEqual({ index: 2, check: 'backup' });
    expect(refusal(() => recoverKey(backup, [shares[0]!, foreign, shares[2]!])).code).toBe(
      'SHARE_NOT_IN_BACKUP',
    );
    const disguised = { ...foreign, backupId: backup.backupId };
    expect(refusal(() => recoverKey(backup, [shares[0]!, disguised, shares[2]!])).details).toEqual({
      index: 2,
      check: 'commitment',
    });
    expectNoSecret(error, [foreign]);
  });

  it('names a share whose threshold, count, key length or number does not fit the backup', () => {
    for (const change of [{ threshold: 2 }, { count: 6 }, { keyLength: 16 as const }, { index: 6 }]) {
      const error = refusal(() => verifyShare(backup, { ...shares[0]!, ...change }));
      expect(error.code, JSON.stringify(change)).toBe('SHARE_NOT_IN_BACKUP');
    }
    for (const change of [{ index: 0 }, { index: 1.5 }, { value: new Uint8Array(10) }]) {
      expect(refusal(() => verifyShare(backup, { ...shares[0]!, ...change })).code).toBe(
        'SHARE_FORMAT_INVALID',
      );
    }
    const tooBig = shares[0]!.value.slice();
    tooBig.set(bigIntToBytes(Q, ELEMENT_BYTES), 0);
    expect(refusal(() => verifyShare(backup, { ...shares[0]!, value: tooBig })).code).toBe(
      'SHARE_FORMAT_INVALID',
    );
  });

  it('names a share presented twice, even when both copies are good', () => {
    const error = refusal(() => recoverKey(backup, [shares[0]!, shares[2]!, shares[0]!]));
    expect(error.code).toBe('SHARE_DUPLICATE_INDEX');
    expect(error.details).toEqual({ index: 1, check: 'duplicate' });
  });

  it('refuses commitments that were damaged, cut short or belong to another backup id', () => {
    const damaged = backup.commitments.map((c) => c.slice());
    damaged[1]![100]! ^= 1;
    const cases: ShareBackup[] = [
      { ...backup, commitments: damaged },
      { ...backup, commitments: backup.commitments.slice(0, 2) },
      { ...backup, backupId: other.backup.backupId },
      // A value outside the group, with the id recomputed so only the group check can catch it.
      (() => {
        const outside = [bigIntToBytes(1n, ELEMENT_BYTES), ...backup.commitments.slice(1)];
        return { ...backup, commitments: outside, backupId: computeBackupId(backup, outside) };
      })(),
    ];
    for (const bad of cases) {
      expect(refusal(() => verifyShare(bad, shares[0]!)).code).toBe('SHARE_COMMITMENTS_INVALID');
      expect(refusal(() => drillShares(bad, shares)).code).toBe('SHARE_COMMITMENTS_INVALID');
      expect(refusal(() => recoverKey(bad, shares)).code).toBe('SHARE_COMMITMENTS_INVALID');
    }
  });

  it('refuses a recovered key that does not fit the key length its commitment was made for', () => {
    // A dealer who committed to a 17-byte value under a 16-byte label: every share checks,
    // the result does not.
    const f = [(1n << 130n) + 5n, 77n];
    const r = [11n, 13n];
    const commitments = f.map((a, j) => bigIntToBytes(commit(a, r[j]!), ELEMENT_BYTES));
    const parameters = { threshold: 2, count: 2, keyLength: 16 as const };
    const backupId = computeBackupId(parameters, commitments);
    const forged: ShareBackup = { version: 1, ...parameters, backupId, commitments };
    const forgedShares = [1, 2].map((index): KeyShare => {
      const value = new Uint8Array(2 * ELEMENT_BYTES);
      value.set(bigIntToBytes(evaluate(f, BigInt(index)), ELEMENT_BYTES));
      value.set(bigIntToBytes(evaluate(r, BigInt(index)), ELEMENT_BYTES), ELEMENT_BYTES);
      return { ...parameters, backupId, index, value };
    });
    expect(drillShares(forged, forgedShares).good).toEqual([1, 2]);
    expect(refusal(() => recoverKey(forged, forgedShares)).code).toBe('SHARE_RECOVERY_MISMATCH');
  });
});

describe('the drill', () => {
  const { backup, shares } = splitKey(key(24, 'drill'), { threshold: 3, count: 5 }, seededRandom('drill'));

  it('passes when every share presented is good, and says which were not presented', () => {
    const report = drillShares(backup, [shares[4]!, shares[0]!, shares[2]!]);
    expect(report.results.map((r) => [r.position, r.index, r.problem])).toEqual([
      [1, 5, null],
      [2, 1, null],
      [3, 3, null],
    ]);
    expect(report.good).toEqual([1, 3, 5]);
    expect(report.missing).toEqual([2, 4]);
    expect(report.recoverable).toBe(true);
  });

  it('checks a single share (fewer than M): no share is ever combined with another', () => {
    const report = drillShares(backup, [shares[3]!]);
    expect(report.good).toEqual([4]);
    expect(report.recoverable).toBe(false);
  });

  it('names every bad share at once (altered, foreign, duplicate) and keeps the good ones good', () => {
    const foreign = splitKey(key(24, 'drill'), { threshold: 3, count: 5 }, seededRandom('elsewhere'))
      .shares[3]!;
    const report = drillShares(backup, [shares[0]!, altered(shares[1]!, 1), foreign, shares[0]!, shares[4]!]);
    expect(
      report.results.map((r) => ({
        position: r.position,
        index: r.index,
        code: r.problem?.error.code ?? null,
      })),
    ).toEqual([
      { position: 1, index: 1, code: null },
      { position: 2, index: 2, code: 'SHARE_COMMITMENT_MISMATCH' },
      { position: 3, index: 4, code: 'SHARE_NOT_IN_BACKUP' },
      { position: 4, index: 1, code: 'SHARE_DUPLICATE_INDEX' },
      { position: 5, index: 5, code: null },
    ]);
    expect(report.results.map((r) => r.problem?.check ?? null)).toEqual([
      null,
      'commitment',
      'backup',
      'duplicate',
      null,
    ]);
    expect(report.good).toEqual([1, 5]);
    expect(report.recoverable).toBe(false);
  });
});

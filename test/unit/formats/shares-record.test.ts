import { describe, expect, it } from 'vitest';
import { backupFromRecord, backupToRecord } from '../../../shared/formats/shares/backup-record.std';
import { recoverKey } from '../../../shared/formats/shares/recover.std';
import { splitKey } from '../../../shared/formats/shares/split.std';
import { refusal } from '../../helpers/failure';
import { seededRandom } from '../../helpers/seeded-random';

const secret = new Uint8Array(seededRandom('record key')(24));
const { backup, shares } = splitKey(secret, { threshold: 2, count: 3 }, seededRandom('record'));
const other = splitKey(secret, { threshold: 2, count: 3 }, seededRandom('record, another backup'));
const record = backupToRecord(backup);

describe('the published backup record (commitments)', () => {
  it('goes through JSON and back to the same backup, which recovers the key', () => {
    const read = backupFromRecord(JSON.parse(JSON.stringify(record)));
    expect(read).toEqual(backup);
    expect(Buffer.from(recoverKey(read, shares.slice(1))).equals(Buffer.from(secret))).toBe(true);
    expect(record.commitments.every((c) => /^[0-9a-f]{512}$/.test(c))).toBe(true);
  });

  it('refuses a record that was damaged, swapped or padded, naming the field', () => {
    const flipped = record.commitments[1]!.replace(/^./, (d) => (d === '0' ? '1' : '0'));
    const cases: [unknown, string][] = [
      [null, 'the record'],
      [[], 'the record'],
      [{ ...record, format: 'other' }, 'format'],
      [{ ...record, extra: 1 }, 'extra'],
      [{ ...record, backupId: record.backupId.toUpperCase() }, 'backupId'],
      [{ ...record, threshold: '2' }, 'threshold'],
      [{ ...record, commitments: 'x' }, 'commitments'],
      [{ ...record, commitments: [record.commitments[0], 'ab'] }, 'commitments[1]'],
    ];
    for (const [value, field] of cases) {
      const error = refusal(() => backupFromRecord(value));
      expect(error.code, field).toBe('SHARE_COMMITMENTS_INVALID');
      expect(error.details, field).toEqual({ field });
    }
    // Well-formed but not this backup: the checks of assertBackup refuse them.
    for (const value of [
      { ...record, commitments: [record.commitments[0], flipped] },
      { ...record, backupId: other.backup.backupId },
      { ...record, threshold: 3 },
    ]) {
      expect(refusal(() => backupFromRecord(value)).code).toBe('SHARE_COMMITMENTS_INVALID');
    }
    expect(refusal(() => backupFromRecord({ ...record, keyLength: 20 })).code).toBe(
      'SHARE_PARAMETERS_INVALID',
    );
    expect(refusal(() => backupFromRecord({ ...record, version: 2 })).code).toBe('SHARE_VERSION_UNSUPPORTED');
  });
});

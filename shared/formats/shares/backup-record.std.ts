/**
 * The public half of a key backup as it is stored or published (in the ceremony transcript,
 * next to the printed shares): JSON-safe, commitments in hex. Reading one back is strict and
 * ends with the same checks a share is verified against, so a drill or a recovery never runs
 * against commitments that were damaged or swapped for another backup's.
 */

import { MkmError } from '../../errors.std';
import { assertBackup, SHARE_FORMAT_VERSION, toHex, type KeyLength, type ShareBackup } from './backup.std';
import { ELEMENT_BYTES } from './group.std';

export const BACKUP_RECORD_FORMAT = 'mkm-key-backup';

export interface BackupRecord {
  format: typeof BACKUP_RECORD_FORMAT;
  version: typeof SHARE_FORMAT_VERSION;
  backupId: string;
  threshold: number;
  count: number;
  keyLength: number;
  /** C_0..C_{M-1}, each 512 lower-case hex digits. */
  commitments: string[];
}

export function backupToRecord(backup: ShareBackup): BackupRecord {
  return {
    format: BACKUP_RECORD_FORMAT,
    version: backup.version,
    backupId: backup.backupId,
    threshold: backup.threshold,
    count: backup.count,
    keyLength: backup.keyLength,
    commitments: backup.commitments.map(toHex),
  };
}

const FIELDS = ['format', 'version', 'backupId', 'threshold', 'count', 'keyLength', 'commitments'];
const COMMITMENT_HEX = new RegExp(`^[0-9a-f]{${2 * ELEMENT_BYTES}}$`);

function refused(field: string, reason: string): MkmError {
  return new MkmError('SHARE_COMMITMENTS_INVALID', `The backup record is refused: ${field} ${reason}.`, {
    field,
  });
}

/** A backup record read from JSON (already parsed), checked whole; throws naming the field. */
export function backupFromRecord(value: unknown): ShareBackup {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw refused('the record', 'is not an object');
  const record = value as Record<string, unknown>;
  if (record.format !== BACKUP_RECORD_FORMAT) throw refused('format', `is not "${BACKUP_RECORD_FORMAT}"`);
  if (record.version !== SHARE_FORMAT_VERSION) {
    throw new MkmError('SHARE_VERSION_UNSUPPORTED', undefined, { version: String(record.version) });
  }
  const extra = Object.keys(record).find((key) => !FIELDS.includes(key));
  if (extra !== undefined) throw refused(extra.slice(0, 40), 'is not a field of a backup record');
  if (typeof record.backupId !== 'string' || !/^[0-9a-f]{32}$/.test(record.backupId)) {
    throw refused('backupId', 'is not 32 lower-case hex digits');
  }
  for (const field of ['threshold', 'count', 'keyLength'] as const) {
    if (!Number.isInteger(record[field])) throw refused(field, 'is not a whole number');
  }
  const commitments = record.commitments;
  if (!Array.isArray(commitments) || commitments.length > 16)
    throw refused('commitments', 'is not a list of up to 16');
  commitments.forEach((c, j) => {
    if (typeof c !== 'string' || !COMMITMENT_HEX.test(c)) {
      throw refused(`commitments[${j}]`, `is not ${2 * ELEMENT_BYTES} lower-case hex digits`);
    }
  });
  const backup: ShareBackup = {
    version: SHARE_FORMAT_VERSION,
    backupId: record.backupId,
    threshold: record.threshold as number,
    count: record.count as number,
    keyLength: record.keyLength as KeyLength,
    commitments: (commitments as string[]).map((c) => {
      const bytes = new Uint8Array(ELEMENT_BYTES);
      for (let i = 0; i < ELEMENT_BYTES; i++) bytes[i] = Number.parseInt(c.slice(2 * i, 2 * i + 2), 16);
      return bytes;
    }),
  };
  assertBackup(backup);
  return backup;
}

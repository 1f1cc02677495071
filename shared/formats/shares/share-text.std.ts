/**
 * A key share as one custodian prints it and types it back:
 *
 *   mkm key share v1
 *   backup 8412 2d19 09d7 9243 a49b ddf4 0f24 4c9f  check 1a2b
 *   share 2 of 5  threshold 3  key 32 bytes  check 3c4d
 *   01  xxxx xxxx ... (16 groups of 4 hex digits)  check 9e01
 *   ...                                             (16 lines)
 *   end 89ab cdef
 *
 * Every line carries its own check group (SHA-256 of its label and content, 16 bits), so a typo
 * is caught on the line it is in; for a single mistyped or swapped digit the group is named
 * too. The end line checks the whole share, so lines taken from another share are caught.
 * The value is secret: no message or detail of a refusal quotes any of it, only where it is.
 * Typed text may use either case and any spacing; blank lines are ignored.
 */

import { MkmError } from '../../errors.std';
import {
  BACKUP_ID_BYTES,
  isKeyLength,
  parametersProblem,
  SHARE_FORMAT_VERSION,
  SHARE_VALUE_BYTES,
  toHex,
  type KeyShare,
} from './backup.std';
import { sha256 } from './sha256.std';

const TITLE = 'mkm key share';
const GROUPS_PER_LINE = 16;
const BYTES_PER_LINE = GROUPS_PER_LINE * 2;
const VALUE_LINES = SHARE_VALUE_BYTES / BYTES_PER_LINE;
const encoder = new TextEncoder();

function checkGroup(label: string, payload: Uint8Array, bytes = 2): string {
  const prefix = encoder.encode(`mkm key share v${SHARE_FORMAT_VERSION} ${label}\n`);
  const input = new Uint8Array(prefix.length + payload.length);
  input.set(prefix);
  input.set(payload, prefix.length);
  return toHex(sha256(input).subarray(0, bytes));
}

const groups = (hex: string): string => (hex.match(/.{4}/g) ?? []).join(' ');
const lineLabel = (n: number): string => String(n).padStart(2, '0');
const parameterBytes = (s: Pick<KeyShare, 'index' | 'count' | 'threshold' | 'keyLength'>): Uint8Array =>
  new Uint8Array([s.index, s.count, s.threshold, s.keyLength]);

function endCheck(share: KeyShare): string {
  const payload = new Uint8Array(BACKUP_ID_BYTES + 4 + SHARE_VALUE_BYTES);
  payload.set(fromHex(share.backupId));
  payload.set(parameterBytes(share), BACKUP_ID_BYTES);
  payload.set(share.value, BACKUP_ID_BYTES + 4);
  return checkGroup('end', payload, 4);
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The printable text of a share (a secret: it goes to one custodian's sheet and nowhere else). */
export function encodeShareText(share: KeyShare): string {
  const problem = parametersProblem(share);
  if (
    problem !== null ||
    !/^[0-9a-f]{32}$/.test(share.backupId) ||
    !Number.isInteger(share.index) ||
    share.index < 1 ||
    share.index > share.count ||
    share.value.length !== SHARE_VALUE_BYTES
  ) {
    throw new MkmError('SHARE_FORMAT_INVALID', 'This share cannot be printed: it is not a whole share.');
  }
  const lines = [
    `${TITLE} v${SHARE_FORMAT_VERSION}`,
    `backup ${groups(share.backupId)}  check ${checkGroup('backup', fromHex(share.backupId))}`,
    `share ${share.index} of ${share.count}  threshold ${share.threshold}  key ${share.keyLength} bytes  check ${checkGroup('share', parameterBytes(share))}`,
  ];
  for (let n = 1; n <= VALUE_LINES; n++) {
    const bytes = share.value.subarray((n - 1) * BYTES_PER_LINE, n * BYTES_PER_LINE);
    lines.push(`${lineLabel(n)}  ${groups(toHex(bytes))}  check ${checkGroup(`line ${n}`, bytes)}`);
  }
  lines.push(`end ${groups(endCheck(share))}`);
  return `${lines.join('\n')}\n`;
}

function formatError(sentence: string, where: string): MkmError {
  return new MkmError('SHARE_FORMAT_INVALID', `The key share is not readable: ${sentence}`, { line: where });
}

function checksumError(where: string, text: string, group: number | null): MkmError {
  const at = group === null ? '' : group === 0 ? ', in its check group' : `, probably in group ${group}`;
  return new MkmError(
    'SHARE_CHECKSUM_MISMATCH',
    `${text} of the key share does not match its check${at}: it was mistyped. Compare it with the printed share.`,
    group === null ? { line: where } : { line: where, group },
  );
}

/**
 * Which group holds a single mistyped or swapped digit, when exactly one does: 1..16 for a
 * value group, 0 for the check group itself, null when no single slip (or more than one
 * place) explains it. Only a place is returned, never a corrected digit.
 */
function locateSlip(label: string, hex: string, typedCheck: string): number | null {
  const places = new Set<number>();
  const expected = (h: string): string => checkGroup(label, fromHex(h));
  if (oneSlipApart(expected(hex), typedCheck)) places.add(0);
  for (let i = 0; i < hex.length; i++) {
    for (const digit of '0123456789abcdef') {
      if (digit === hex[i]) continue;
      if (expected(hex.slice(0, i) + digit + hex.slice(i + 1)) === typedCheck)
        places.add(Math.floor(i / 4) + 1);
    }
    if (i + 1 < hex.length && hex[i] !== hex[i + 1] && Math.floor(i / 4) === Math.floor((i + 1) / 4)) {
      const swapped = hex.slice(0, i) + hex[i + 1] + hex[i] + hex.slice(i + 2);
      if (expected(swapped) === typedCheck) places.add(Math.floor(i / 4) + 1);
    }
  }
  return places.size === 1 ? [...places][0]! : null;
}

function oneSlipApart(a: string, b: string): boolean {
  const diff = [...a].flatMap((c, i) => (c === b[i] ? [] : [i]));
  if (diff.length === 1) return true;
  return (
    diff.length === 2 &&
    diff[1] === diff[0]! + 1 &&
    a[diff[0]!] === b[diff[1]!] &&
    a[diff[1]!] === b[diff[0]!]
  );
}

const HEX4 = /^[0-9a-f]{4}$/;

/** Groups of 4 hex digits, or a format error naming the first group that is not one. */
function readGroups(tokens: string[], expected: number, where: string, text: string): string {
  if (tokens.length !== expected) {
    throw formatError(`the ${text} has ${tokens.length} groups where ${expected} belong.`, where);
  }
  tokens.forEach((token, i) => {
    if (!HEX4.test(token)) throw formatError(`group ${i + 1} of the ${text} is not four hex digits.`, where);
  });
  return tokens.join('');
}

function readValueLines(lines: string[][], value: Uint8Array): void {
  for (let n = 1; n <= VALUE_LINES; n++) {
    const label = lineLabel(n);
    const tokens = lines.shift();
    if (tokens === undefined || tokens[0] === 'end') throw formatError(`line ${label} is missing.`, label);
    // Never quote what was found: an unlabelled line starts with a group of the secret.
    if (tokens[0] !== label) throw formatError(`line ${label} was expected here, found another line.`, label);
    if (tokens.at(-2) !== 'check')
      throw formatError(`line ${label} does not end with its check group.`, label);
    const hex = readGroups(tokens.slice(1, -2), GROUPS_PER_LINE, label, `line ${label}`);
    const typedCheck = readGroups(tokens.slice(-1), 1, label, `check of line ${label}`);
    if (checkGroup(`line ${n}`, fromHex(hex)) !== typedCheck) {
      throw checksumError(label, `Line ${label}`, locateSlip(`line ${n}`, hex, typedCheck));
    }
    value.set(fromHex(hex), (n - 1) * BYTES_PER_LINE);
  }
}

/** Read back a share typed or scanned from its printed text; every refusal says where. */
export function parseShareText(text: string): KeyShare {
  if (typeof text !== 'string' || text.length > 16_384)
    throw formatError('it is not a printed key share.', 'all');
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim().toLowerCase().split(/\s+/))
    .filter((tokens) => tokens[0] !== '');

  const title = lines.shift();
  const version = title?.join(' ').match(/^mkm key share v(\d+)$/);
  if (!version) throw formatError(`the first line is not "${TITLE} v${SHARE_FORMAT_VERSION}".`, 'title');
  if (Number(version[1]) !== SHARE_FORMAT_VERSION) {
    throw new MkmError('SHARE_VERSION_UNSUPPORTED', undefined, { version: version[1]! });
  }

  const backupLine = lines.shift() ?? [];
  if (backupLine[0] !== 'backup' || backupLine.at(-2) !== 'check') {
    throw formatError('the second line is not the backup line ("backup ... check ...").', 'backup');
  }
  const backupId = readGroups(backupLine.slice(1, -2), BACKUP_ID_BYTES / 2, 'backup', 'backup line');
  const backupCheck = readGroups(backupLine.slice(-1), 1, 'backup', 'backup line check');
  if (checkGroup('backup', fromHex(backupId)) !== backupCheck) {
    throw checksumError('backup', 'The backup line', locateSlip('backup', backupId, backupCheck));
  }

  const shareLine = (lines.shift() ?? []).join(' ');
  const m = shareLine.match(
    /^share (\d{1,2}) of (\d{1,2}) threshold (\d{1,2}) key (\d{1,2}) bytes check (\S+)$/,
  );
  if (!m)
    throw formatError('the third line is not "share I of N  threshold M  key L bytes  check ...".', 'share');
  const [index, count, threshold, keyLength] = [m[1], m[2], m[3], m[4]].map(Number) as [
    number,
    number,
    number,
    number,
  ];
  const shareCheck = readGroups([m[5]!], 1, 'share', 'share line check');
  if (checkGroup('share', new Uint8Array([index, count, threshold, keyLength])) !== shareCheck) {
    throw checksumError('share', 'The share line', null);
  }
  if (
    parametersProblem({ threshold, count, keyLength }) !== null ||
    index < 1 ||
    index > count ||
    !isKeyLength(keyLength)
  ) {
    throw formatError('the share line names a share that cannot exist.', 'share');
  }

  const value = new Uint8Array(SHARE_VALUE_BYTES);
  try {
    readValueLines(lines, value);
  } catch (error) {
    value.fill(0);
    throw error;
  }

  const endLine = lines.shift() ?? [];
  if (endLine[0] !== 'end') throw formatError('the line after line 16 is not the end line.', 'end');
  const typedEnd = readGroups(endLine.slice(1), 2, 'end', 'end line');
  if (lines.length > 0) throw formatError('there is text after the end line.', 'end');
  const share: KeyShare = { backupId, index, count, threshold, keyLength, value };
  if (endCheck(share) !== typedEnd) {
    value.fill(0);
    throw new MkmError(
      'SHARE_CHECKSUM_MISMATCH',
      'Every line checks, but the end line does not match the share as a whole: lines were taken from another share, or the end line was mistyped.',
      { line: 'end' },
    );
  }
  return share;
}

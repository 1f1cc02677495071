import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { MkmError } from '../../../shared/errors.std';
import { refusal } from '../../helpers/failure';
import { seededRandom } from '../../helpers/seeded-random';
import type { KeyShare } from '../../../shared/formats/shares/backup.std';
import { encodeShareText, parseShareText } from '../../../shared/formats/shares/share-text.std';
import { splitKey } from '../../../shared/formats/shares/split.std';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** No refusal quotes any group of the share's value. */
function expectNoSecret(error: MkmError, share: KeyShare): void {
  const said = `${error.message} ${JSON.stringify(error.details ?? {})}`.toLowerCase();
  for (const group of hex(share.value).match(/.{4}/g)!) expect(said).not.toContain(group);
}

const { shares } = splitKey(new Uint8Array(32).fill(0x42), { threshold: 2, count: 3 }, seededRandom('text'));
const share = shares[1]!;
const text = encodeShareText(share);
const lines = text.trimEnd().split('\n');

/** The text with one hex digit changed, on `line` (0-based line of the text) in `group` (1-based). */
function withDigitChanged(line: number, group: number, digit = 0): string {
  const copy = [...lines];
  const tokens = copy[line]!.split(/\s+/); // tokens[0] is the line's label ("backup", "07")
  const g = tokens[group]!;
  tokens[group] = g.slice(0, digit) + (g[digit] === '0' ? '1' : '0') + g.slice(digit + 1);
  copy[line] = tokens.join(' ');
  return copy.join('\n');
}

describe('a key share as printed and typed back', () => {
  it('prints the version, backup id, number, M, N, key length and 16 lines of 16 groups with checks', () => {
    expect(lines).toHaveLength(20);
    expect(lines[0]).toBe('mkm key share v1');
    expect(lines[1]).toMatch(/^backup( [0-9a-f]{4}){8} {2}check [0-9a-f]{4}$/);
    expect(lines[1]!.replace(/^backup |\s+check.*$|\s/g, '')).toBe(share.backupId);
    expect(lines[2]).toMatch(/^share 2 of 3 {2}threshold 2 {2}key 32 bytes {2}check [0-9a-f]{4}$/);
    for (let n = 1; n <= 16; n++) {
      expect(lines[2 + n]).toMatch(
        new RegExp(`^${String(n).padStart(2, '0')} ( [0-9a-f]{4}){16}  check [0-9a-f]{4}$`),
      );
    }
    expect(lines[19]).toMatch(/^end [0-9a-f]{4} [0-9a-f]{4}$/);
  });

  it('reads back exactly, for every key length, and forgives case, spacing, CRLF and blank lines', () => {
    for (const keyLength of [16, 24, 32]) {
      const split = splitKey(
        new Uint8Array(keyLength).fill(1),
        { threshold: 3, count: 4 },
        seededRandom(`k${keyLength}`),
      );
      for (const s of split.shares) expect(parseShareText(encodeShareText(s))).toEqual(s);
    }
    const sloppy = `\n\n${lines.map((l) => `  ${l.toUpperCase().replace(/ /g, ' \t ')}  `).join('\r\n\r\n')}\r\n\n`;
    expect(parseShareText(sloppy)).toEqual(share);
  });

  it('names the value line and group of a mistyped digit, without quoting the share', () => {
    for (const [line, group] of [
      [3, 1],
      [10, 7],
      [18, 16],
    ] as const) {
      for (const digit of [0, 3]) {
        const error = refusal(() => parseShareText(withDigitChanged(line, group, digit)));
        const label = String(line - 2).padStart(2, '0');
        expect(error.code).toBe('SHARE_CHECKSUM_MISMATCH');
        expect(error.details).toEqual({ line: label, group });
        expect(error.message).toContain(`Line ${label} `);
        expect(error.message).toContain(`group ${group}`);
        expectNoSecret(error, share);
      }
    }
  });

  it('names the group of two swapped neighbouring digits, and the check group when that was mistyped', () => {
    const copy = [...lines];
    const tokens = copy[5]!.split(/\s+/);
    const g = tokens[4]!; // group 4 of line 03
    if (g[1] === g[2]) throw new Error('pick another group for this fixture');
    tokens[4] = g[0]! + g[2]! + g[1]! + g[3]!;
    copy[5] = tokens.join(' ');
    expect(refusal(() => parseShareText(copy.join('\n'))).details).toEqual({ line: '03', group: 4 });

    const checkTyped = [...lines];
    checkTyped[6] = checkTyped[6]!.replace(/check (\S)/, (_, d: string) => `check ${d === 'a' ? 'b' : 'a'}`);
    const error = refusal(() => parseShareText(checkTyped.join('\n')));
    expect(error.details).toEqual({ line: '04', group: 0 });
    expect(error.message).toContain('in its check group');
  });

  it('names the backup line and the share line when they are mistyped', () => {
    const backup = refusal(() => parseShareText(withDigitChanged(1, 3)));
    expect(backup.code).toBe('SHARE_CHECKSUM_MISMATCH');
    expect(backup.details).toEqual({ line: 'backup', group: 3 });
    const numbered = [...lines];
    numbered[2] = numbered[2]!.replace('share 2 of 3', 'share 3 of 3');
    const error = refusal(() => parseShareText(numbered.join('\n')));
    expect(error.code).toBe('SHARE_CHECKSUM_MISMATCH');
    expect(error.details).toEqual({ line: 'share' });
  });

  it('catches lines taken from another share of the same backup at the end line', () => {
    const otherLines = encodeShareText(shares[0]!).trimEnd().split('\n');
    const mixed = [...lines];
    mixed[8] = otherLines[8]!; // line 06 of share 1: its own check holds
    const error = refusal(() => parseShareText(mixed.join('\n')));
    expect(error.code).toBe('SHARE_CHECKSUM_MISMATCH');
    expect(error.details).toEqual({ line: 'end' });
    expectNoSecret(error, share);
  });

  it('refuses a missing, extra, short or non-hex part with a format error that says where', () => {
    const cases: [string, string][] = [
      [lines.filter((_, i) => i !== 7).join('\n'), '05'], // line 05 missing: 06 found instead
      [lines.filter((_, i) => i !== 18).join('\n'), '16'], // last value line missing
      [[...lines.slice(0, 19)].join('\n'), 'end'],
      [[...lines, 'more'].join('\n'), 'end'],
      [lines.map((l, i) => (i === 9 ? l.replace(/ [0-9a-f]{4} /, ' ') : l)).join('\n'), '07'],
      [lines.map((l, i) => (i === 9 ? l.replace(/ [0-9a-f]{4} /, ' zzzz ') : l)).join('\n'), '07'],
      [lines.map((l, i) => (i === 9 ? l.replace(/ [0-9a-f]{4} /, ' 12345 ') : l)).join('\n'), '07'],
      [lines.map((l, i) => (i === 9 ? l.replace(/^07 /, '') : l)).join('\n'), '07'],
      [lines.map((l, i) => (i === 9 ? l.replace(/check/, '') : l)).join('\n'), '07'],
      [lines.map((l, i) => (i === 2 ? l.replace('threshold', 'of') : l)).join('\n'), 'share'],
      [lines.slice(1).join('\n'), 'title'],
      ['', 'title'],
    ];
    for (const [input, where] of cases) {
      const error = refusal(() => parseShareText(input));
      expect(error.code, where).toBe('SHARE_FORMAT_INVALID');
      expect(error.details, where).toEqual({ line: where });
      expectNoSecret(error, share);
    }
  });

  it('refuses a share of an unknown format version, and a share line naming a share that cannot exist', () => {
    const v2 = refusal(() => parseShareText(text.replace('mkm key share v1', 'mkm key share v2')));
    expect(v2.code).toBe('SHARE_VERSION_UNSUPPORTED');
    // "share 4 of 3" with the check it would have: the check holds, the share cannot exist.
    const check = createHash('sha256')
      .update(Buffer.concat([Buffer.from('mkm key share v1 share\n'), Buffer.from([4, 3, 2, 32])]))
      .digest('hex')
      .slice(0, 4);
    const impossible = [...lines];
    impossible[2] = `share 4 of 3  threshold 2  key 32 bytes  check ${check}`;
    const error = refusal(() => parseShareText(impossible.join('\n')));
    expect(error.code).toBe('SHARE_FORMAT_INVALID');
    expect(error.details).toEqual({ line: 'share' });
  });

  it('prints only a whole share', () => {
    for (const bad of [{ index: 4 }, { index: 0 }, { value: share.value.subarray(1) }, { backupId: 'x' }]) {
      expect(refusal(() => encodeShareText({ ...share, ...bad })).code).toBe('SHARE_FORMAT_INVALID');
    }
  });
});

import { cpSync, mkdirSync, mkdtempSync, rmSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { buildHash, runningCodeRoots } from '../../../electron/core/build-hash.nodejs';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mkm-build-hash-'));
  made.push(dir);
  mkdirSync(join(dir, 'chunks'));
  writeFileSync(join(dir, 'mkm.mjs'), 'export const main = 1;\n');
  writeFileSync(join(dir, 'chunks', 'a.mjs'), 'export const a = 2;\n');
  return dir;
}

describe('the build hash people compare aloud', () => {
  it('is the same for the same files wherever they sit', () => {
    const a = tree();
    const b = mkdtempSync(join(tmpdir(), 'mkm-build-hash-copy-'));
    made.push(b);
    cpSync(a, b, { recursive: true });
    expect(buildHash([b])).toBe(buildHash([a]));
    expect(buildHash([a])).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with one byte of any file, and with a file renamed', () => {
    const dir = tree();
    const before = buildHash([dir]);
    writeFileSync(join(dir, 'chunks', 'a.mjs'), 'export const a = 3;\n');
    const changed = buildHash([dir]);
    expect(changed).not.toBe(before);
    renameSync(join(dir, 'chunks', 'a.mjs'), join(dir, 'chunks', 'b.mjs'));
    expect(buildHash([dir])).not.toBe(changed);
  });

  it('refuses a folder it cannot read rather than hashing less', () => {
    expect(() => buildHash([join(tmpdir(), 'no-such-mkm-build')])).toThrow(
      expect.objectContaining({ code: 'IO_ERROR' }),
    );
  });

  it('hashes the bundle that runs, or the sources when run from them', () => {
    expect(runningCodeRoots(pathToFileURL('/opt/mkm/dist-cli/chunk-x.mjs').href)).toEqual([
      '/opt/mkm/dist-cli',
    ]);
    const sources = runningCodeRoots(pathToFileURL('/repo/electron/core/build-hash.nodejs.ts').href);
    expect(sources).toEqual(['/repo/electron', '/repo/shared', '/repo/renderer/src']);
  });
});

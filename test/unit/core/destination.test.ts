import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkDestination,
  chooseDestination,
  FileHandles,
  safeName,
  UPLOAD_MAX_BYTES,
  type FileDialogs,
} from '../../../electron/core/destination.nodejs';
import type { SenderInfo } from '../../../electron/core/registry.nodejs';

/**
 * Where main writes what a user asked for (issue 10, point 5): never in the data folder (nor
 * through a symlink or `..` into it), never over a file without a confirmation, and a page never
 * names the path. Real folders, files and symlinks in a temp dir; the dialogs are a fake seam.
 */
let base: string;
let dataDir: string;
let out: string;

const code = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'mkm-dest-'));
  dataDir = join(base, 'data');
  out = join(base, 'out');
  mkdirSync(join(dataDir, 'audit'), { recursive: true });
  mkdirSync(out);
  writeFileSync(join(dataDir, 'audit', 'audit.log'), 'the log');
  writeFileSync(join(out, 'existing.json'), 'keep me');
  symlinkSync(dataDir, join(out, 'data-link'));
  symlinkSync(join(dataDir, 'audit', 'audit.log'), join(out, 'log-link.json'));
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('checkDestination', () => {
  it('accepts a new file outside the data folder', () => {
    expect(checkDestination(join(out, 'new.json'), { dataDir, overwrite: false })).toBe(
      join(out, 'new.json'),
    );
  });

  it.each([
    ['the data folder itself', () => join(dataDir, 'bundle.json')],
    ['a folder inside it', () => join(dataDir, 'audit', 'audit.log')],
    ['a path with .. into it', () => join(out, '..', 'data', 'x.json')],
    ['a symlinked folder into it', () => join(out, 'data-link', 'x.json')],
    ['a symlink to a file in it, even confirmed', () => join(out, 'log-link.json')],
  ])('refuses %s with DESTINATION_IN_DATA_FOLDER', (_label, path) => {
    expect(code(() => checkDestination(path(), { dataDir, overwrite: true }))).toBe(
      'DESTINATION_IN_DATA_FOLDER',
    );
  });

  it('refuses an existing file unless replacing it was confirmed', () => {
    const existing = join(out, 'existing.json');
    expect(code(() => checkDestination(existing, { dataDir, overwrite: false }))).toBe('DESTINATION_EXISTS');
    expect(checkDestination(existing, { dataDir, overwrite: true })).toBe(existing);
    expect(readFileSync(existing, 'utf8')).toBe('keep me');
  });

  it('refuses a relative path and a missing folder', () => {
    expect(code(() => checkDestination('bundle.json', { dataDir, overwrite: false }))).toBe('VALIDATION');
    expect(code(() => checkDestination(join(out, 'nope', 'x.json'), { dataDir, overwrite: false }))).toBe(
      'NOT_FOUND',
    );
  });
});

describe('chooseDestination', () => {
  const cli: SenderInfo = { transport: 'cli' };
  const page: SenderInfo = { transport: 'websocket', origin: 'http://127.0.0.1:1', authenticated: true };
  const options = (dialogs?: FileDialogs) => ({
    dataDir,
    dialogs,
    title: 't',
    defaultName: 'x.json',
    purpose: 'support-bundle' as const,
  });
  const saving = (path: string | null): FileDialogs => ({ open: async () => null, save: async () => path });
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: { code?: string }) => e.code,
    );

  it('takes the CLI’s path, checked', async () => {
    await expect(chooseDestination(cli, { outPath: join(out, 'a.json') }, options())).resolves.toEqual({
      path: join(out, 'a.json'),
      overwrite: false,
    });
    expect(await codeOf(chooseDestination(cli, { outPath: join(dataDir, 'a.json') }, options()))).toBe(
      'DESTINATION_IN_DATA_FOLDER',
    );
  });

  it('never takes a path from a page', async () => {
    expect(
      await codeOf(chooseDestination(page, { outPath: join(out, 'a.json') }, options(saving(null)))),
    ).toBe('PATH_NOT_ALLOWED');
    expect(await codeOf(chooseDestination(page, { overwrite: true }, options(saving(null))))).toBe(
      'PATH_NOT_ALLOWED',
    );
  });

  it('asks main’s dialog for a page, and says when there is none', async () => {
    expect(await codeOf(chooseDestination(page, {}, options()))).toBe('PICKER_UNAVAILABLE');
    await expect(chooseDestination(page, {}, options(saving(null)))).resolves.toBeNull();
    await expect(chooseDestination(page, {}, options(saving(join(out, 'existing.json'))))).resolves.toEqual({
      path: join(out, 'existing.json'),
      overwrite: true,
    });
    expect(await codeOf(chooseDestination(page, {}, options(saving(join(dataDir, 'x.json')))))).toBe(
      'DESTINATION_IN_DATA_FOLDER',
    );
  });
});

describe('FileHandles', () => {
  it('holds an upload in memory, bounded, once', () => {
    const files = new FileHandles();
    const held = files.holdUpload('../../etc/cards.csv', Buffer.from('number\n4111111111111111\n'));
    expect(held).toMatchObject({ name: 'cards.csv', path: null, bytes: 24 });
    expect(files.take(held.id, 'input').data!.toString()).toContain('number');
    expect(code(() => files.take(held.id, 'input'))).toBe('FILE_HANDLE_UNKNOWN');
    expect(code(() => files.holdUpload('big.csv', Buffer.alloc(UPLOAD_MAX_BYTES + 1)))).toBe(
      'UPLOAD_TOO_LARGE',
    );
    files.close();
  });

  it('gives a download only once, by its own kind', () => {
    const files = new FileHandles();
    const target = files.downloadTarget('out.csv');
    writeFileSync(target.path, 'row,status\n');
    const held = files.holdDownload(target);
    expect(code(() => files.take(held.id, 'input'))).toBe('FILE_HANDLE_UNKNOWN');
    expect(files.take(held.id, 'download').path).toBe(target.path);
    expect(code(() => files.take(held.id, 'download'))).toBe('FILE_HANDLE_UNKNOWN');
    files.close();
  });

  it('names files without folders or control characters', () => {
    expect(safeName('..\\..\\x\u0007.csv')).toBe('x.csv');
    expect(safeName('..')).toBe('file');
  });
});

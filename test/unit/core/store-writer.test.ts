import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../electron/core/logger.nodejs';
import { DEFAULT_SETTINGS, openStore, STORE_NAME } from '../../../electron/core/store.nodejs';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function freshFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'mkm-store-writer-'));
  folders.push(folder);
  return folder;
}

describe('the settings store writer', () => {
  it('writes the whole file, with the owner alone able to read it', () => {
    const folder = freshFolder();
    const { store } = openStore(folder, silentLogger);
    store.set('settings', { ...DEFAULT_SETTINGS, idleLogoutMinutes: 7 });
    const onDisk = JSON.parse(readFileSync(join(folder, `${STORE_NAME}.json`), 'utf8')) as {
      settings: { idleLogoutMinutes: number };
    };
    expect(onDisk.settings.idleLogoutMinutes).toBe(7);
    expect(statSync(join(folder, `${STORE_NAME}.json`)).mode & 0o777).toBe(0o600);
  });

  // A failed write must leave the folder as it was by the time the error is heard: conf's own
  // writer hands the removal of its temp file to libuv's thread pool, so while that pool is busy
  // (main does its async crypto and file work there) the temp file outlives the error, and a
  // crash in between leaves it for good. CI saw exactly that after a full disk.
  it('leaves no temp file behind when a write fails part-way, even while the thread pool is busy', () => {
    const folder = freshFolder();
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'store-write-fails.ts'), folder],
      {
        encoding: 'utf8',
      },
    );
    expect(child.stderr).toBe('');
    const seen = JSON.parse(child.stdout) as { code: string; files: string[] };
    expect(seen.code).toBe('EFBIG');
    expect(seen.files).toEqual([`${STORE_NAME}.json`, `${STORE_NAME}.last-good.json`]);
  });
});

import { randomUUID } from 'node:crypto';
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MkmError } from '../../shared/errors.std';
import { oneLine, processRole } from '../core/process-role.nodejs';
import { LOCK_FILE } from './record.nodejs';

/**
 * One writer per audit folder: two writers would fork the chain, and the desktop app, browser
 * mode and the CLI share the data folder. The lock file holds the writer's pid and its mtime
 * is refreshed as a heartbeat. A lock counts as held only if that pid is alive AND the
 * heartbeat is recent: after a crash the pid may be reused by an unrelated process, and the
 * app must not be locked out of its own audit log for good.
 */
export const LOCK_STALE_MS = 60_000;
const HEARTBEAT_MS = 15_000;

export interface AuditLock {
  readonly path: string;
  /**
   * Whether the lock file is still this holder's. False after another process took it over
   * as stale (e.g. this one was suspended with the laptop for longer than LOCK_STALE_MS).
   */
  stillHeld(): Promise<boolean>;
  release(): Promise<void>;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid holding a live lock on this folder, or null. */
export async function lockHolder(dir: string, now = Date.now()): Promise<number | null> {
  return (await lockHolderInfo(dir, now))?.pid ?? null;
}

/** Who holds a live lock on this folder (pid, and what that process is when it said), or null. */
export async function lockHolderInfo(
  dir: string,
  now = Date.now(),
): Promise<{ pid: number; role: string | null } | null> {
  const path = join(dir, LOCK_FILE);
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const pid = Number.parseInt(text, 10);
    if (!Number.isSafeInteger(pid) || pid <= 0) return null;
    const fresh = now - info.mtimeMs < LOCK_STALE_MS;
    if (!fresh || !(pid === process.pid || pidAlive(pid))) return null;
    // Line 3 (written since issue 15): the holder's role; older locks have none.
    return { pid, role: oneLine(text.split('\n')[2] ?? '') || null };
  } catch {
    return null;
  }
}

export async function acquireLock(dir: string): Promise<AuditLock> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    const content = `${process.pid}\n${randomUUID()}\n${processRole()}\n`;
    try {
      await writeFile(path, content, { flag: 'wx', mode: 0o600 });
      const timer = setInterval(() => {
        const now = new Date();
        utimes(path, now, now).catch(() => undefined);
      }, HEARTBEAT_MS);
      timer.unref();
      const stillHeld = async () => (await readFile(path, 'utf8').catch(() => '')) === content;
      return {
        path,
        stillHeld,
        release: async () => {
          clearInterval(timer);
          // Never delete a lock another process has taken over.
          if (await stillHeld()) await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new MkmError('IO_ERROR', undefined, { file: LOCK_FILE });
      }
    }
    const holder = await lockHolderInfo(dir);
    if (holder !== null) {
      throw new MkmError(
        'CONFLICT',
        'The audit log is already open in another Merchant Key Manager process.',
        {
          pid: holder.pid,
          ...(holder.role ? { holder: holder.role } : {}),
          retryAfterMs: LOCK_STALE_MS,
        },
      );
    }
    // The holder died, or stopped its heartbeat long ago: the lock is stale.
    await rm(path, { force: true });
  }
  throw new MkmError('CONFLICT', 'The audit log is already open in another Merchant Key Manager process.');
}

import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { redact } from '../../shared/redact.std';
import { readLines } from './line-reader.nodejs';
import { acquireLock } from './lock.nodejs';
import { GENESIS, LOG_FILE, STATE_FILE, sha256Hex } from './record.nodejs';

/** What AuditLog.quarantine leaves for the next open: where the old log went and its head. */
export interface QuarantineNote {
  movedTo: string;
  reason: string;
  /** The old log's last complete line (its seq and SHA-256) and the SHA-256 of the whole file. */
  head?: { seq: number; hash: string; lines: number; fileSha256: string };
}

const QUARANTINE_NOTE = 'audit.quarantine.json';

/**
 * The way out of AUDIT_TAMPERED: moves the damaged log, its state and any torn-line copies
 * into quarantine-<time>/ untouched (evidence for the assessor), so the next open starts a
 * new chain whose audit.start names the folder and the reason. An admin decision, never
 * automatic; refuses while another process holds the log.
 */
export async function quarantineLog(
  dir: string,
  reason: string,
  clock: () => Date = () => new Date(),
): Promise<string> {
  const lock = await acquireLock(dir);
  try {
    // The random part starts with a letter: eight random hex digits that happen to be all
    // decimal would read as a card number to the redaction of the entry that names the folder.
    const movedTo = `quarantine-${clock().toISOString().replace(/[:.]/g, '-')}-r${randomUUID().slice(0, 8)}`;
    // The old head goes into the new segment's first entry, so the two stay tied together.
    const head = await logHead(join(dir, LOG_FILE));
    await mkdir(join(dir, movedTo), { mode: 0o700 });
    for (const name of await readdir(dir)) {
      if (name === LOG_FILE || name === STATE_FILE || name.startsWith('audit.torn-')) {
        await rename(join(dir, name), join(dir, movedTo, name));
      }
    }
    const note: QuarantineNote = {
      movedTo,
      reason: String(redact(reason)).slice(0, 500),
      ...(head ? { head } : {}),
    };
    await writeFile(join(dir, QUARANTINE_NOTE), JSON.stringify(note) + '\n', { mode: 0o600 });
    await syncDir(dir);
    return movedTo;
  } finally {
    await lock.release();
  }
}

export async function takeQuarantineNote(dir: string): Promise<QuarantineNote | undefined> {
  const path = join(dir, QUARANTINE_NOTE);
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return undefined;
  await rm(path, { force: true });
  try {
    const note = JSON.parse(text) as { movedTo?: unknown; reason?: unknown; head?: unknown };
    const h = note.head as QuarantineNote['head'] | undefined;
    const head =
      h &&
      Number.isSafeInteger(h.seq) &&
      Number.isSafeInteger(h.lines) &&
      /^[0-9a-f]{64}$/.test(String(h.hash)) &&
      /^[0-9a-f]{64}$/.test(String(h.fileSha256))
        ? { seq: h.seq, lines: h.lines, hash: h.hash, fileSha256: h.fileSha256 }
        : undefined;
    return { movedTo: String(note.movedTo), reason: String(note.reason), ...(head ? { head } : {}) };
  } catch {
    return { movedTo: 'unknown', reason: 'the quarantine note was unreadable' };
  }
}

/**
 * The last complete line of a log (its seq as written, its SHA-256) and the SHA-256 of the whole
 * file, read as it is, damaged or not; null when there is no log.
 */
async function logHead(logPath: string): Promise<QuarantineNote['head'] | null> {
  if (!existsSync(logPath)) return null;
  // What is there may not even be a file; it is moved aside all the same.
  return readHead(logPath).catch(() => null);
}

async function readHead(logPath: string): Promise<NonNullable<QuarantineNote['head']>> {
  const file = createHash('sha256');
  let hash = GENESIS;
  let seq = 0;
  let lines = 0;
  await readLines(logPath, {
    onLine(line) {
      lines++;
      hash = sha256Hex(line);
      const m = /^\{"v":1,"seq":(\d{1,15}),/.exec(line.subarray(0, 40).toString('latin1'));
      seq = m ? Number(m[1]) : 0;
    },
  });
  const fh = await open(logPath, 'r');
  try {
    for await (const chunk of fh.createReadStream()) file.update(chunk as Buffer);
  } finally {
    await fh.close().catch(() => undefined);
  }
  return { seq, hash, lines, fileSha256: file.digest('hex') };
}

/** Makes the new directory entries durable; not possible on Windows, where it is not needed. */
export async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

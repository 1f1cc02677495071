import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { redact } from '../../shared/redact.std';
import { writeFileAtomic } from '../core/atomic-file.nodejs';
import type { AuditAppend } from './audit-log.nodejs';
import { isPlainObject } from './record.nodejs';

/**
 * Entries of a process that could only read the audit log (another process held it: the CLI
 * reading while the app is open). What such a process may still do (log in, log out, verify)
 * is recorded all the same: at its end its entries go into `<audit>/handoff/`, one file per
 * process, and the log's holder appends them (naming the pid and role they came from) the next
 * time it takes an entry, when it opens, and before it closes. Details are redacted before they
 * reach the disk, as the log's own writer does.
 */
export const HANDOFF_DIR = 'handoff';

interface HandOffFile {
  v: 1;
  pid: number;
  role: string;
  entries: AuditAppend[];
}

/** Writes `entries` for the holder to take; never throws (the log says what it could not do). */
export function handOff(auditDir: string, role: string, entries: AuditAppend[]): string | null {
  if (entries.length === 0) return null;
  const dir = join(auditDir, HANDOFF_DIR);
  const file = join(dir, `${process.pid}-${randomUUID()}.json`);
  const body: HandOffFile = {
    v: 1,
    pid: process.pid,
    role,
    entries: entries.map((e) => ({
      ...e,
      ...(e.details ? { details: redact(e.details) as Record<string, unknown> } : {}),
    })),
  };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(file, JSON.stringify(body) + '\n');
  return file;
}

/**
 * The entries handed off so far, each marked with the process it came from; `done` removes
 * their files once the caller appended them. A file that does not parse is left for an admin.
 */
export function takeHandOffs(auditDir: string): { entries: AuditAppend[]; done: () => void } {
  const dir = join(auditDir, HANDOFF_DIR);
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => n.endsWith('.json'))
      .sort();
  } catch {
    return { entries: [], done: () => undefined };
  }
  const entries: AuditAppend[] = [];
  const taken: string[] = [];
  for (const name of names) {
    try {
      const raw: unknown = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      if (!isPlainObject(raw) || raw.v !== 1 || !Array.isArray(raw.entries)) continue;
      const from = { pid: Number(raw.pid) || null, role: typeof raw.role === 'string' ? raw.role : null };
      for (const e of raw.entries as unknown[]) {
        if (!isPlainObject(e) || typeof e.action !== 'string' || typeof e.result !== 'string') continue;
        const entry = e as unknown as AuditAppend;
        entries.push({ ...entry, details: { ...(entry.details ?? {}), handedOffBy: from } });
      }
      taken.push(name);
    } catch {
      // unreadable or half-written: left where it is
    }
  }
  return {
    entries,
    done: () => {
      for (const name of taken) rmSync(join(dir, name), { force: true });
    },
  };
}

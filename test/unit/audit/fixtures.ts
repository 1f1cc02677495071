import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { AuditLog, LOG_FILE, STATE_FILE } from '../../../electron/audit/audit-log.nodejs';
import type { AuditOpenOptions, AuditSealer } from '../../../electron/audit/audit-log.nodejs';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mkm-audit-'));
  dirs.push(d);
  return join(d, 'audit');
}

export const ACTOR = { osUser: 'alice', token: { serial: '8f3b2c1d9e0a4b5c', label: 'merchant-a' } };

/** A fixed clock that ticks one second per reading, so times are distinct and predictable. */
export function tickingClock(start = Date.parse('2026-01-01T00:00:00.000Z')): () => Date {
  let t = start;
  return () => new Date((t += 1000));
}

export function openLog(dir: string, sealer: AuditSealer | null, extra: Partial<AuditOpenOptions> = {}) {
  return AuditLog.open({ dir, actor: ACTOR, sealer, durable: false, flushMs: 2, ...extra });
}

/** A closed log: audit.start, `count` key.use entries (sealed every 5), audit.stop, final seal. */
export async function writeSampleLog(dir: string, sealer: AuditSealer | null, count = 20): Promise<void> {
  const log = await openLog(dir, sealer, { sealEvery: { entries: 5, ms: 60_000 } });
  for (let i = 0; i < count; i++) {
    log.append({ action: 'key.use', result: 'ok', key: { id: 'ab01', kcv: 'a1b2c3' }, details: { i } });
    if (i % 5 === 4) await log.seal();
  }
  await log.close();
}

export function logLines(dir: string): string[] {
  const text = readFileSync(join(dir, LOG_FILE), 'utf8');
  return text.split('\n').slice(0, -1);
}

export function writeLogLines(dir: string, lines: string[], trailing = '\n'): void {
  writeFileSync(join(dir, LOG_FILE), lines.join('\n') + (lines.length ? trailing : ''));
}

export const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** What an attacker without the key can do: fix every prev link from `from` (0-based) on. */
export function relink(lines: string[], from: number): string[] {
  const out = [...lines];
  for (let i = Math.max(1, from); i < out.length; i++) {
    const record = JSON.parse(out[i]!) as Record<string, unknown>;
    record.prev = sha256(out[i - 1]!);
    out[i] = JSON.stringify(record);
  }
  return out;
}

export function readStateFile(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as Record<string, unknown>;
}

export function writeStateFile(dir: string, state: unknown): void {
  writeFileSync(join(dir, STATE_FILE), JSON.stringify(state) + '\n');
}

/** Makes the state agree with the (edited) log, as an attacker who edits both would. */
export function restate(dir: string, lines: string[], closed = true): void {
  const state = readStateFile(dir) as { written: Record<string, unknown>; sealed: unknown; closed: boolean };
  const last = lines[lines.length - 1]!;
  const end = Buffer.byteLength(lines.join('\n') + '\n');
  state.written = {
    seq: (JSON.parse(last) as { seq: number }).seq,
    hash: sha256(last),
    offset: end - Buffer.byteLength(last) - 1,
    end,
  };
  state.closed = closed;
  writeStateFile(dir, state);
}

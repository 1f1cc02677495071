import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog, queryAuditLog, verifyAuditLog } from '../../../electron/audit/audit-log.nodejs';
import { HmacSealer } from '../../../electron/audit/software-sealer.nodejs';

const root = mkdtempSync(join(tmpdir(), 'mkm-audit-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs the writer in its own process and kills it -9 once it has confirmed `atLeast` entries. */
async function killMidWrite(dir: string, key: Buffer, atLeast: number): Promise<number> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'crash-child.ts'), dir, key.toString('hex')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let durable = 0;
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) durable = Math.max(durable, Number(line.split(' ')[1]));
      if (durable >= atLeast && child.exitCode === null) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited (${code}) before it was killed: ${stderr}`));
    });
  });
  await new Promise((r) =>
    child.exitCode !== null || child.signalCode !== null ? r(null) : child.on('exit', r),
  );
  return durable;
}

describe('audit log across a real crash (SIGKILL mid-write)', () => {
  it('keeps every entry confirmed durable, reports the tail precisely, and recovers on the next open', async () => {
    const key = randomBytes(32);
    const sealer = new HmacSealer({ key, id: 'a0d170' });
    const dir = join(root, 'audit');
    const durable = await killMidWrite(dir, key, 3000);

    // Before recovery: no edit, no gap; at most an unfinished last line and an unsealed tail.
    const before = await verifyAuditLog({ dir, sealer });
    // `durable` is a seq: every line up to it was confirmed on disk before the kill.
    expect(before.lines).toBeGreaterThanOrEqual(durable);
    if (!before.ok) expect(before.firstBad?.kind).toBe('torn');
    expect(before.sealsVerified).toBe(true);
    expect(before.sealedThrough).toBeGreaterThan(0);

    const log = await AuditLog.open({ dir, actor: { osUser: 'admin', token: null }, sealer });
    expect(log.openReport.cleanShutdown).toBe(false);
    await log.close();

    const after = await verifyAuditLog({ dir, sealer });
    expect(after).toMatchObject({ ok: true, unsealed: 0, sealsVerified: true });
    const { entries } = await queryAuditLog({ dir, filter: { action: 'key.use' } });
    // Every entry the writer was told is durable survived, in order, with nothing in between lost.
    expect(entries.some((e) => e.seq >= durable - 1)).toBe(true);
    expect(entries.map((e) => (e.details as { i: number }).i)).toEqual(entries.map((_, k) => k));
    const start = (await queryAuditLog({ dir, filter: { action: 'audit.start' }, newestFirst: true }))
      .entries[0]!;
    expect(start.details).toMatchObject({ cleanShutdown: false });
  });
});

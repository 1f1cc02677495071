import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryAuditLog } from '../../../electron/audit/query.nodejs';
import type { App } from '../../../electron/core/app.nodejs';
import type { Envelope } from '../../../shared/contract-kit.std';
import type { AuditRecoverView, AuditVerifyReport } from '../../../shared/contract/audit.std';
import type { MkmErrorShape } from '../../../shared/errors.std';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { openApp as openAppOn } from '../../helpers/app';

/**
 * The audit trail fails closed: a log that cannot be opened, was tampered with, is behind the
 * head the token keeps, or cannot be written refuses every call that must be recorded
 * (AUDIT_UNAVAILABLE), and `audit.recover` is the way out: the bad log is moved aside untouched
 * and the new one names it and its last entry. Real SoftHSM2 token, the app as main builds it.
 */
let token: SoftHsmToken;
const roots: string[] = [];

beforeAll(() => {
  token = createSoftHsmToken({ label: 'audit-closed' });
});
afterAll(() => {
  token?.cleanup();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mkm-audit-closed-'));
  roots.push(dir);
  return dir;
}

function openApp(dir: string): App {
  return openAppOn(dir, token.modulePath);
}

async function call<R = unknown>(app: App, channel: string, request?: unknown): Promise<Envelope<R>> {
  return (await app.registry.dispatch(channel, request, { transport: 'cli' })) as Envelope<R>;
}

async function ok<R = unknown>(app: App, channel: string, request?: unknown): Promise<R> {
  const envelope = await call<R>(app, channel, request);
  if (!envelope.ok) throw new Error(`${channel}: ${envelope.error.code} ${envelope.error.message}`);
  return envelope.result;
}

async function refused(app: App, channel: string, request?: unknown): Promise<MkmErrorShape> {
  const envelope = await call(app, channel, request);
  if (envelope.ok) throw new Error(`${channel} was not refused`);
  return envelope.error;
}

/** Logs in and waits until the audit trail has checked the token's head and attached its key. */
async function login(app: App): Promise<void> {
  await ok(app, 'tokens.login', { slotId: token.slotId, pin: token.userPin });
  await app.audit.verify();
}

const generate = (label: string) => ({ slotId: token.slotId, type: 'aes-256', label, purpose: 'data' });

async function labels(app: App): Promise<string[]> {
  return (await ok<{ label: string }[]>(app, 'keys.list', { slotId: token.slotId })).map((o) => o.label);
}

/** One run of the app that logs in, makes a key and closes (which seals and moves the token head). */
async function sealedRun(dir: string, label: string): Promise<void> {
  const app = openApp(dir);
  await login(app);
  await ok(app, 'keys.generate', generate(label));
  await app.close();
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function lastLine(file: string): { seq: number; hash: string } {
  const lines = readFileSync(file).toString('utf8').split('\n').filter(Boolean);
  const line = lines[lines.length - 1]!;
  return { seq: (JSON.parse(line) as { seq: number }).seq, hash: sha256(Buffer.from(line, 'utf8')) };
}

describe('a tampered audit log', () => {
  it('refuses every audited call with AUDIT_UNAVAILABLE until it is recovered, then records the quarantine and the old head', async () => {
    const dir = dataDir();
    const audit = join(dir, 'audit');
    await sealedRun(dir, 'before');

    // Cut the last two lines: the state file records more than the log holds.
    const file = join(audit, 'audit.log');
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    writeFileSync(file, lines.slice(0, -2).join('\n') + '\n');
    const damaged = readFileSync(file);
    const head = lastLine(file);

    const app = openApp(dir);
    try {
      await app.audit.ready();
      // Logging in is allowed (the way out needs it); doing anything recorded is not.
      await login(app);
      const error = await refused(app, 'keys.generate', generate('while-tampered'));
      expect(error.code).toBe('AUDIT_UNAVAILABLE');
      expect(error.details).toMatchObject({ cause: 'AUDIT_TAMPERED', recover: 'mkm audit recover --yes' });
      expect(error.message).toContain('mkm audit recover --yes');
      // A service that writes its own entries is refused too; a read is not held up.
      expect((await refused(app, 'lifecycle.create', { name: 'k', purpose: 'data' })).code).toBe(
        'AUDIT_UNAVAILABLE',
      );
      expect(await labels(app)).not.toContain('while-tampered');
      expect(app.audit.status()).toMatchObject({ open: false, unavailable: { cause: 'AUDIT_TAMPERED' } });
      const report = await ok<AuditVerifyReport>(app, 'audit.verify');
      expect(report.ok).toBe(false);

      const recovered = await ok<AuditRecoverView>(app, 'audit.recover', { confirm: true });
      expect(recovered.reason).toBe(report.firstBad?.reason);
      expect(recovered.oldHead).toMatchObject({ seq: head.seq, hash: head.hash });
      // The damaged log is kept byte for byte.
      expect(sha256(readFileSync(join(audit, recovered.movedTo, 'audit.log')))).toBe(sha256(damaged));

      await ok(app, 'keys.generate', generate('after'));
      expect(app.audit.status().unavailable).toBeNull();
    } finally {
      await app.close();
    }
    const { entries } = await queryAuditLog({ dir: audit, filter: {}, limit: 100, newestFirst: false });
    expect(entries[0]).toMatchObject({
      action: 'audit.start',
      details: {
        quarantinedTo: expect.stringMatching(/^quarantine-/),
        quarantinedHead: { seq: head.seq, fingerprint: head.hash },
        quarantinedLog: { fingerprint: sha256(damaged) },
      },
    });
    const recover = entries.find((e) => e.action === 'audit.recover');
    expect(recover?.details).toMatchObject({ oldHead: { seq: head.seq, fingerprint: head.hash } });
    expect(entries.some((e) => e.action === 'key.generate' && e.result === 'ok')).toBe(true);
    // The login held while the log was unavailable lands in the new segment.
    expect(entries.filter((e) => e.action === 'token.login').length).toBeGreaterThan(0);
  });

  it('that cannot be opened at all refuses audited calls and recovers the same way', async () => {
    const dir = dataDir();
    mkdirSync(join(dir, 'audit', 'audit.log'), { recursive: true });
    const app = openApp(dir);
    try {
      await app.audit.ready();
      const error = await refused(app, 'settings.update', { theme: 'dark' });
      expect(error.code).toBe('AUDIT_UNAVAILABLE');
      expect(error.details?.recover).toBe('mkm audit recover --yes');
      await ok(app, 'audit.recover', { confirm: true });
      await ok(app, 'settings.update', { theme: 'dark' });
    } finally {
      await app.close();
    }
  });

  it('an intact log is not recovered', async () => {
    const app = openApp(dataDir());
    try {
      expect((await refused(app, 'audit.recover', { confirm: true })).code).toBe('AUDIT_INTACT');
    } finally {
      await app.close();
    }
  });
});

describe('an audit log that cannot be written after it opened', () => {
  it('refuses later audited calls instead of holding their entries in memory, and resumes once it can write', async () => {
    const dir = dataDir();
    let first: Envelope = { ok: false, error: { code: 'INTERNAL', message: '' } };
    const app = openApp(dir);
    try {
      await login(app);
      await ok(app, 'settings.update', { theme: 'dark' });
      // The writer renames a fresh state file into place after every batch: make that fail.
      const blocker = join(dir, 'audit', 'audit.state.json.tmp');
      mkdirSync(blocker);
      // A call may still be let in when nothing was waiting to be written (its entry's write
      // then fails); from the first failed write on, every audited call is refused.
      first = await call(app, 'settings.update', { theme: 'light' });
      const error = await refused(app, 'keys.generate', generate('disk-full'));
      expect(error.code).toBe('AUDIT_UNAVAILABLE');
      // Moving an intact log aside would not help: the admin is told to fix the disk.
      expect(error.details?.recover).toBeNull();
      expect(app.audit.status().unavailable).toMatchObject({ cause: 'IO_ERROR' });
      expect(await labels(app)).not.toContain('disk-full');

      rmdirSync(blocker);
      await ok(app, 'keys.generate', generate('disk-back'));
      const report = await ok<AuditVerifyReport>(app, 'audit.verify');
      expect(report).toMatchObject({ ok: true });
    } finally {
      await app.close();
    }
    const { entries } = await queryAuditLog({ dir: join(dir, 'audit'), filter: {}, limit: 100 });
    // Nothing that ran went unrecorded.
    expect(entries.filter((e) => e.action === 'settings.update')).toHaveLength(first.ok ? 2 : 1);
  });
});

describe("the token's audit head", () => {
  it('catches a log and state file rolled back together, and recovery moves the head onto the new log', async () => {
    const dir = dataDir();
    const audit = join(dir, 'audit');
    await sealedRun(dir, 'first');
    const saved = join(dir, 'saved');
    mkdirSync(saved);
    for (const f of ['audit.log', 'audit.state.json']) copyFileSync(join(audit, f), join(saved, f));

    await sealedRun(dir, 'second');
    // The attacker puts the older log and its state back, consistent with each other.
    for (const f of ['audit.log', 'audit.state.json']) copyFileSync(join(saved, f), join(audit, f));

    let app = openApp(dir);
    try {
      await app.audit.ready();
      await login(app);
      const error = await refused(app, 'keys.generate', generate('after-rollback'));
      expect(error.code).toBe('AUDIT_UNAVAILABLE');
      expect(error.details).toMatchObject({ cause: 'AUDIT_ROLLED_BACK' });
      expect(String(error.details?.reason)).toContain('rolled back');
      const report = await ok<AuditVerifyReport>(app, 'audit.verify');
      expect(report.ok).toBe(false);
      expect(report.firstBad).toMatchObject({ kind: 'rollback' });

      await ok(app, 'audit.recover', { confirm: true });
      await ok(app, 'keys.generate', generate('after-recovery'));
    } finally {
      await app.close();
    }
    // The next login finds the head on the new log.
    app = openApp(dir);
    try {
      await login(app);
      await ok(app, 'keys.generate', generate('next-day'));
      expect(await ok<AuditVerifyReport>(app, 'audit.verify')).toMatchObject({
        ok: true,
        sealsVerified: true,
      });
    } finally {
      await app.close();
    }
  });
});

describe('the audit key', () => {
  it('is pinned in the log, cannot be destroyed, has no second, and older seals verify after it is replaced', async () => {
    const dir = dataDir();
    const app = openApp(dir);
    try {
      await login(app);
      await ok(app, 'keys.generate', generate('sealed-by-old'));
      const objects = await ok<{ id: string; label: string; class: string }[]>(app, 'keys.list', {
        slotId: token.slotId,
      });
      const auditKey = objects.find((o) => o.label === 'mkm-audit-key')!;
      const destroy = await refused(app, 'keys.destroy', {
        slotId: token.slotId,
        id: auditKey.id,
        class: 'secret',
        confirm: true,
      });
      expect(destroy.code).toBe('AUDIT_KEY_PROTECTED');
      expect((await refused(app, 'keys.generate', generate('mkm-audit-key'))).code).toBe(
        'AUDIT_KEY_RESERVED',
      );
      expect(
        (
          await refused(app, 'keys.generate', {
            slotId: token.slotId,
            type: 'hmac-256',
            label: 'x',
            purpose: 'audit',
          })
        ).code,
      ).toBe('AUDIT_KEY_RESERVED');

      const replaced = await ok<{ key: { id: string }; replaced: { id: string } }>(app, 'audit.replaceKey', {
        confirm: true,
      });
      expect(replaced.replaced.id).toBe(auditKey.id.toLowerCase());
      expect(replaced.key.id).not.toBe(replaced.replaced.id);
      await ok(app, 'keys.generate', generate('sealed-by-new'));
      // The replaced key is still pinned, so still protected.
      expect(
        (
          await refused(app, 'keys.destroy', {
            slotId: token.slotId,
            id: auditKey.id,
            class: 'secret',
            confirm: true,
          })
        ).code,
      ).toBe('AUDIT_KEY_PROTECTED');
      const report = await ok<AuditVerifyReport>(app, 'audit.verify');
      expect(report).toMatchObject({ ok: true, sealsVerified: true });
    } finally {
      await app.close();
    }
    const { entries } = await queryAuditLog({ dir: join(dir, 'audit'), filter: {}, limit: 500 });
    const pins = entries.filter((e) => e.action === 'audit.key.generate' || e.action === 'audit.key.pin');
    expect(pins.map((e) => e.key?.kcv)).toEqual([expect.stringMatching(/^[0-9a-f]{6}$/), expect.any(String)]);
    // Seals by both keys are in the log and a fresh process verifies them all with the token.
    const log = readFileSync(join(dir, 'audit', 'audit.log'), 'utf8');
    const sealKeys = new Set(
      log
        .split('\n')
        .filter((l) => l.includes('"type":"seal"'))
        .map((l) => (JSON.parse(l) as { sealKey: { id: string } }).sealKey.id),
    );
    expect(sealKeys.size).toBe(2);
    const again = openApp(dir);
    try {
      await login(again);
      expect(await ok<AuditVerifyReport>(again, 'audit.verify')).toMatchObject({
        ok: true,
        sealsVerified: true,
      });
    } finally {
      await again.close();
    }
  });
});

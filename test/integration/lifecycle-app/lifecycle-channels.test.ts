import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../electron/core/app.nodejs';
import type { Envelope } from '../../../shared/contract-kit.std';
import type { LifecycleVersionView } from '../../../shared/contract.std';
import type { LifecycleReconcileReport } from '../../../shared/contract/lifecycle.std';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { openApp } from '../../helpers/app';

/**
 * The lifecycle channels through the app's registry (the door every transport uses), on a real
 * SoftHSM2 token: reconcile and adopt an unmanaged key, destroy a replaced version only once it
 * is no longer active and its label is typed again, and one process at a time on the inventory.
 */
const root = join(import.meta.dirname, '../../..');
const run = promisify(execFile);
let token: SoftHsmToken;
let dataDir: string;
let app: App;

const call = (channel: string, request?: unknown): Promise<Envelope> =>
  app.registry.dispatch(channel, request, { transport: 'cli' });

async function ok<T>(channel: string, request?: unknown): Promise<T> {
  const envelope = await call(channel, request);
  if (!envelope.ok) throw new Error(`${channel}: ${envelope.error.code} ${envelope.error.message}`);
  return envelope.result as T;
}

async function code(channel: string, request?: unknown): Promise<string> {
  const envelope = await call(channel, request);
  return envelope.ok ? 'ok' : envelope.error.code;
}

beforeAll(() => {
  token = createSoftHsmToken({ label: 'keys-app-ch' });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-keys-app-ch-'));
  app = openApp(dataDir, token.modulePath);
});
afterAll(async () => {
  await app?.close();
  token?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('lifecycle channels', () => {
  it('lists nothing before any key is managed, and needs a login to create one', async () => {
    expect(await ok('lifecycle.list', {})).toEqual([]);
    expect(await code('lifecycle.create', { name: 'k', purpose: 'data' })).toBe('NOT_LOGGED_IN');
    await ok('tokens.login', { slotId: token.slotId, pin: token.userPin });
  });

  it('finds an unmanaged token key by reconcile and adopts it as an active primary', async () => {
    const generated = await ok<{ id: string }>('keys.generate', {
      slotId: token.slotId,
      type: 'aes-256',
      label: 'legacy-data',
      purpose: 'data',
    });
    const report = await ok<LifecycleReconcileReport>('lifecycle.reconcile', {});
    expect(report.tokenSerial).toBe(token.serial);
    expect(report.unmanaged.map((o) => o.ckaId)).toContain(generated.id);
    expect(report.missing).toEqual([]);

    const adopted = await ok<LifecycleVersionView>('lifecycle.adopt', {
      ckaId: generated.id,
      purpose: 'data',
      name: 'legacy',
    });
    expect(adopted).toMatchObject({ ckaId: generated.id, origin: 'adopted', state: 'active', primary: true });
    const again = await ok<LifecycleReconcileReport>('lifecycle.reconcile', { slotId: token.slotId });
    expect(again.unmanaged.map((o) => o.ckaId)).not.toContain(generated.id);
    expect(await code('lifecycle.adopt', { ckaId: generated.id, purpose: 'data' })).toBe('CONFLICT');
  });

  it('destroys a replaced version only after it stops being active, with its label typed again', async () => {
    const created = await ok<{ version: LifecycleVersionView }>('lifecycle.create', {
      name: 'tags',
      purpose: 'hmac',
    });
    const v1 = created.version;
    expect(v1.fingerprint).toMatchObject({ kind: 'kcv', method: 'hmac' });
    const rotated = await ok<{ version: LifecycleVersionView }>('lifecycle.rotate', {
      ref: v1.logicalKeyId,
    });
    expect(rotated.version).toMatchObject({ version: 2, primary: true });

    // Still active (in its grace period): SP 800-57 wants it deactivated or compromised first.
    expect(await code('lifecycle.destroy', { versionId: v1.id, confirm: true, confirmLabel: v1.label })).toBe(
      'CONFLICT',
    );
    await ok('lifecycle.compromise', { versionId: v1.id, note: 'test' });
    expect(await code('lifecycle.destroy', { versionId: v1.id, confirmLabel: v1.label })).toBe('VALIDATION');
    expect(await code('lifecycle.destroy', { versionId: v1.id, confirm: true, confirmLabel: 'tags' })).toBe(
      'CONFIRMATION_REQUIRED',
    );
    const destroyed = await ok<LifecycleVersionView>('lifecycle.destroy', {
      versionId: v1.id,
      confirm: true,
      confirmLabel: v1.label,
    });
    expect(destroyed.state).toBe('destroyed');
    const objects = await ok<{ id: string }[]>('keys.list', { slotId: token.slotId });
    expect(objects.map((o) => o.id)).not.toContain(v1.ckaId);
    expect(objects.map((o) => o.id)).toContain(rotated.version.ckaId);
  });

  it('refuses to destroy a managed key object by object (KEY_MANAGED); unmanaged ones still go', async () => {
    const keys = await ok<{ id: string; versions: LifecycleVersionView[] }[]>('lifecycle.list', {});
    const primary = keys.flatMap((k) => k.versions).find((v) => v.primary && v.ckaId)!;
    const envelope = await call('keys.destroy', {
      slotId: token.slotId,
      id: primary.ckaId,
      class: 'secret',
      confirm: true,
    });
    expect(envelope.ok).toBe(false);
    if (envelope.ok) return;
    expect(envelope.error.code).toBe('KEY_MANAGED');
    expect(envelope.error.message).toContain(`mkm keys destroy-version ${primary.id}`);
    expect(envelope.error.details).toMatchObject({ versionId: primary.id, version: primary.version });
    const objects = await ok<{ id: string }[]>('keys.list', { slotId: token.slotId });
    expect(objects.map((o) => o.id)).toContain(primary.ckaId);

    const stray = await ok<{ id: string }>('keys.generate', {
      slotId: token.slotId,
      type: 'aes-256',
      label: 'stray',
      purpose: 'data',
    });
    expect(
      await ok<{ destroyed: number }>('keys.destroy', {
        slotId: token.slotId,
        id: stray.id,
        class: 'secret',
        confirm: true,
      }),
    ).toMatchObject({ destroyed: 1 });
  });

  it('shows the audit sealing key as a system key, not as an unmanaged one to adopt', async () => {
    // The login attached the audit log, which made its sealing key on the token.
    await app.audit.verify();
    const report = await ok<LifecycleReconcileReport>('lifecycle.reconcile', {});
    const audit = report.system.find((o) => o.kind === 'audit');
    expect(audit).toMatchObject({ label: 'mkm-audit-key', classes: ['secret'] });
    expect(report.unmanaged.map((o) => o.label)).not.toContain('mkm-audit-key');
  });

  it('reports a rotation step by step as progress events under the caller’s operation id', async () => {
    const seen: { operationId: string; phase: string; fraction: number | null }[] = [];
    const off = app.events.subscribe((name, payload) => {
      if (name === 'progress') seen.push(payload as (typeof seen)[number]);
    });
    try {
      await ok('lifecycle.rotate', { ref: 'tags', operationId: 'op-rotate-1' });
    } finally {
      off();
    }
    const mine = seen.filter((p) => p.operationId === 'op-rotate-1');
    expect(mine.map((p) => p.phase)).toEqual(['planned', 'generating', 'promoting', 'done']);
    expect(mine.map((p) => p.fraction)).toEqual([0, 0.25, 0.75, 1]);
  });

  it('deactivates, suspends and reactivates replaced versions, never the primary', async () => {
    const [tags] = await ok<{ versions: LifecycleVersionView[] }[]>('lifecycle.list', {}).then((keys) =>
      keys.filter((k) => (k as unknown as { name: string }).name === 'tags'),
    );
    const primary = tags!.versions.find((v) => v.primary)!;
    const replaced = tags!.versions.find((v) => !v.primary && v.state === 'active')!;
    expect(await code('lifecycle.deactivate', { versionId: primary.id })).toBe('CONFLICT');
    expect(await ok('lifecycle.suspend', { versionId: replaced.id })).toMatchObject({ state: 'suspended' });
    expect(await ok('lifecycle.reactivate', { versionId: replaced.id })).toMatchObject({ state: 'active' });
    expect(await ok('lifecycle.deactivate', { versionId: replaced.id })).toMatchObject({
      state: 'deactivated',
    });
    const policies = await ok<Record<string, { graceDays: number }>>('lifecycle.policies');
    expect(policies.data).toMatchObject({ cryptoPeriodDays: 365, graceDays: 30 });
  });

  it('lets one process at a time manage the keys of a data folder', async () => {
    const mkm = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      run(process.execPath, [join(root, 'bin/mkm.mjs'), '--data-dir', dataDir, ...args], {
        env: { ...process.env, SOFTHSM2_CONF: token.confPath, ...env },
      }).then(
        ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
        (e: { code: number; stdout: string; stderr: string }) => ({
          code: e.code,
          stdout: e.stdout,
          stderr: e.stderr,
        }),
      );
    // Reads answer from the inventory as last written (cli-reads-while-held.test.ts); a change
    // made outside this process is refused with KEYS_BUSY naming the holder (same file).
    const due = await mkm(['--json', 'keys', 'due']);
    expect(due.code, due.stderr).toBe(0);
    expect(JSON.parse(due.stdout)).toHaveProperty('due');
    // With a PIN the CLI would log in first: a login is recorded, and the app holds the audit
    // log, so the CLI stops there (test/integration/core/audit-busy.test.ts).
    const rotate = await mkm(
      ['--module', token.modulePath, '--slot', String(token.slotId), 'rotate', 'tags'],
      {
        MKM_PIN: token.userPin,
      },
    );
    expect(rotate.code).toBe(1);
    expect(rotate.stderr).toContain('AUDIT_BUSY');
    // Commands that do not manage keys never touch the inventory lock.
    expect((await mkm(['status'])).code).toBe(0);
  });
});

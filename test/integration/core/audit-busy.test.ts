import { StateSeals } from '../../../electron/audit/state-seal.nodejs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppAudit } from '../../../electron/audit/app-audit.nodejs';
import { AuditLog } from '../../../electron/audit/audit-log.nodejs';
import { queryAuditLog } from '../../../electron/audit/query.nodejs';
import type { App } from '../../../electron/core/app.nodejs';
import { silentLogger } from '../../../electron/core/logger.nodejs';
import { EventBus } from '../../../electron/core/registry.nodejs';
import { dataPaths } from '../../../electron/core/paths.nodejs';
import { MkmError } from '../../../shared/errors.std';
import { mkmOn } from '../../helpers/mkm-cli';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { openApp } from '../../helpers/app';

/**
 * One audit log per data folder, held by one process. An action that must be recorded is
 * refused (AUDIT_BUSY) in a process that cannot write the log, rather than done and its entry
 * lost when that process ends; the app takes the log back once the other process lets go.
 */
let token: SoftHsmToken;
let dataDir: string;
let app: App;

beforeAll(() => {
  token = createSoftHsmToken({ label: 'audit-busy' });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-audit-busy-'));
  app = openApp(dataDir, token.modulePath);
});
afterAll(async () => {
  await app?.close();
  token?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('an audited action while another process holds the audit log', () => {
  const mkm = mkmOn(() => ({ dataDir, token }));

  it('is refused in the CLI, saying why, and nothing is done on the token', async () => {
    await app.audit.ready();
    const generate = await mkm(
      ['keys', 'generate', '--type', 'aes-256', '--label', 'cli-while-app'],
      token.userPin,
    );
    expect(generate.code).toBe(1);
    expect(generate.stderr).toContain('[AUDIT_BUSY]');
    expect(generate.stderr).toContain('holds open');

    const login = await app.registry.dispatch(
      'tokens.login',
      { slotId: token.slotId, pin: token.userPin },
      { transport: 'cli' },
    );
    expect(login.ok).toBe(true);
    const keys = await app.registry.dispatch('keys.list', { slotId: token.slotId }, { transport: 'cli' });
    expect(keys.ok && (keys.result as { label: string }[]).map((k) => k.label)).not.toContain(
      'cli-while-app',
    );
  });

  it('does not stop the CLI from reading what needs no record', async () => {
    const status = await mkm(['--json', 'status']);
    expect(status.code).toBe(0);
    const tokens = await mkm(['tokens']);
    expect(tokens.code).toBe(0);
    expect(tokens.stdout).toContain('audit-busy');
  });
});

describe('the app, when another process held the log at start', () => {
  it('refuses audited calls while it is held, then takes the log over and writes what it held', async () => {
    const dir = dataPaths(mkdtempSync(join(tmpdir(), 'mkm-audit-late-'))).audit;
    const other = await AuditLog.open({ dir, actor: { osUser: 'other', token: null } });
    let now = Date.parse('2026-12-07T09:00:00Z');
    const audit = new AppAudit({
      dir,
      seals: new StateSeals(),
      logger: silentLogger,
      events: new EventBus(silentLogger),
      clock: () => new Date(now),
    });
    try {
      audit.record({ action: 'app.start', result: 'ok' });
      await audit.ready();
      const refused = await audit.gate('keys.generate').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(MkmError);
      expect((refused as MkmError).code).toBe('AUDIT_BUSY');
      expect((refused as MkmError).details).toMatchObject({ pid: process.pid });
      // Named by pid and role, so the admin knows which window or command to close.
      expect((refused as MkmError).message).toContain(`(pid ${process.pid})`);
      // What a reading process needs (a login, a verify) runs; its entry is handed to the holder.
      await expect(audit.gate('tokens.login')).resolves.toBeUndefined();
      await expect(audit.gate('audit.verify')).resolves.toBeUndefined();
      // A service that writes its own entries (a gateway sync) needs the log as much.
      expect(await audit.gate('gateway.sync').catch((e: MkmError) => e.code)).toBe('AUDIT_BUSY');
      // A call the log does not record is never held up.
      await expect(audit.gate('tokens.list')).resolves.toBeUndefined();
      expect(audit.status()).toMatchObject({ open: false, held: 1 });

      await other.close();
      // The gate tries the lock again at most once a second (on the audit trail's clock).
      now += 999;
      expect(await audit.gate('keys.generate').catch((e: MkmError) => e.code)).toBe('AUDIT_BUSY');
      now += 1;
      await expect(audit.gate('keys.generate')).resolves.toBeUndefined();
      expect(audit.status()).toMatchObject({ open: true, held: 0 });
      audit.record({ action: 'token.login', result: 'ok' });
      await audit.close();
      const { entries } = await queryAuditLog({ dir, filter: {}, limit: 10, newestFirst: false });
      // The log's own open/close entries sit around the app's two, in the order they happened.
      expect(entries.map((e) => e.action).filter((a) => !a.startsWith('audit.'))).toEqual([
        'app.start',
        'token.login',
      ]);
    } finally {
      await other.close().catch(() => {});
      await audit.close().catch(() => {});
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});

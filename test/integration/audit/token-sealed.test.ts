import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, verifyAuditLog } from '../../../electron/audit/audit-log.nodejs';
import { HmacSealer } from '../../../electron/audit/software-sealer.nodejs';
import { createTokenSealer } from '../../../electron/audit/token-sealer.nodejs';
import type { AuditSealer } from '../../../electron/audit/audit-log.nodejs';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { hostTokenService } from '../../helpers/host-token-engine';

/**
 * The audit log sealed by a real token: a non-extractable HMAC key generated on SoftHSM2 with
 * purpose 'audit', reached through TokenEngine.hmacSign as the token layer will wire it.
 */
describe('audit log sealed by an HMAC key on a SoftHSM2 token', () => {
  let hsm: SoftHsmToken;
  let svc: TokenEngine;
  let sealer: AuditSealer;
  const root = mkdtempSync(join(tmpdir(), 'mkm-audit-token-'));
  const actor = () => ({ osUser: 'admin', token: { serial: hsm.serial, label: hsm.label } });

  beforeAll(async () => {
    hsm = createSoftHsmToken({ label: 'audit-test' });
    svc = hostTokenService();
    await svc.loadModule({ path: hsm.modulePath });
    await svc.login({ slotId: hsm.slotId, pin: hsm.userPin });
    const key = await svc.generateKey({
      slotId: hsm.slotId,
      type: 'hmac-256',
      label: 'mkm-audit',
      purpose: 'audit',
    });
    const kcv = key.kcv?.kcv ?? (await svc.kcv({ slotId: hsm.slotId, id: key.id })).kcv;
    expect(key.objects[0]?.extractable).toBe(false);
    sealer = createTokenSealer({
      keyRef: { id: key.id, kcv },
      call: async (_op, keyId, data) => {
        const out: string[] = [];
        for (const d of data) out.push((await svc.hmacSign({ slotId: hsm.slotId, id: keyId, data: d })).mac);
        return out;
      },
    });
  });

  afterAll(async () => {
    await svc.unloadModule();
    hsm.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  it('seals with the token and verifies through the token; a look-alike key is rejected', async () => {
    const dir = join(root, 'sealed');
    const log = await AuditLog.open({ dir, actor: actor(), sealer, sealEvery: { entries: 50, ms: 1000 } });
    for (let i = 0; i < 300; i++) {
      log.append({ action: 'key.use', result: 'ok', key: { id: 'ab01', kcv: 'a1b2c3' }, details: { i } });
      if (i % 60 === 59) await new Promise((r) => setTimeout(r, 5));
    }
    await log.close();
    const report = await verifyAuditLog({ dir, sealer });
    expect(report).toMatchObject({ ok: true, sealsVerified: true, unsealed: 0, entries: 302 });
    expect(report.seals).toBeGreaterThan(1);

    // Someone with a key of their own, claiming the token key's id and KCV, cannot pass.
    const impostor = new HmacSealer({ id: sealer.keyRef.id });
    const claimed: AuditSealer = { keyRef: sealer.keyRef, macBatch: (m) => impostor.macBatch(m) };
    const forged = await verifyAuditLog({ dir, sealer: claimed });
    expect(forged.ok).toBe(false);
    expect(forged.firstBad?.kind).toBe('seal');
  });

  it('keeps logging while the token is logged out and seals the backlog after login', async () => {
    const dir = join(root, 'logout');
    const log = await AuditLog.open({
      dir,
      actor: actor(),
      sealer,
      sealEvery: { entries: 1000, ms: 60_000 },
    });
    log.append({ action: 'token.login', result: 'ok' });
    await log.seal();

    await svc.logout({ slotId: hsm.slotId });
    log.setActor({ token: null });
    for (let i = 0; i < 20; i++) log.append({ action: 'key.list', result: 'NOT_LOGGED_IN' });
    const refused = await log.seal().catch((e: unknown) => e as { code?: string });
    // A logged-out token hides its private objects, so the key is "not found" until login.
    expect(refused).toMatchObject({
      code: expect.stringMatching(/NOT_LOGGED_IN|SESSION_CLOSED|KEY_NOT_FOUND/),
    });
    const whileOut = await log.verify();
    expect(whileOut.sealsVerified).toBe(false); // the token cannot check seals either
    expect(whileOut.unsealed).toBe(20);

    await svc.login({ slotId: hsm.slotId, pin: hsm.userPin });
    log.setActor({ token: { serial: hsm.serial, label: hsm.label } });
    await log.seal();
    await log.close();
    expect(await verifyAuditLog({ dir, sealer })).toMatchObject({
      ok: true,
      sealsVerified: true,
      unsealed: 0,
    });
  });
});

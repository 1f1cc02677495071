import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { queryAuditLog } from '../../../electron/audit/query.nodejs';
import type { App } from '../../../electron/core/app.nodejs';
import type { Envelope } from '../../../shared/contract-kit.std';
import type { AuditStatusView, AuditVerifyReport } from '../../../shared/contract/audit.std';
import { createFaultyModule, faultyModuleAvailable, type FaultyModule } from '../../helpers/faulty-module';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { logLines, relink, restate, writeLogLines } from '../../unit/audit/fixtures';
import { openApp } from '../../helpers/app';

/**
 * Audit seals on what the token has: HMAC-SHA256 where the token makes an HMAC key, else an AES
 * key sealing with AES-CMAC, else an RSA key signing with RSASSA-PSS; and when it can make none,
 * the status and verify say so and why. A real SoftHSM2 token behind the faulty module, which
 * refuses key generation (CKR_MECHANISM_INVALID, 0x70) the way a token lacking the mechanism
 * does: C_GenerateKey makes the HMAC key, then the AES key; C_GenerateKeyPair the RSA key.
 * tpm2-pkcs11, which makes no secret keys at all, is the real token of the last fallback
 * (tokens-tpm2.test.ts).
 */
const available = faultyModuleAvailable();
const MECHANISM_INVALID = '0x70';

describe.skipIf(!available)('audit seals on what the token has', () => {
  let hsm: SoftHsmToken;
  let faulty: FaultyModule;
  const roots: string[] = [];

  const tokens: SoftHsmToken[] = [];

  beforeAll(() => {
    faulty = createFaultyModule();
  });
  // A token per case: each case's audit key is the one carrying the label, as on a new token.
  beforeEach(() => {
    hsm = createSoftHsmToken({ label: 'seal-kinds' });
    tokens.push(hsm);
  });
  afterAll(() => {
    faulty?.cleanup();
    for (const t of tokens) t.cleanup();
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });

  function open(dir: string): App {
    return openApp(dir, faulty.path, { watchSlots: false });
  }
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'mkm-seal-kinds-'));
    roots.push(dir);
    return dir;
  };
  async function ok<R>(app: App, channel: string, request?: unknown): Promise<R> {
    const envelope = (await app.registry.dispatch(channel, request, { transport: 'cli' })) as Envelope<R>;
    if (!envelope.ok) throw new Error(`${channel}: ${envelope.error.code} ${envelope.error.message}`);
    return envelope.result;
  }
  async function login(app: App): Promise<void> {
    await ok(app, 'tokens.login', { slotId: hsm.slotId, pin: hsm.userPin });
    await app.audit.verify();
  }
  const sealLines = (dir: string) =>
    readFileSync(join(dir, 'audit', 'audit.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"type":"seal"'))
      .map((l) => JSON.parse(l) as { sealKey: { id: string; kcv: string; kind?: string }; mac: string });

  /** Logs in with `rules` in force, records something, and checks what sealed it; then again without faults. */
  async function sealsWith(rules: string[], kind: string | undefined, macHex: number[]): Promise<string> {
    const dir = dataDir();
    faulty.control(rules);
    const app = open(dir);
    try {
      await login(app);
      faulty.clear();
      await ok(app, 'keys.generate', {
        slotId: hsm.slotId,
        type: 'aes-256',
        label: `sealed-${kind ?? 'hmac'}-${roots.length}`,
        purpose: 'data',
      });
      const status = await ok<AuditStatusView>(app, 'audit.status');
      expect(status.sealing).toBe(true);
      expect(status.seal).toMatchObject({ kind: kind ?? 'hmac', impossible: null });
      const report = await ok<AuditVerifyReport>(app, 'audit.verify');
      expect(report).toMatchObject({ ok: true, sealsVerified: true });
      expect(report.noSeal).toBeUndefined();
    } finally {
      await app.close();
    }
    const seals = sealLines(dir);
    expect(seals.length).toBeGreaterThan(0);
    for (const seal of seals) {
      expect(seal.sealKey.kind).toBe(kind);
      expect(macHex).toContain(seal.mac.length);
    }
    // A later process, with a token that could now make any key, keeps the kind the log pinned.
    const again = open(dir);
    try {
      await login(again);
      expect((await ok<AuditStatusView>(again, 'audit.status')).seal?.kind).toBe(kind ?? 'hmac');
      expect(await ok<AuditVerifyReport>(again, 'audit.verify')).toMatchObject({
        ok: true,
        sealsVerified: true,
      });
    } finally {
      await again.close();
    }
    return dir;
  }

  it('seals with HMAC-SHA256 where the token makes an HMAC key', async () => {
    await sealsWith([], undefined, [64]);
  });

  it('seals with AES-CMAC when the token refuses an HMAC key, and records why', async () => {
    const dir = await sealsWith([`C_GenerateKey 1 ${MECHANISM_INVALID}`], 'cmac', [32]);
    const { entries } = await queryAuditLog({ dir: join(dir, 'audit'), filter: {}, limit: 500 });
    const made = entries.find((e) => e.action === 'audit.key.generate');
    expect(made?.details).toMatchObject({
      sealKind: 'cmac',
      notPossible: [expect.stringMatching(/^HMAC-SHA256: /)],
    });
  });

  it('seals with an RSASSA-PSS signature when the token makes no secret key', async () => {
    await sealsWith([`C_GenerateKey 1+ ${MECHANISM_INVALID}`], 'rsa-pss', [512]);
  });

  it('a signature seal changed after it was made does not verify', async () => {
    const dir = dataDir();
    faulty.control([`C_GenerateKey 1+ ${MECHANISM_INVALID}`]);
    const app = open(dir);
    try {
      await login(app);
    } finally {
      await app.close();
    }
    faulty.clear();
    const auditDir = join(dir, 'audit');
    const lines = logLines(auditDir);
    const at = lines.findIndex((l) => l.includes('"type":"seal"'));
    const seal = JSON.parse(lines[at]!) as { mac: string; sealKey: { kind?: string } };
    expect(seal.sealKey.kind).toBe('rsa-pss');
    // One bit of the signature flipped, and every link after it fixed, as an attacker without
    // the key can: only the signature check can catch it.
    const flipped = (parseInt(seal.mac[10]!, 16) ^ 1).toString(16);
    lines[at] = lines[at]!.replace(seal.mac, seal.mac.slice(0, 10) + flipped + seal.mac.slice(11));
    const forged = relink(lines, at + 1);
    writeLogLines(auditDir, forged);
    restate(auditDir, forged);
    const again = open(dir);
    try {
      await login(again);
      const report = await again.audit.verify();
      expect(report.ok).toBe(false);
      expect(report.firstBad?.kind, report.firstBad?.reason).toBe('seal');
      expect(report.firstBad?.reason).toMatch(/wrong MAC: it was forged or altered/);
    } finally {
      await again.close();
    }
  });

  it('when the token can make no audit key, the status, verify and the log say so and why', async () => {
    const dir = dataDir();
    faulty.control([`C_GenerateKey 1+ ${MECHANISM_INVALID}`, `C_GenerateKeyPair 1+ ${MECHANISM_INVALID}`]);
    const app = open(dir);
    try {
      await login(app);
      await ok(app, 'keys.list', { slotId: hsm.slotId });
      const status = await ok<AuditStatusView>(app, 'audit.status');
      expect(status.sealing).toBe(false);
      expect(status.seal?.kind).toBeNull();
      expect(status.seal?.impossible).toMatch(/cannot make an audit key of any kind/);
      expect(status.seal?.impossible).toContain('HMAC-SHA256');
      expect(status.seal?.impossible).toContain('AES-CMAC');
      expect(status.seal?.impossible).toContain('RSASSA-PSS');
      expect(status.seal?.summary).toMatch(/^Not sealed: /);
      const report = await ok<AuditVerifyReport>(app, 'audit.verify');
      expect(report.noSeal).toBe(status.seal?.impossible);
      // Asked again: said again, never turned into a quiet "sealed".
      expect((await ok<AuditStatusView>(app, 'audit.status')).seal?.impossible).toBe(status.seal?.impossible);
    } finally {
      await app.close();
      faulty.clear();
    }
    const { entries } = await queryAuditLog({ dir: join(dir, 'audit'), filter: {}, limit: 500 });
    const impossible = entries.filter((e) => e.action === 'audit.seal.impossible');
    expect(impossible).toHaveLength(1);
    expect(impossible[0]!.result).toBe('AUDIT_SEAL_IMPOSSIBLE');
    expect(sealLines(dir)).toEqual([]);
  });
});

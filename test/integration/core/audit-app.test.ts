import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkmOn } from '../../helpers/mkm-cli';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * The audit trail as the app keeps it: token work through the CLI lands in the log, sealed by
 * an HMAC key the app made on the token; `mkm audit verify` proves it, and names the entry an
 * editor changed afterwards.
 */
let token: SoftHsmToken;
let dataDir: string;

const mkm = mkmOn(() => ({ dataDir, token }));

beforeAll(() => {
  token = createSoftHsmToken({ label: 'audit-app' });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-audit-app-'));
});
afterAll(() => {
  token?.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the app audit trail', () => {
  it('records key work with the key id and KCV, never the PIN', async () => {
    await mkm(['keys', 'generate', '--type', 'aes-256', '--label', 'audited'], token.userPin);
    await mkm(['login-test'], '9713579');
    const exported = await mkm(['audit', 'export', '--format', 'json']);
    const entries = JSON.parse(exported.stdout) as {
      action: string;
      result: string;
      key?: { kcv?: string };
    }[];
    const actions = entries.map((e) => `${e.action}:${e.result}`);
    expect(actions).toContain('token.login:ok');
    expect(actions).toContain('key.generate:ok');
    expect(actions).toContain('token.login:PIN_INCORRECT');
    expect(entries.find((e) => e.action === 'key.generate')!.key!.kcv).toMatch(/^[0-9a-f]{6}$/);
    expect(exported.stdout).not.toContain(token.userPin);
    expect(exported.stdout).not.toContain('9713579');
  });

  it('verifies with the token’s audit key', async () => {
    const out = await mkm(['--json', 'audit', 'verify'], token.userPin);
    const report = JSON.parse(out.stdout);
    expect(report).toMatchObject({ ok: true, sealsVerified: true });
    expect(report.seals).toBeGreaterThan(0);
    expect(out.code).toBe(0);
  });

  it('without a PIN says the seals were not checked and exits 3, as its help says', async () => {
    const out = await mkm(['audit', 'verify']);
    expect(out.code).toBe(3);
    expect(out.stdout).toContain('SEALS NOT CHECKED');
    const help = await mkm(['audit', 'verify', '--help']);
    expect(help.stdout).toMatch(/^\s+3\s+the chain verifies but the seals were NOT checked/m);
  });

  it('names the first edited entry and exits non-zero', async () => {
    const dir = join(dataDir, 'audit');
    const file = join(dir, 'audit.log');
    const lines = readFileSync(file, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes('"key.generate"'));
    lines[at] = lines[at]!.replace('"result":"ok"', '"result":"CANCELLED"');
    writeFileSync(file, lines.join('\n'));
    const out = await mkm(['--json', 'audit', 'verify'], token.userPin);
    expect((out as { code?: number }).code).toBe(1);
    const report = JSON.parse(out.stdout);
    expect(report.ok).toBe(false);
    expect(report.firstBad.line).toBe(at + 1);
  });
});

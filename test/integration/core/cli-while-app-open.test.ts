import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDOFF_DIR } from '../../../electron/audit/handoff.nodejs';
import type { App } from '../../../electron/core/app.nodejs';
import { mkmOn } from '../../helpers/mkm-cli';
import { createSoftHsmToken, softHsmAvailable, type SoftHsmToken } from '../../helpers/softhsm';
import { openApp } from '../../helpers/app';

/**
 * The CLI as the README says (issue 15 point 7): while the app holds the data folder's audit log,
 * the real `mkm` still reads (keys, audit verify, status, tokens, the report) with MKM_PIN, and
 * what it did (its login) reaches the app's log through a hand-off; whatever must be recorded is
 * refused, naming the process that holds the log.
 */
let token: SoftHsmToken;
let dataDir: string;
let app: App;

const entries = async () => {
  const r = await app.registry.dispatch('audit.query', { limit: 10_000 }, { transport: 'cli' });
  if (!r.ok) throw new Error(r.error.code);
  return (r.result as { entries: { action: string; details?: Record<string, unknown> }[] }).entries;
};

beforeAll(async () => {
  token = createSoftHsmToken({ label: 'cli-reads' });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-cli-reads-'));
  app = openApp(dataDir, token.modulePath);
  await app.audit.ready();
  // The app logs in (it makes and pins the audit key) and makes a key for the CLI to list.
  const login = await app.registry.dispatch(
    'tokens.login',
    { slotId: token.slotId, pin: token.userPin },
    { transport: 'cli' },
  );
  expect(login.ok).toBe(true);
  const made = await app.registry.dispatch(
    'keys.generate',
    { slotId: token.slotId, type: 'aes-256', label: 'made-by-the-app', purpose: 'data' },
    { transport: 'cli' },
  );
  expect(made.ok, JSON.stringify(made)).toBe(true);
}, 60_000);
afterAll(async () => {
  await app?.close();
  token?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe.runIf(softHsmAvailable())('the CLI while the app holds the audit log', () => {
  const mkm = mkmOn(() => ({ dataDir, token }));

  it('lists keys and verifies the audit log with its seals, logged in with MKM_PIN', async () => {
    const keys = await mkm(['--json', 'keys', 'list'], token.userPin);
    expect(keys.code, keys.stderr).toBe(0);
    expect(keys.stdout).toContain('made-by-the-app');

    const verify = await mkm(['audit', 'verify'], token.userPin);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    expect(verify.stdout).toMatch(/audit log OK/);
    expect(verify.stdout).toMatch(/MACs checked on the token/);
  });

  it('reads status, tokens and the PCI report', async () => {
    expect((await mkm(['status'])).code).toBe(0);
    const tokens = await mkm(['tokens']);
    expect(tokens.code).toBe(0);
    expect(tokens.stdout).toContain('cli-reads');
    const report = await mkm(['--json', 'report', 'pci'], token.userPin);
    expect(report.code, report.stderr).toBe(0);
    expect(JSON.parse(report.stdout)).toHaveProperty('requirements');
  });

  it("hands its login to the app's log: the entry names the command and its pid", async () => {
    const before = (await entries()).filter((e) => e.details?.handedOffBy).length;
    const run = await mkm(['keys', 'list'], token.userPin);
    expect(run.code, run.stderr).toBe(0);
    expect(readdirSync(join(app.paths.audit, HANDOFF_DIR)).length).toBeGreaterThan(0);
    // The holder takes hand-offs when it next records something.
    const verify = await app.registry.dispatch('audit.verify', undefined, { transport: 'cli' });
    expect(verify.ok && (verify.result as { ok: boolean }).ok, JSON.stringify(verify)).toBe(true);
    const handed = (await entries()).filter((e) => e.details?.handedOffBy);
    expect(handed.length).toBeGreaterThan(before);
    const login = handed.filter((e) => e.action === 'token.login').at(-1)!;
    expect(login.details?.handedOffBy).toMatchObject({ role: 'the command "mkm keys list"' });
    expect(typeof (login.details?.handedOffBy as { pid: unknown }).pid).toBe('number');
    expect(readdirSync(join(app.paths.audit, HANDOFF_DIR))).toEqual([]);
  });

  it('refuses what must be recorded, naming the app and its pid', async () => {
    const generate = await mkm(
      ['keys', 'generate', '--type', 'aes-256', '--label', 'cli-key'],
      token.userPin,
    );
    expect(generate.code).toBe(1);
    expect(generate.stderr).toContain(
      `the Merchant Key Manager app (browser mode) (pid ${process.pid}) holds open`,
    );
    expect(generate.stderr).toMatch(/\[AUDIT_BUSY\]\n$/);
  });
});

describe.runIf(softHsmAvailable())('the CLI while an app that never logged in holds the log', () => {
  it('logs in to read but makes no audit key (its entry could not be written)', async () => {
    const fresh = createSoftHsmToken({ label: 'cli-reads-2' });
    const dir = mkdtempSync(join(tmpdir(), 'mkm-cli-reads-2-'));
    const other = openApp(dir, fresh.modulePath);
    try {
      await other.audit.ready();
      const run = await mkmOn(() => ({ dataDir: dir, token: fresh }))(
        ['--json', 'keys', 'list'],
        fresh.userPin,
      );
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual([]);
    } finally {
      await other.close();
      fresh.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.runIf(softHsmAvailable())('mkm support and --module', () => {
  it('support bundle --preview prints the bundle without --out; without either it is a usage error', async () => {
    // A data folder of its own: the preview is recorded, so not while the app holds this one.
    const own = mkmOn(() => ({ dataDir: mkdtempSync(join(tmpdir(), 'mkm-preview-')), token }));
    const preview = await own(['support', 'bundle', '--preview']);
    expect(preview.code, preview.stderr).toBe(0);
    expect(preview.stdout.length).toBeGreaterThan(100);
    const neither = await own(['support', 'bundle']);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/--out FILE, or print it with --preview.*\[USAGE\]/);
  });

  it('a shared library that is not PKCS#11 (libc) is MODULE_INVALID, as in the UI, for every command', async () => {
    const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6'].find((p) => {
      try {
        return readdirSync(join(p, '..')).includes('libc.so.6');
      } catch {
        return false;
      }
    })!;
    const other = mkmOn(() => ({
      dataDir: mkdtempSync(join(tmpdir(), 'mkm-libc-')),
      token: { ...token, modulePath: libc },
    }));
    for (const args of [['tokens'], ['--json', 'keys', 'list'], ['audit', 'verify']]) {
      const r = await other(args, token.userPin);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stdout + r.stderr, args.join(' ')).toContain('MODULE_INVALID');
      expect(r.stdout + r.stderr, args.join(' ')).not.toContain('NO_MODULE');
    }
  });
});

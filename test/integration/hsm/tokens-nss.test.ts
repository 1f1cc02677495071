import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../electron/core/app.nodejs';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import { failure } from '../../helpers/failure';
import { mkmOn } from '../../helpers/mkm-cli';
import { createNssToken, nssUnavailable, type NssToken } from '../../helpers/nss';
import { tokenSuite } from '../../helpers/token-suite';
import { hostTokenService } from '../../helpers/host-token-engine';

/**
 * NSS softokn (Debian libnss3, libsoftokn3.so) on a fresh database per run (certutil -N, from
 * libnss3-tools). softokn starts only with its initialisation parameters, and a database without
 * a password needs no login (CKF_LOGIN_REQUIRED clear): both are what this file is about.
 */
const unavailable = nssUnavailable();
if (unavailable) console.warn(`NSS softokn suite skipped: ${unavailable}`);
const run = promisify(execFile);
const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';

/** A fresh database, its library loaded in this process for `body`, then both gone. */
async function onNss(
  options: { password?: string },
  body: (nss: NssToken, svc: TokenEngine) => Promise<void>,
): Promise<void> {
  const nss = createNssToken(options);
  const svc = hostTokenService();
  try {
    await svc.loadModule({ path: nss.modulePath, libraryParameters: nss.libraryParameters });
    await body(nss, svc);
  } finally {
    await svc.unloadModule();
    nss.cleanup();
  }
}

describe.skipIf(unavailable !== null)('NSS softokn', () => {
  describe('the suite every implementation passes', () => {
    tokenSuite(async () => {
      const nss = createNssToken();
      // NSS's own tool agrees that the database makes RSA keys: certutil -G (a 2048-bit pair).
      const noise = join(nss.dir, 'noise');
      writeFileSync(noise, Buffer.alloc(64, 7));
      await run('certutil', ['-G', '-d', `sql:${nss.dir}`, '-k', 'rsa', '-g', '2048', '-z', noise]);
      return {
        toolSays: ['rsa2048Generate'],
        name: 'NSS softokn',
        modulePath: nss.modulePath,
        libraryParameters: nss.libraryParameters,
        slotId: nss.slotId,
        env: process.env,
        pkcs11Tool: false,
        stop: () => nss.cleanup(),
      };
    });
  });

  describe('mkm on the command line', () => {
    let nss: NssToken;
    let dataDir: string;
    const env: NodeJS.ProcessEnv = { MKM_PIN: '', MKM_MODULE_PARAMS: '' };
    const mkm = mkmOn(() => ({ dataDir, token: { modulePath: nss.modulePath, slotId: nss.slotId } }), env);

    beforeAll(() => {
      nss = createNssToken();
      dataDir = mkdtempSync(join(tmpdir(), 'mkm-nss-cli-'));
    });
    afterAll(() => {
      nss?.cleanup();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('says the library needs initialisation parameters, with its CKR code, when they are missing', async () => {
      const r = await mkm(['tokens']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('[MODULE_INIT_FAILED]');
      expect(r.stderr).toContain('CKR_ARGUMENTS_BAD');
      expect(r.stderr).toContain('may need initialisation parameters');
      expect(r.stderr).not.toContain('NO_MODULE');
    });

    it('starts the library with --module-params, or MKM_MODULE_PARAMS', async () => {
      const byOption = await mkm(['--module-params', nss.libraryParameters, 'tokens']);
      expect(byOption.stderr).toBe('');
      expect(byOption.stdout).toContain('NSS Certificate DB');
      const byEnv = await mkmOn(
        () => ({ dataDir, token: { modulePath: nss.modulePath, slotId: nss.slotId } }),
        { MKM_PIN: '', MKM_MODULE_PARAMS: nss.libraryParameters },
      )(['tokens']);
      expect(byEnv.stdout).toContain('NSS Certificate DB');
    });

    it('uses a token that needs no login without a PIN, headless', async () => {
      // No MKM_PIN and no terminal: a token that needs a login would fail with "No PIN".
      const p = ['--module-params', nss.libraryParameters];
      const made = await mkm([...p, 'keys', 'generate', '--type', 'aes-256', '--label', 'nss-data']);
      expect(made.stderr).toBe('');
      expect(made.stdout).toMatch(/generated aes-256 "nss-data" id [0-9a-f]{32} {2}KCV [0-9A-F]{6} \(cmac\)/);
      const list = await mkm([...p, 'keys', 'list']);
      expect(list.stdout).toContain('nss-data');
      const login = await mkm([...p, 'login-test']);
      expect(login.stdout).toContain('login ok on "NSS Certificate DB"');
    });

    it('checks the audit seals without a PIN: the token needs no login, and seals with HMAC-SHA256', async () => {
      const r = await mkm(['--module-params', nss.libraryParameters, 'audit', 'verify']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('(MACs checked on the token)');
      expect(r.stdout).toContain('sealed with HMAC-SHA256');
    });

    it('seals the state a command wrote at its exit without a PIN, so the next command can check it', async () => {
      // `exchange trust` writes the trusted signers list without logging in; its seal is made at
      // the exit, by a login the token does not need a PIN for. `exchange verify` then checks it.
      const p = ['--module-params', nss.libraryParameters];
      const made = await mkm([
        ...p,
        'keys',
        'generate',
        '--type',
        'rsa-2048',
        '--label',
        'nss-signer',
        '--purpose',
        'signing',
      ]);
      const spki = /spki-sha256 ([0-9a-f]{64})/.exec(made.stdout)?.[1];
      expect(spki, made.stderr).toBeDefined();
      const file = join(nss.dir, 'announce.mkmx');
      const exported = await mkm([
        ...p,
        'exchange',
        'export',
        '--kind',
        'announcement',
        '--signing-key',
        'nss-signer',
        '--key',
        'nss-signer',
        '--out',
        file,
      ]);
      expect(exported.code, exported.stderr).toBe(0);
      const trusted = await mkm([...p, 'exchange', 'trust', spki!, '--name', 'NSS signer', '--yes']);
      expect(trusted.code, trusted.stderr).toBe(0);
      const verified = await mkm([...p, 'exchange', 'verify', file]);
      expect(verified.stderr).toBe('');
      expect(verified.code).toBe(0);
      expect(verified.stdout).toContain('NSS signer');
    });

    it('names the library in use in mkm status', async () => {
      const r = await mkm(['--module-params', nss.libraryParameters, 'status']);
      expect(r.stdout).toMatch(
        new RegExp(
          `PKCS#11 library +${nss.modulePath.replace(/[.]/g, '\\.')} \\(--module\\) with initialisation parameters`,
        ),
      );
      const json = JSON.parse((await mkm(['--json', 'status'])).stdout);
      expect(json.hsm).toMatchObject({ modulePath: nss.modulePath, source: 'override', parameters: false });
    });

    it('keeps the parameters chosen with the library when --module names it again', async () => {
      // Chosen the way a page may: a library named when the app was started.
      const app = createApp({
        mode: 'cli',
        dataDir,
        isTrustedSender: () => true,
        launchModules: [nss.modulePath],
      });
      try {
        const reply = await app.registry.dispatch(
          'tokens.selectModule',
          { path: nss.modulePath, libraryParameters: nss.libraryParameters },
          { transport: 'cli' },
        );
        expect(reply.ok).toBe(true);
      } finally {
        await app.close();
      }
      const r = await mkm(['tokens']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('NSS Certificate DB');
    });

    it('says MODULE_INVALID for a shared library that is not PKCS#11, as the UI does', async () => {
      const r = await mkmOn(() => ({ dataDir, token: { modulePath: LIBC, slotId: 0 } }), env)(['tokens']);
      expect(r.stderr).toContain('[MODULE_INVALID]');
      expect(r.stderr).toContain('not a PKCS#11 library (no C_GetFunctionList)');
    });
  });

  describe('a database without a password', () => {
    it('is used without a PIN, and a PIN typed anyway changes nothing', () =>
      onNss({}, async (nss, svc) => {
        await svc.login({ slotId: nss.slotId, pin: 'anything' });
        expect((await svc.listSlots({})).find((s) => s.slotId === nss.slotId)!.session.loggedIn).toBe(true);
        await svc.logout({ slotId: nss.slotId });
        expect((await svc.listSlots({})).find((s) => s.slotId === nss.slotId)!.session.loggedIn).toBe(false);
        await svc.login({ slotId: nss.slotId });
        const key = await svc.generateKey({
          slotId: nss.slotId,
          type: 'hmac-256',
          label: 'nss-hmac',
          purpose: 'hmac',
        });
        expect(key.kcv?.method).toBe('hmac');
      }));
  });

  describe('exportable keys', () => {
    it('are refused, generated or imported: anyone may mark a KEK trusted here, and the token wraps regardless', () =>
      onNss({}, async (nss, svc) => {
        await svc.login({ slotId: nss.slotId });
        const before = await svc.listObjects({ slotId: nss.slotId });
        // No probe first: the refusal must not depend on the admin having checked capabilities.
        const made = await failure(
          svc.generateKey({
            slotId: nss.slotId,
            type: 'aes-256',
            label: 'nss-export',
            purpose: 'data',
            exportable: true,
          }),
        );
        expect(made.code).toBe('CAPABILITY_MISSING');
        expect(made.message).toContain('export restricted to trusted keys');
        expect(made.message).toContain('anyone with the PIN can mark a KEK trusted on this token');
        expect(made.details).toMatchObject({ capability: 'wrapWithTrusted' });
        const imported = await failure(
          svc.importKey({
            slotId: nss.slotId,
            type: 'hmac-256',
            label: 'nss-export',
            purpose: 'hmac',
            exportable: true,
            keyHex: randomBytes(32).toString('hex'),
          }),
        );
        expect(imported.code).toBe('CAPABILITY_MISSING');
        expect(await svc.listObjects({ slotId: nss.slotId })).toEqual(before);
        // The same keys without "exportable" are made as usual.
        await svc.generateKey({ slotId: nss.slotId, type: 'aes-256', label: 'nss-data', purpose: 'data' });
      }));
  });

  describe('a database with a password needs the PIN', () => {
    it('is logged in with the PIN, and refused without one', () =>
      onNss({ password: 'nss-secret-1' }, async (nss, svc) => {
        const slot = (await svc.listSlots({ tokenPresent: true })).find((s) => s.slotId === nss.slotId)!;
        expect(slot.token!.flags.loginRequired).toBe(true);
        await expect(svc.login({ slotId: nss.slotId })).rejects.toMatchObject({ code: 'VALIDATION' });
        await svc.login({ slotId: nss.slotId, pin: 'nss-secret-1' });
        const after = (await svc.listSlots({})).find((s) => s.slotId === nss.slotId)!;
        expect(after.session.loggedIn).toBe(true);
      }));
  });
});

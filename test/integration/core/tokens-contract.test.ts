import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../../electron/core/app.nodejs';
import { mkmOn } from '../../helpers/mkm-cli';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { findSecrets } from '../../helpers/scan';

/**
 * The token channels end to end: contract → registry → TokensService → host process → SoftHSM2,
 * and the same through the `mkm` CLI. No fakes anywhere in the path.
 */
let token: SoftHsmToken;
let dataDir: string;
let app: App;
const progress: string[] = [];

const call = async (channel: string, request?: unknown) =>
  app.registry.dispatch(channel, request, { transport: 'cli' });

beforeAll(async () => {
  token = createSoftHsmToken({ label: 'contract-test', userPin: '246810', soPin: '13579135' });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-tokens-'));
  app = createApp({ mode: 'cli', dataDir, moduleOverride: token.modulePath, isTrustedSender: () => true });
  app.events.subscribe(
    (name, payload) => name === 'progress' && progress.push((payload as { phase: string }).phase),
  );
});

afterAll(async () => {
  await app?.close();
  token?.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('token channels', () => {
  it('report the library with its C_GetInfo', async () => {
    const state = await call('tokens.modules');
    expect(state).toMatchObject({
      ok: true,
      result: { source: 'override', demo: false, path: token.modulePath },
    });
    expect((state as { result: { info: { cryptokiVersion: string } } }).result.info.cryptokiVersion).toMatch(
      /^2\.|^3\./,
    );
  });

  it('list the token with its serial and flags', async () => {
    const slots = (await call('tokens.list')) as {
      ok: true;
      result: { slotId: number; token: { serial: string; flags: { loginRequired: boolean } } | null }[];
    };
    const slot = slots.result.find((s) => s.slotId === token.slotId)!;
    expect(slot.token!.serial.trim()).toBe(token.serial);
    expect(slot.token!.flags.loginRequired).toBe(true);
  });

  it('refuse a wrong PIN with the token’s remaining-tries state, then accept the right one', async () => {
    const wrong = await call('tokens.login', { slotId: token.slotId, pin: '9713579' });
    expect(wrong).toMatchObject({ ok: false, error: { code: 'PIN_INCORRECT' } });
    expect(JSON.stringify(wrong)).not.toContain('9713579');
    expect(await call('tokens.login', { slotId: token.slotId, pin: token.userPin })).toMatchObject({
      ok: true,
    });
  });

  it('generate an AES-256 key with progress events and a KCV the key answers again', async () => {
    const generated = (await call('keys.generate', {
      slotId: token.slotId,
      type: 'aes-256',
      label: 'contract-aes',
      purpose: 'data',
    })) as {
      ok: true;
      result: { id: string; kcv: { kcv: string; method: string } };
    };
    expect(generated.ok).toBe(true);
    expect(generated.result.kcv.method).toBe('cmac');
    expect(progress).toContain('started');
    expect(progress).toContain('done');
    const kcv = await call('keys.kcv', { slotId: token.slotId, id: generated.result.id });
    expect(kcv).toMatchObject({ ok: true, result: { kcv: generated.result.kcv.kcv } });
    const listed = (await call('keys.list', { slotId: token.slotId })) as {
      result: { id: string; sensitive: boolean; extractable: boolean }[];
    };
    expect(listed.result.find((o) => o.id === generated.result.id)).toMatchObject({
      sensitive: true,
      extractable: false,
    });
  });

  it('destroy only with an explicit confirmation', async () => {
    const key = (await call('keys.generate', {
      slotId: token.slotId,
      type: 'hmac-256',
      label: 'to-destroy',
      purpose: 'hmac',
    })) as {
      result: { id: string };
    };
    const unconfirmed = await call('keys.destroy', {
      slotId: token.slotId,
      id: key.result.id,
      class: 'secret',
    });
    expect(unconfirmed).toMatchObject({ ok: false, error: { code: 'VALIDATION' } });
    const confirmed = await call('keys.destroy', {
      slotId: token.slotId,
      id: key.result.id,
      class: 'secret',
      confirm: true,
    });
    expect(confirmed).toMatchObject({ ok: true, result: { destroyed: 1 } });
    expect(await call('keys.kcv', { slotId: token.slotId, id: key.result.id })).toMatchObject({
      ok: false,
      error: { code: 'KEY_NOT_FOUND' },
    });
  });

  it('answer a library path main does not know with MODULE_NOT_ALLOWED and keep the current one', async () => {
    const bad = await call('tokens.selectModule', { path: '/nonexistent/libpkcs11.so' });
    expect(bad).toMatchObject({ ok: false, error: { code: 'MODULE_NOT_ALLOWED' } });
    expect(await call('tokens.list')).toMatchObject({ ok: true });
  });

  it('encrypt in bulk with raw bytes, matching AES-256-CBC computed in software', async () => {
    const clear = randomBytes(32);
    const imported = await app.tokens.call('importKey', {
      slotId: token.slotId,
      type: 'aes-256',
      label: 'bulk-known',
      purpose: 'data',
      keyHex: clear.toString('hex'),
    });
    const data = Array.from({ length: 2500 }, (_, i) => randomBytes(i % 50));
    const ivs = data.map(() => randomBytes(16));
    const done: number[] = [];
    const out = await app.tokens.encryptMany({
      slotId: token.slotId,
      id: imported.id,
      mechanism: 'AES_CBC_PAD',
      data,
      ivs,
      chunk: 1000,
      onProgress: (n) => done.push(n),
    });
    expect(done.at(-1)).toBe(2500);
    data.forEach((d, i) => {
      const c = createCipheriv('aes-256-cbc', clear, ivs[i]!);
      expect(Buffer.from(out[i]!).equals(Buffer.concat([c.update(d), c.final()]))).toBe(true);
    });
  });

  it('refuse a pipelined batch whose chunks all fail with the first failure, and leave none unhandled', async () => {
    // Two chunks are in flight at once; when the first fails, the second fails too, after it.
    // Unhandled, that second rejection would kill main (vitest fails the run on one).
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const data = Array.from({ length: 4 }, () => randomBytes(16));
      await expect(
        app.tokens.encryptMany({
          slotId: token.slotId,
          id: 'ab'.repeat(8),
          mechanism: 'AES_CBC_PAD',
          data,
          ivs: data.map(() => randomBytes(16)),
          chunk: 1,
        }),
      ).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
      // The chunk still in flight settles within a host round trip.
      await app.tokens.slots();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('keep the PIN out of every file the run wrote', () => {
    expect(findSecrets([dataDir], [token.userPin, '9713579'])).toEqual([]);
  });
});

describe('mkm CLI on a real token', () => {
  // A data folder of its own: the app above holds this run's audit log, and the CLI refuses
  // recorded actions in a folder whose log another process holds (audit-busy.test.ts).
  let cliDataDir: string;
  beforeAll(() => {
    cliDataDir = mkdtempSync(join(tmpdir(), 'mkm-tokens-cli-'));
  });
  afterAll(() => {
    expect(findSecrets([cliDataDir], [token.userPin, '99999999'])).toEqual([]);
    rmSync(cliDataDir, { recursive: true, force: true });
  });
  const mkm = mkmOn(() => ({ dataDir: cliDataDir, token }));

  it('generates, shows, exports and destroys a key pair', async () => {
    const gen = JSON.parse(
      (await mkm(['--json', 'keys', 'generate', '--type', 'rsa-2048', '--label', 'cli-rsa'], token.userPin))
        .stdout,
    );
    expect(gen.spkiSha256).toMatch(/^[0-9a-f]{64}$/);
    const pem = (await mkm(['keys', 'export-public', 'cli-rsa', '--format', 'pem'], token.userPin)).stdout;
    expect(pem).toContain('-----BEGIN PUBLIC KEY-----');
    const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: pem });
    expect(createHash('sha256').update(der).digest('hex')).toBe(gen.spkiSha256);
    const jwk = JSON.parse(
      (await mkm(['--json', 'keys', 'export-public', 'cli-rsa', '--format', 'jwk'], token.userPin)).stdout,
    );
    expect(jwk.spkiSha256).toBe(gen.spkiSha256);
    const refused = await mkm(['keys', 'destroy', 'cli-rsa'], token.userPin).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((refused as { code: number }).code).toBe(1);
    expect((refused as { stderr: string }).stderr).toContain('CONFIRMATION_REQUIRED');
    const destroyed = JSON.parse(
      (await mkm(['--json', 'keys', 'destroy', 'cli-rsa', '--yes'], token.userPin)).stdout,
    );
    expect(destroyed.destroyed).toBe(2);
  });

  it('fails with one line and a code on a wrong PIN', async () => {
    const wrong = await mkm(['login-test'], '99999999').catch((e: { code: number; stderr: string }) => e);
    expect((wrong as { code: number }).code).toBe(1);
    expect((wrong as { stderr: string }).stderr.trim().split('\n')).toHaveLength(1);
    expect((wrong as { stderr: string }).stderr).toContain('[PIN_INCORRECT]');
  });
});

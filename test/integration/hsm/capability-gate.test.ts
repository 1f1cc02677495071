import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../electron/core/app.nodejs';
import type { Envelope } from '../../../shared/contract-kit.std';
import type { LifecycleKeyView, LifecycleVersionView } from '../../../shared/contract.std';
import type { MkmErrorShape } from '../../../shared/errors.std';
import { mkmOn } from '../../helpers/mkm-cli';
import { acquireOpenCryptoki, type OpenCryptoki, type OpenCryptokiToken } from '../../helpers/opencryptoki';
import { openApp } from '../../helpers/app';

/**
 * Features gated by the probe, main side, so the app and the CLI meet the same refusal. On
 * openCryptoki's swtok (a real token that cannot RSA-OAEP unwrap nor sign RSA PKCS#1 with
 * SHA-256, docs/TOKENS.md) every gated entry point refuses with CAPABILITY_MISSING naming the
 * capability and the probe's reason, before anything is done on the token or the gateway.
 */
describe('features the token cannot do are refused before they start', () => {
  let ock: OpenCryptoki;
  let token: OpenCryptokiToken;
  let dataDir: string;
  let app: App;

  const call = async (channel: string, request?: unknown) =>
    (await app.registry.dispatch(channel, request, { transport: 'cli' })) as Envelope;
  const ok = async <T>(channel: string, request?: unknown): Promise<T> => {
    const envelope = await call(channel, request);
    if (!envelope.ok) throw new Error(`${channel}: ${envelope.error.code} ${envelope.error.message}`);
    return envelope.result as T;
  };
  const refused = async (channel: string, request?: unknown): Promise<MkmErrorShape> => {
    const envelope = await call(channel, request);
    if (envelope.ok) throw new Error(`${channel} was not refused`);
    return envelope.error;
  };
  const mkm = mkmOn(() => ({ dataDir, token: { modulePath: token.modulePath, slotId: token.slotId } }));

  beforeAll(async () => {
    ock = await acquireOpenCryptoki();
    token = await ock.remake('mkm-gate');
    dataDir = mkdtempSync(join(tmpdir(), 'mkm-capability-gate-'));
    app = openApp(dataDir, token.modulePath, { watchSlots: false });
    await ok('tokens.login', { slotId: token.slotId, pin: token.userPin });
    // Nothing listens here: a call that got past the guard would fail reaching the gateway.
    await ok('gateway.addProfile', {
      id: 'rolling',
      name: 'Rolling',
      baseUrl: 'https://127.0.0.1:9',
      username: 'u',
      keyRolling: true,
    });
  }, 180_000);
  afterAll(async () => {
    await app?.close();
    ock?.release();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('console message: refused like gateway register, naming RSA-OAEP unwrap and why', async () => {
    const message = await refused('console.encryptMessage', { profileId: 'rolling', text: 'hi' });
    expect(message.code).toBe('CAPABILITY_MISSING');
    expect(message.details).toMatchObject({ capability: 'rsaOaepUnwrap', feature: 'console-message' });
    expect(message.message).toMatch(
      /^This token cannot seal or open key-rolling messages: it lacks RSA-OAEP unwrap \(/,
    );

    const opened = await refused('console.decryptMessage', {
      profileId: 'rolling',
      envelope: { set_id: 's', ciphertext: 'AAAAAAAAAAAAAAAAAAAAAA==', mac: 'AAAA' },
    });
    expect(opened.code).toBe('CAPABILITY_MISSING');

    const ping = await refused('gateway.ping', { profileId: 'rolling' });
    expect(ping).toMatchObject({ code: 'CAPABILITY_MISSING', details: { capability: 'rsaOaepUnwrap' } });
  });

  it('exchange packages: refused where the token cannot sign them', async () => {
    const exported = await refused('exchange.export', {
      kind: 'announcement',
      signingKeyId: '01',
      keyIds: ['01'],
    });
    expect(exported.code).toBe('CAPABILITY_MISSING');
    expect(exported.details).toMatchObject({ capability: 'rsaSha256Sign', feature: 'exchange-sign' });
  });

  let aesId = '';
  it('key check values: an AES key on a token without AES-CMAC is refused, naming it', async () => {
    const made = await ok<{ id: string; kcv?: unknown }>('keys.generate', {
      slotId: token.slotId,
      type: 'aes-256',
      label: 'gate-aes',
      purpose: 'data',
    });
    aesId = made.id;
    expect(made.kcv).toBeUndefined();
    const kcv = await refused('keys.kcv', { slotId: token.slotId, id: aesId });
    expect(kcv.code).toBe('CAPABILITY_MISSING');
    expect(kcv.details).toMatchObject({ capability: 'aesCmac', feature: 'kcv-aes' });
    expect(kcv.message).toMatch(/^This token cannot compute an AES key's check value: it lacks AES-CMAC/);

    // An HMAC key's check value needs HMAC-SHA256, which this token has.
    const hmac = await ok<{ id: string }>('keys.generate', {
      slotId: token.slotId,
      type: 'hmac-256',
      label: 'gate-hmac',
      purpose: 'hmac',
    });
    const hmacKcv = await ok<{ kcv: string; method: string }>('keys.kcv', {
      slotId: token.slotId,
      id: hmac.id,
    });
    expect(hmacKcv.method).toBe('hmac');
  });

  it('a managed AES key is created without a KCV, and says why', async () => {
    const created = await ok<{ version: LifecycleVersionView }>('lifecycle.create', {
      name: 'gate-data',
      purpose: 'data',
      type: 'aes-256',
    });
    expect(created.version.fingerprint).toBeNull();
    expect(created.version.fingerprintNote).toMatch(/^KCV not available on this token: \S/);
    const [listed] = (await ok<LifecycleKeyView[]>('lifecycle.list', {})).filter(
      (k) => k.name === 'gate-data',
    );
    expect(listed!.versions[0]).toMatchObject({
      fingerprint: null,
      fingerprintNote: created.version.fingerprintNote,
    });
  });

  it('the CLI meets the same refusal', async () => {
    // The CLI takes the data folder (and its audit log) over from the app.
    await app.close();
    app = null as unknown as App;
    const r = await mkm(['console', 'message', '--profile', 'rolling', '--text', 'hi'], token.userPin);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('[CAPABILITY_MISSING]');
    expect(r.stderr).toContain('RSA-OAEP unwrap');

    const kcv = await mkm(['keys', 'kcv', aesId], token.userPin);
    expect(kcv.code).not.toBe(0);
    expect(kcv.stderr).toContain('[CAPABILITY_MISSING]');
    expect(kcv.stderr).toContain('AES-CMAC');

    const created = await mkm(
      ['keys', 'create', '--name', 'gate-cli', '--purpose', 'data', '--type', 'aes-256'],
      token.userPin,
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('KCV not available on this token: ');
  }, 120_000);
});

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '../../../shared/contract-kit.std';
import type {
  ExchangeExport,
  ExchangePackage,
  ExchangeVerification,
} from '../../../shared/contract/exchange.std';
import type { App } from '../../../electron/core/app.nodejs';
import { signedBytes } from '../../../electron/gateway/exchange/package.nodejs';
import { mkmOn } from '../../helpers/mkm-cli';
import { findSecrets, filesUnder } from '../../helpers/scan';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { openApp } from '../../helpers/app';

/**
 * Every way a package is refused, through the app's registry (the door the UI and the CLI use)
 * on a real SoftHSM2 token: each refusal has its own code and names what failed, a refused
 * package changes nothing, and packages made wrong on purpose are signed by the real token so
 * that the check after the signature is the one that answers.
 */
let token: SoftHsmToken;
let dataDir: string;
let work: string;
let app: App;
let signerId: string;
let signerFpr: string;
let otherSignerId: string;
let otherFpr: string;
let transportId: string;
let pkg: ExchangePackage;
let text: string;
const clearKey = randomBytes(32);

const call = (channel: string, request?: unknown): Promise<Envelope> =>
  app.registry.dispatch(channel, request, { transport: 'cli' });

async function ok<T>(channel: string, request?: unknown): Promise<T> {
  const envelope = await call(channel, request);
  if (!envelope.ok) throw new Error(`${channel}: ${envelope.error.code} ${envelope.error.message}`);
  return envelope.result as T;
}

async function refusal(channel: string, request: unknown) {
  const envelope = await call(channel, request);
  if (envelope.ok) throw new Error(`${channel} was expected to refuse`);
  return envelope.error;
}

/** `signer: null` verifies with no expected fingerprint (trusted signers only). */
const verify = (packageText: string, signer: string | null = signerFpr) =>
  refusal('exchange.verify', { package: packageText, ...(signer ? { signer } : {}) });

const clone = (): ExchangePackage => structuredClone(pkg);
const asText = (p: unknown) => JSON.stringify(p, null, 2);

/** Signs a package as given, with the real token: what comes out is validly signed. */
async function signed(p: Omit<ExchangePackage, 'signature'>, keyId = signerId): Promise<ExchangePackage> {
  const { signature } = await app.tokens.call('sign', {
    slotId: token.slotId,
    id: keyId,
    mechanism: 'SHA256_RSA_PKCS_PSS',
    data: signedBytes({ ...p, signature: { alg: 'RSASSA-PSS-SHA256' } }).toString('base64'),
  });
  return { ...p, signature: { alg: 'RSASSA-PSS-SHA256', value: signature } };
}

const savedPassword = process.env.MKM_GATEWAY_PASSWORD;

beforeAll(async () => {
  // No password in the environment: the one typed in the app (gateway.setPassword) must serve.
  delete process.env.MKM_GATEWAY_PASSWORD;
  token = createSoftHsmToken({ label: 'xchg-refusals', userPin: '2468-refusals' });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-xchg-ref-'));
  work = mkdtempSync(join(tmpdir(), 'mkm-xchg-ref-files-'));
  app = openApp(dataDir, token.modulePath);
  await ok('tokens.login', { slotId: token.slotId, pin: token.userPin });
  const gen = (label: string, type: string, purpose: string) =>
    ok<{ id: string; spkiSha256: string }>('keys.generate', { slotId: token.slotId, type, label, purpose });
  const signer = await gen('signer', 'rsa-3072', 'signing');
  signerId = signer.id;
  signerFpr = signer.spkiSha256;
  const other = await gen('other-signer', 'rsa-2048', 'signing');
  otherSignerId = other.id;
  otherFpr = other.spkiSha256;
  transportId = (await gen('transport', 'rsa-2048', 'gateway-transport')).id;
  // No network behind this profile: an import that got past verification would fail reaching it.
  await ok('gateway.addProfile', {
    id: 'nowhere',
    name: 'Nowhere',
    baseUrl: 'https://127.0.0.1:9',
    username: 'u',
  });
  const made = await ok<ExchangeExport>('exchange.export', {
    kind: 'registration',
    signingKeyId: signerId,
    keyIds: [transportId],
    expiresInDays: 7,
  });
  text = made.text;
  pkg = JSON.parse(text) as ExchangePackage;
});

afterAll(async () => {
  if (savedPassword === undefined) delete process.env.MKM_GATEWAY_PASSWORD;
  else process.env.MKM_GATEWAY_PASSWORD = savedPassword;
  await app?.close();
  token?.cleanup();
  for (const d of [dataDir, work]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('exchange package refusals', { timeout: 120_000 }, () => {
  it('accepts the package as made, with the expected signer, and says how it trusted it', async () => {
    const v = await ok<ExchangeVerification>('exchange.verify', { package: text, signer: signerFpr });
    expect(v).toMatchObject({
      verified: true,
      trust: { by: 'expected-fingerprint' },
      summary: { purpose: 'registration-request', signer: { spkiSha256: signerFpr, bits: 3072 } },
    });
    expect(v.summary.expires).not.toBeNull();
  });

  it('does not care about member order or layout (the signature is over canonical JSON)', async () => {
    const reorder = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reorder)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reorder(x)]),
            )
          : v;
    const shuffled = JSON.stringify(reorder(pkg));
    expect(shuffled).not.toBe(JSON.stringify(pkg));
    await ok('exchange.verify', { package: shuffled, signer: signerFpr });
  });

  it('refuses a flipped signature byte, a changed item field and a changed date as tampered', async () => {
    const flipped = clone();
    const sig = Buffer.from(flipped.signature.value, 'base64');
    sig[sig.length - 1] = sig[sig.length - 1]! ^ 0x01;
    flipped.signature.value = sig.toString('base64');
    expect((await verify(asText(flipped))).code).toBe('EXCHANGE_SIGNATURE_INVALID');

    const relabelled = clone();
    (relabelled.items[0] as { label: string }).label = 'transport-2';
    const e = await verify(asText(relabelled));
    expect(e).toMatchObject({ code: 'EXCHANGE_SIGNATURE_INVALID', details: { reason: 'signature-invalid' } });
    expect(e.message).toMatch(/changed after it was signed/);

    const wrapping = clone();
    (wrapping.items[0] as { wrapping: string }).wrapping =
      (pkg.items[0] as { wrapping: string }).wrapping === 'RSAES-OAEP-SHA1'
        ? 'RSAES-OAEP-SHA256'
        : 'RSAES-OAEP-SHA1';
    expect((await verify(asText(wrapping))).code).toBe('EXCHANGE_SIGNATURE_INVALID');

    const later = clone();
    later.expires = new Date(Date.parse(pkg.expires!) + 86_400_000 * 300).toISOString();
    expect((await verify(asText(later))).code).toBe('EXCHANGE_SIGNATURE_INVALID');
  });

  it("refuses another key's PEM in the signer slot, even when the admin names that key", async () => {
    const other = await ok<{ pem: string }>('keys.exportPublic', {
      slotId: token.slotId,
      id: otherSignerId,
      format: 'pem',
    });
    const swapped = clone();
    swapped.signer.spkiPem = other.pem;
    swapped.signer.spkiSha256 = otherFpr;
    expect((await verify(asText(swapped), otherFpr)).code).toBe('EXCHANGE_SIGNATURE_INVALID');
    const pemOnly = clone();
    pemOnly.signer.spkiPem = other.pem;
    expect(await verify(asText(pemOnly))).toMatchObject({
      code: 'EXCHANGE_ITEM_MISMATCH',
      details: { reason: 'signer-fingerprint-mismatch' },
    });
  });

  it('refuses a truncated file, a wrong version, an unknown or a missing field, each by its own code', async () => {
    expect((await verify(text.slice(0, Math.floor(text.length * 0.7)))).code).toBe('EXCHANGE_NOT_JSON');
    expect((await verify('{"hello":"world"}')).code).toBe('EXCHANGE_FORMAT_INVALID');
    const v3 = await verify(asText({ ...clone(), version: 3 }));
    expect(v3).toMatchObject({ code: 'EXCHANGE_VERSION_UNSUPPORTED', details: { version: 3 } });
    const extra = await verify(asText({ ...clone(), note: 'trust me' }));
    expect(extra).toMatchObject({ code: 'EXCHANGE_FORMAT_INVALID', details: { reason: 'schema' } });
    const itemExtra = clone();
    (itemExtra.items[0] as Record<string, unknown>).privateKeyPem = 'x';
    expect((await verify(asText(itemExtra))).code).toBe('EXCHANGE_FORMAT_INVALID');
    const { producer: _producer, ...missing } = clone();
    expect((await verify(asText(missing))).code).toBe('EXCHANGE_FORMAT_INVALID');
    expect((await verify(' '.repeat(600 * 1024))).code).toBe('EXCHANGE_TOO_LARGE');
  });

  it('says "signature valid but signer not trusted" for an unknown signer or the wrong expected one', async () => {
    const untrusted = await verify(text, null);
    expect(untrusted).toMatchObject({
      code: 'EXCHANGE_SIGNER_UNTRUSTED',
      details: { reason: 'signer-not-trusted', signatureValid: true, signer: signerFpr },
    });
    expect(untrusted.message).toMatch(
      /^The signature is valid, but the signer [0-9a-f:]{95} is not trusted here/,
    );
    const wrong = await verify(text, otherFpr);
    expect(wrong).toMatchObject({
      code: 'EXCHANGE_SIGNER_UNTRUSTED',
      details: { reason: 'signer-not-expected' },
    });
  });

  it('refuses validly signed packages whose contents are wrong: item fingerprint, expiry, item kinds', async () => {
    const { signature: _s, ...base } = clone();
    const mismatch = structuredClone(base);
    (mismatch.items[0] as { spkiSha256: string }).spkiSha256 = signerFpr;
    expect(await verify(asText(await signed(mismatch)))).toMatchObject({
      code: 'EXCHANGE_ITEM_MISMATCH',
      details: { reason: 'item-fingerprint-mismatch', item: 1 },
    });

    const expired = { ...structuredClone(base), expires: new Date(Date.now() - 60_000).toISOString() };
    const e = await verify(asText(await signed(expired)));
    expect(e.code).toBe('EXCHANGE_EXPIRED');

    const stray = structuredClone(base);
    stray.items.push({
      kind: 'kcv',
      keyId: 'aa',
      label: 'x',
      keyType: 'aes-256',
      method: 'cmac',
      kcv: 'abcdef',
    });
    expect(await verify(asText(await signed(stray)))).toMatchObject({
      code: 'EXCHANGE_KIND_REFUSED',
      details: { reason: 'item-kind-not-allowed', kinds: ['kcv'] },
    });

    expect(
      await refusal('exchange.verify', { package: text, signer: signerFpr, expect: 'gateway-key' }),
    ).toMatchObject({ code: 'EXCHANGE_KIND_REFUSED', details: { reason: 'unexpected-purpose' } });
  });

  it('imports nothing from a refused package: verification fails before the gateway is even looked for', async () => {
    const tampered = clone();
    (tampered.items[0] as { keyId: string }).keyId = 'ff'.repeat(16);
    const e = await refusal('exchange.import', {
      package: asText(tampered),
      signer: signerFpr,
      profileId: 'nowhere',
    });
    expect(e.code).toBe('EXCHANGE_SIGNATURE_INVALID');
    // The same package untampered gets past verification; then the gateway needs a password,
    // and with the one the admin typed in the app, it says the gateway cannot be reached.
    const untampered = { package: text, signer: signerFpr, profileId: 'nowhere' };
    expect((await refusal('exchange.import', untampered)).code).toBe('GATEWAY_PASSWORD_REQUIRED');
    await ok('gateway.setPassword', { profileId: 'nowhere', password: 'typed in the app 42' });
    expect((await refusal('exchange.import', untampered)).code).toBe('GATEWAY_UNREACHABLE');
    expect(await ok('exchange.verify', { package: text, signer: signerFpr })).toBeTruthy();
    // Each failed import gave its claim on the package id back: the file can be tried again.
    expect(readdirSync(join(dataDir, 'exchange', 'seen'))).toEqual([]);
  });

  it('announces public keys and KCVs (never the keys); an announcement is verified, not imported', async () => {
    const imported = await app.tokens.call('importKey', {
      slotId: token.slotId,
      type: 'aes-256',
      label: 'data-key',
      purpose: 'data',
      keyHex: clearKey.toString('hex'),
    });
    const made = await ok<ExchangeExport>('exchange.export', {
      kind: 'announcement',
      signingKeyId: signerId,
      keyIds: [imported.id, transportId],
      algorithm: 'pkcs1',
    });
    expect(made.summary.algorithm).toBe('RSASSA-PKCS1-v1_5-SHA256');
    expect(made.summary.items).toEqual([
      {
        kind: 'kcv',
        keyId: imported.id,
        label: 'data-key',
        keyType: 'aes-256',
        method: 'cmac',
        kcv: imported.kcv,
      },
      expect.objectContaining({
        kind: 'public-key',
        keyId: transportId,
        purpose: 'gateway-transport',
        bits: 2048,
      }),
    ]);
    const e = await refusal('exchange.import', {
      package: made.text,
      signer: signerFpr,
      profileId: 'nowhere',
    });
    expect(e).toMatchObject({
      code: 'EXCHANGE_KIND_REFUSED',
      details: { reason: 'announcement-not-importable' },
    });

    writeFileSync(join(work, 'announce.mkmx'), made.text);
    const secrets = [
      token.userPin,
      token.soPin,
      clearKey.toString('hex'),
      clearKey.toString('base64'),
      'typed in the app 42',
    ];
    expect(findSecrets([work, dataDir], secrets)).toEqual([]);
    expect(filesUnder(dataDir).some((f) => f.endsWith('trusted-signers.json'))).toBe(false);
  });

  it('the PSS policy is an admin decision that a damaged policy file cannot loosen', async () => {
    const pkcs1 = await ok<ExchangeExport>('exchange.export', {
      kind: 'registration',
      signingKeyId: signerId,
      keyIds: [transportId],
      algorithm: 'pkcs1',
    });
    expect((await refusal('exchange.setPolicy', { requirePss: true })).code).toBe('VALIDATION');
    expect(await ok('exchange.setPolicy', { requirePss: true, confirm: true })).toMatchObject({
      requirePss: true,
    });
    expect(await verify(pkcs1.text)).toMatchObject({
      code: 'EXCHANGE_ALGORITHM_REFUSED',
      details: { reason: 'algorithm-not-allowed' },
    });
    // Asking for less in the request does not loosen the installation's policy.
    expect(
      (await refusal('exchange.verify', { package: pkcs1.text, signer: signerFpr, requirePss: false })).code,
    ).toBe('EXCHANGE_ALGORITHM_REFUSED');
    writeFileSync(join(dataDir, 'exchange', 'policy.json'), '{"version":1,"requirePss":0}');
    expect((await verify(pkcs1.text)).code).toBe('STORE_CORRUPT');
    expect((await verify(text)).code).toBe('STORE_CORRUPT');
    await ok('exchange.setPolicy', { requirePss: false, confirm: true });
    expect(await ok('exchange.verify', { package: pkcs1.text, signer: signerFpr })).toBeTruthy();
  });

  it('the CLI measures a file before reading it, and exits 1 with the refusal in one line', async () => {
    const big = join(work, 'big.mkmx');
    writeFileSync(big, Buffer.alloc(3 * 1024 * 1024, 0x20));
    const cli = mkmOn(() => ({ dataDir, token }));
    const r = await cli(['exchange', 'verify', big, '--signer', signerFpr]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^mkm: .* is 3145728 bytes; an exchange package is at most 524288\. \[EXCHANGE_TOO_LARGE\]\n$/,
    );
    const usage = await cli(['exchange', 'verify', join(work, 'announce.mkmx'), '--expect', 'nonsense']);
    expect(usage.code).toBe(2);
    expect(readFileSync(join(work, 'announce.mkmx'), 'utf8')).toContain('"format": "mkm-exchange"');
  });
});

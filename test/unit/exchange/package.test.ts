import { constants, createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExchangePackage, UnsignedExchangePackage } from '../../../shared/contract/exchange.std';
import { MkmError } from '../../../shared/errors.std';
import { canonicalJson } from '../../../shared/formats/canonical-json.std';
import {
  checkContents,
  checkKinds,
  checkSignature,
  packageText,
  parsePackage,
  signedBytes,
} from '../../../electron/gateway/exchange/package.nodejs';
import {
  ExchangePolicyStore,
  SeenPackagesStore,
  type SeenPackage,
} from '../../../electron/gateway/exchange/stores.nodejs';

/**
 * The format on its own, with keys made by node:crypto (the token is the integration tests'
 * business): each check refuses with its own code, and a signature made by a plain RSA
 * implementation over the canonical bytes is accepted.
 */
const pair = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const signerKeys = pair();
const itemKeys = pair();
const pemOf = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;
const fpr = (k: KeyObject) =>
  createHash('sha256')
    .update(k.export({ type: 'spki', format: 'der' }))
    .digest('hex');

function unsigned(overrides: Partial<UnsignedExchangePackage> = {}): UnsignedExchangePackage {
  return {
    format: 'mkm-exchange',
    version: 2,
    id: randomUUID(),
    purpose: 'registration-request',
    created: new Date().toISOString(),
    expires: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    producer: { app: 'mkm', appVersion: '0.0.0-test', osUser: 'tester', token: { serial: '1', label: 't' } },
    items: [
      {
        kind: 'registration-request',
        keyId: 'aa01',
        label: 'transport',
        bits: 2048,
        publicKeyPem: pemOf(itemKeys.publicKey),
        spkiSha256: fpr(itemKeys.publicKey),
        wrapping: 'RSAES-OAEP-SHA1',
      },
    ],
    signer: {
      keyId: 'bb02',
      label: 'signer',
      spkiPem: pemOf(signerKeys.publicKey),
      spkiSha256: fpr(signerKeys.publicKey),
    },
    ...overrides,
  };
}

const rsaSign = (data: Buffer, pss: boolean, key = signerKeys.privateKey) =>
  sign(
    'sha256',
    data,
    pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : key,
  ).toString('base64');

function signed(u: UnsignedExchangePackage, pss = true, key = signerKeys.privateKey): ExchangePackage {
  const alg = pss ? 'RSASSA-PSS-SHA256' : 'RSASSA-PKCS1-v1_5-SHA256';
  return { ...u, signature: { alg, value: rsaSign(signedBytes({ ...u, signature: { alg } }), pss, key) } };
}

function refusal(fn: () => unknown): MkmError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MkmError);
    return error as MkmError;
  }
  throw new Error('expected a refusal');
}

const full = (text: string) => {
  const pkg = parsePackage(text);
  checkSignature(pkg);
  checkContents(pkg);
  return pkg;
};

describe('exchange package format', () => {
  it('accepts PSS and PKCS#1 v1.5 signatures made by node:crypto over the canonical bytes', () => {
    expect(full(packageText(signed(unsigned()))).purpose).toBe('registration-request');
    expect(full(packageText(signed(unsigned(), false))).signature.alg).toBe('RSASSA-PKCS1-v1_5-SHA256');
  });

  it('does not care about layout or member order, only content', () => {
    const pkg = signed(unsigned());
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(pkg).reverse()));
    expect(() => full(reordered)).not.toThrow();
  });

  it('refuses, each with its own code: not JSON, wrong format, unknown version, unknown or missing member', () => {
    const text = packageText(signed(unsigned()));
    expect(refusal(() => parsePackage(text.slice(0, text.length / 2))).code).toBe('EXCHANGE_NOT_JSON');
    expect(refusal(() => parsePackage('{"format":"other"}')).code).toBe('EXCHANGE_FORMAT_INVALID');
    expect(refusal(() => parsePackage('[1]')).code).toBe('EXCHANGE_FORMAT_INVALID');
    expect(refusal(() => parsePackage(text.replace('"version": 2', '"version": 3'))).code).toBe(
      'EXCHANGE_VERSION_UNSUPPORTED',
    );
    const extra = { ...JSON.parse(text), comment: 'hi' };
    const e = refusal(() => parsePackage(JSON.stringify(extra)));
    expect(e.code).toBe('EXCHANGE_FORMAT_INVALID');
    expect(e.details?.reason).toBe('schema');
    const { signer: _s, ...missing } = JSON.parse(text);
    expect(refusal(() => parsePackage(JSON.stringify(missing))).code).toBe('EXCHANGE_FORMAT_INVALID');
    expect(refusal(() => parsePackage(' '.repeat(512 * 1024 + 1))).code).toBe('EXCHANGE_TOO_LARGE');
  });

  it('refuses a changed item, a flipped signature bit, and another key posing as the signer', () => {
    const pkg = signed(unsigned());
    const changed = structuredClone(pkg);
    (changed.items[0] as { label: string }).label = 'other';
    expect(refusal(() => full(packageText(changed))).code).toBe('EXCHANGE_SIGNATURE_INVALID');

    const flipped = structuredClone(pkg);
    const sig = Buffer.from(flipped.signature.value, 'base64');
    sig[10] = sig[10]! ^ 0x01;
    flipped.signature.value = sig.toString('base64');
    expect(refusal(() => full(packageText(flipped))).code).toBe('EXCHANGE_SIGNATURE_INVALID');

    const other = pair();
    const swapped = structuredClone(pkg);
    swapped.signer.spkiPem = pemOf(other.publicKey);
    swapped.signer.spkiSha256 = fpr(other.publicKey);
    expect(refusal(() => full(packageText(swapped))).code).toBe('EXCHANGE_SIGNATURE_INVALID');
    // Only the PEM swapped: the stated fingerprint no longer names it.
    const half = structuredClone(pkg);
    half.signer.spkiPem = pemOf(other.publicKey);
    expect(refusal(() => full(packageText(half))).code).toBe('EXCHANGE_ITEM_MISMATCH');
  });

  it('refuses a signed item whose fingerprint is not its PEM, an expired package, and stray item kinds', () => {
    const wrongFpr = unsigned();
    (wrongFpr.items[0] as { spkiSha256: string }).spkiSha256 = fpr(signerKeys.publicKey);
    const e = refusal(() => full(packageText(signed(wrongFpr))));
    expect(e.code).toBe('EXCHANGE_ITEM_MISMATCH');
    expect(e.details?.reason).toBe('item-fingerprint-mismatch');

    const expired = unsigned({ expires: new Date(Date.now() - 1000).toISOString() });
    expect(refusal(() => full(packageText(signed(expired)))).code).toBe('EXCHANGE_EXPIRED');

    const stray = unsigned({ purpose: 'key-announcement' });
    expect(refusal(() => full(packageText(signed(stray)))).code).toBe('EXCHANGE_KIND_REFUSED');

    const pkg = parsePackage(packageText(signed(unsigned())));
    expect(refusal(() => checkKinds(pkg, 'gateway-key')).details?.reason).toBe('unexpected-purpose');
  });

  it('refuses a signer key below 2048 bits', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const u = unsigned({
      signer: {
        keyId: 'cc03',
        label: 'weak',
        spkiPem: pemOf(small.publicKey),
        spkiSha256: fpr(small.publicKey),
      },
    });
    const e = refusal(() => full(packageText(signed(u, false, small.privateKey))));
    expect(e.code).toBe('EXCHANGE_FORMAT_INVALID');
    expect(e.details?.reason).toBe('public-key-invalid');
  });

  it('signs the algorithm: the signed bytes name it, and differ between PSS and PKCS#1 v1.5', () => {
    const u = unsigned();
    const pss = signedBytes({ ...u, signature: { alg: 'RSASSA-PSS-SHA256' } }).toString('utf8');
    const v15 = signedBytes({ ...u, signature: { alg: 'RSASSA-PKCS1-v1_5-SHA256' } }).toString('utf8');
    expect(pss).toContain('"signature":{"alg":"RSASSA-PSS-SHA256"}');
    expect(v15).toContain('"signature":{"alg":"RSASSA-PKCS1-v1_5-SHA256"}');
    // The value itself is never part of what it signs.
    const pkg = signed(u);
    expect(signedBytes(pkg).toString('utf8')).toBe(pss);
    expect(signedBytes(pkg).toString('utf8')).not.toContain(pkg.signature.value);
  });

  it('refuses a signature over the bytes without the algorithm (format 1 signing), whichever algorithm it states', () => {
    const u = unsigned();
    const oldBytes = Buffer.from(canonicalJson(u), 'utf8');
    for (const pss of [true, false]) {
      const pkg: ExchangePackage = {
        ...u,
        signature: {
          alg: pss ? 'RSASSA-PSS-SHA256' : 'RSASSA-PKCS1-v1_5-SHA256',
          value: rsaSign(oldBytes, pss),
        },
      };
      expect(refusal(() => full(packageText(pkg))).code).toBe('EXCHANGE_SIGNATURE_INVALID');
    }
  });

  it('refuses a package whose stated algorithm was swapped, both ways', () => {
    const pss = signed(unsigned());
    const toV15 = { ...pss, signature: { ...pss.signature, alg: 'RSASSA-PKCS1-v1_5-SHA256' as const } };
    expect(refusal(() => full(packageText(toV15))).code).toBe('EXCHANGE_SIGNATURE_INVALID');
    const v15 = signed(unsigned(), false);
    const toPss = { ...v15, signature: { ...v15.signature, alg: 'RSASSA-PSS-SHA256' as const } };
    expect(refusal(() => full(packageText(toPss))).code).toBe('EXCHANGE_SIGNATURE_INVALID');
  });

  it('a policy can require PSS: PKCS#1 v1.5 is then refused before its signature is even checked', () => {
    const v15 = parsePackage(packageText(signed(unsigned(), false)));
    expect(() => checkSignature(v15)).not.toThrow();
    expect(() => checkSignature(v15, { requirePss: false })).not.toThrow();
    const e = refusal(() => checkSignature(v15, { requirePss: true }));
    expect(e).toMatchObject({
      code: 'EXCHANGE_ALGORITHM_REFUSED',
      details: { reason: 'algorithm-not-allowed', alg: 'RSASSA-PKCS1-v1_5-SHA256' },
    });
    expect(() =>
      checkSignature(parsePackage(packageText(signed(unsigned()))), { requirePss: true }),
    ).not.toThrow();
  });

  it('refuses a format 1 package with the version code and a hint to export it again', () => {
    const v1 = { ...signed(unsigned()), version: 1 };
    const e = refusal(() => parsePackage(JSON.stringify(v1)));
    expect(e).toMatchObject({
      code: 'EXCHANGE_VERSION_UNSUPPORTED',
      details: { reason: 'unsupported-version', version: 1, supported: 2 },
    });
    expect(e.message).toMatch(/export it again/);
  });

  it('refuses a package without an expiry, and one that would live longer than 366 days', () => {
    const { expires: _e, ...rest } = signed(unsigned());
    const e = refusal(() => parsePackage(JSON.stringify(rest)));
    expect(e).toMatchObject({ code: 'EXCHANGE_FORMAT_INVALID', details: { reason: 'expires-missing' } });
    const long = unsigned({ expires: new Date(Date.now() + 367 * 86_400_000).toISOString() });
    expect(refusal(() => full(packageText(signed(long)))).details?.reason).toBe('lifetime-too-long');
    const year = unsigned({ expires: new Date(Date.now() + 366 * 86_400_000).toISOString() });
    expect(() => full(packageText(signed(year)))).not.toThrow();
  });
});

describe('exchange stores: seen package ids and the signature policy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mkm-seen-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const t0 = new Date('2026-12-01T10:00:00Z');
  const entry = (id: string, expires: Date): SeenPackage => ({
    id,
    purpose: 'gateway-key',
    expires: expires.toISOString(),
    importedAt: t0.toISOString(),
    packageSha256: 'ab'.repeat(32),
  });
  const days = (n: number) => new Date(t0.getTime() + n * 86_400_000);

  it('claims an id once: a second claim is a replay, naming when it was imported; a released id can be claimed again', () => {
    const seen = new SeenPackagesStore(join(dir, 'a'));
    const id = randomUUID();
    seen.claim(entry(id, days(7)), t0);
    const e = refusal(() => seen.claim(entry(id, days(7)), t0));
    expect(e).toMatchObject({
      code: 'EXCHANGE_REPLAYED',
      details: { packageId: id, importedAt: t0.toISOString() },
    });
    // Another store over the same folder (another process) sees the claim too.
    expect(refusal(() => new SeenPackagesStore(join(dir, 'a')).claim(entry(id, days(7)), t0)).code).toBe(
      'EXCHANGE_REPLAYED',
    );
    seen.release(id);
    expect(() => seen.claim(entry(id, days(7)), t0)).not.toThrow();
  });

  it('keeps an id until a day after its package expired, then forgets it (bounded)', () => {
    const seen = new SeenPackagesStore(join(dir, 'b'));
    const id = randomUUID();
    seen.claim(entry(id, days(7)), t0);
    // Still remembered just inside the grace day.
    expect(refusal(() => seen.claim(entry(id, days(7)), days(7.9))).code).toBe('EXCHANGE_REPLAYED');
    seen.claim(entry(randomUUID(), days(30)), days(8.1));
    expect(readdirSync(seen.dir)).toHaveLength(1);
    expect(seen.find(id)).toBeNull();
  });

  it('refuses rather than forgets when full of unexpired ids, and counts a damaged entry as claimed', () => {
    const seen = new SeenPackagesStore(join(dir, 'c'), 2);
    seen.claim(entry(randomUUID(), days(7)), t0);
    const damaged = randomUUID();
    writeFileSync(join(seen.dir, `${damaged}.json`), '{not json');
    expect(refusal(() => seen.claim(entry(randomUUID(), days(7)), t0))).toMatchObject({
      code: 'EXCHANGE_SEEN_STORE_FULL',
      details: { live: 2, limit: 2 },
    });
    const roomy = new SeenPackagesStore(join(dir, 'c'), 10);
    expect(refusal(() => roomy.claim(entry(damaged, days(7)), t0)).code).toBe('EXCHANGE_REPLAYED');
  });

  it('stores the PSS policy; no file means both accepted, a damaged file is an error, not the default', () => {
    const store = new ExchangePolicyStore(join(dir, 'd'));
    expect(store.get()).toEqual({ requirePss: false, changedAt: null, changedBy: null });
    store.set(true, t0.toISOString(), 'admin');
    expect(new ExchangePolicyStore(join(dir, 'd')).get()).toEqual({
      requirePss: true,
      changedAt: t0.toISOString(),
      changedBy: 'admin',
    });
    writeFileSync(store.file, '{"version":1,"requirePss":"no"}');
    expect(refusal(() => store.get()).code).toBe('STORE_CORRUPT');
  });
});
